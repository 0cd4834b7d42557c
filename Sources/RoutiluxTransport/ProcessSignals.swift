import Dispatch
import Foundation

/// Turns SIGINT and SIGTERM into a callback, off the Swift concurrency pool.
/// (CZMQ's own handler is disabled; this is the process's only one.)
public enum ProcessSignals {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    /// Calls `handler` on the first SIGINT or SIGTERM. Call once, early.
    public static func onTerminate(_ handler: @escaping @Sendable (Int32) -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { handler(sig) }
            s.resume()
            sources.append(s)
        }
    }
}
