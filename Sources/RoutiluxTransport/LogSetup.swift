import Logging
import Synchronization

/// swift-log set up once per process: stderr, at the given level name
/// (trace, debug, info, notice, warning, error, critical; unknown names mean `fallback`).
public enum LogSetup {
    private static let done = Atomic<Bool>(false)

    /// Safe to call more than once (a second `LoggingSystem.bootstrap` would trap).
    public static func bootstrap(level name: String, fallback: Logger.Level = .info) {
        guard !done.exchange(true, ordering: .relaxed) else { return }
        let level = Logger.Level(rawValue: name) ?? fallback
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
    }
}
