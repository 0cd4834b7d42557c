#if canImport(Glibc)
import Glibc
#endif

/// How a supervised worker process ended.
public enum ChildExit: Sendable, Hashable, CustomStringConvertible {
    case code(Int32)
    case signal(Int32)

    public var description: String {
        switch self {
        case .code(let c): "exit \(c)"
        case .signal(let s): "signal \(s)\(s == SIGKILL ? " (SIGKILL)" : s == SIGSEGV ? " (SIGSEGV)" : s == SIGILL || s == SIGTRAP ? " (a Swift runtime trap)" : "")"
        }
    }
}

/// When the supervisor restarts a worker process, and when it stops trying.
/// Pure: fed how a process ended and how long it lived, it decides.
public struct RestartPolicy: Sendable {
    public enum Decision: Sendable, Hashable {
        case restart(after: Double)
        case giveUp(String)
    }

    /// A process that crashed sooner than this after it started counts as a fast crash.
    public var fastRun = 2.0
    /// Fast crashes in a row after which the slot is given up.
    public var maxFastCrashes = 5
    /// A process that ran at least this long starts the count afresh.
    public var healthyRun = 10.0
    public var baseDelay = 0.1
    public var maxDelay = 5.0

    public init() {}

    /// The decision for one exit; `fastCrashes` is the slot's count so far, updated.
    ///
    /// - exit 0 (a drain: `--max-tasks` recycling): at once (after 1 s if it lived under
    ///   `fastRun`), count reset.
    /// - exit 2 (bad input: a key, a flag): never; restarting cannot help.
    /// - any other exit or signal: after a delay doubling with each fast crash in a
    ///   row (0.1 s, 0.2 s, ... 5 s); the slot is given up after `maxFastCrashes`.
    ///   SIGKILL (an operator, the OOM killer, a chaos test) is restarted but never
    ///   counted towards giving up.
    public func decide(_ exit: ChildExit, lived: Double, fastCrashes: inout Int) -> Decision {
        if lived >= healthyRun { fastCrashes = 0 }
        switch exit {
        case .code(0):
            fastCrashes = 0
            // A drain that took a moment: at once; one that exits as soon as it starts: not in a tight loop.
            return .restart(after: lived < fastRun ? 1 : 0)
        case .code(2):
            return .giveUp("it exited 2 (bad input: see its error above); restarting it cannot help")
        case .signal(SIGKILL):
            return .restart(after: baseDelay)
        default:
            if lived < fastRun { fastCrashes += 1 }
            if fastCrashes >= maxFastCrashes {
                return .giveUp("it crashed \(fastCrashes) times in a row within \(Int(fastRun)) s of starting (last: \(exit))")
            }
            let delay = baseDelay * Double(1 << min(fastCrashes, 20))
            return .restart(after: min(maxDelay, delay))
        }
    }
}
