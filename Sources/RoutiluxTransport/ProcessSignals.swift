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

    /// Calls `handler` on every SIGHUP (off the concurrency pool). Call once, early.
    public static func onHangUp(_ handler: @escaping @Sendable () -> Void) {
        signal(SIGHUP, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        s.setEventHandler { handler() }
        s.resume()
        sources.append(s)
    }
}

/// Raises this process's soft limit on open files towards its hard limit (at
/// most 65,536, which the commands it starts inherit): workers run many
/// commands at once, each holding a few pipes while it starts, and running out
/// of descriptors must not be what stops them.
public func raiseOpenFileLimit() {
    #if os(Linux)
    let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    let resource = RLIMIT_NOFILE
    #endif
    var limit = rlimit()
    guard getrlimit(resource, &limit) == 0 else { return }
    let wanted = min(limit.rlim_max, 65_536)
    guard limit.rlim_cur < wanted else { return }
    limit.rlim_cur = wanted
    _ = setrlimit(resource, &limit)
}
