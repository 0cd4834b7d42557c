import Foundation
import RoutiluxTransport
import RoutiluxWire
import Synchronization

/// What the coordinator's loop owns: the core and the shell's own bookkeeping. Used under
/// `CoordinatorService`'s lock only, by one thread at a time.
final class LoopState {
    let core: CoordinatorCore
    let codec = WireCodec()
    var trimmed = (finished: 0, at: Date())
    var waiting: [UInt64: CheckedContinuation<ControlReply, Never>] = [:]
    var links = ReplyLinks()
    var fingerprints: [String: String] = [:]
    /// Actions that wait for the commit of the turns that decided them, and those of the commit in flight.
    var uncommitted: [CoordinatorAction] = []
    var committingActions: [CoordinatorAction] = []
    var committing = false
    var stopping = false
    var lastCommit = Date.distantPast
    /// The loop is over: stopped with nothing left to commit, or the journal failed.
    var finished = false

    init(core: CoordinatorCore) { self.core = core }
}
