import Foundation
import Synchronization

/// Whether this process may run `Exec` routines. Off unless the worker was
/// started with `--allow-exec` (`routilux run` turns it on for its own local
/// workers): a flow sent to a coordinator must not run commands on every worker by default.
public enum ExecPermission {
    private static let allowed = Atomic<Bool>(ProcessInfo.processInfo.environment["ROUTILUX_ALLOW_EXEC"] == "1")
    public static var isAllowed: Bool { allowed.load(ordering: .relaxed) }
    public static func allow() { allowed.store(true, ordering: .relaxed) }
}
