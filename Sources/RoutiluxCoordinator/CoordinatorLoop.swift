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

/// Where the transport's I/O thread hands received batches: held, in order, until the loop
/// begins; then straight to it; after it ends, dropped.
final class InboundRouter: Sendable {
    private enum Mode {
        case early
        case direct(@Sendable ([InboundMessage]) -> Void)
        case closed
    }
    private let state = Mutex<(mode: Mode, early: [[InboundMessage]])>((.early, []))

    /// Called on the I/O thread for every received batch.
    func route(_ batch: [InboundMessage]) {
        state.withLock { s in
            switch s.mode {
            case .early: s.early.append(batch)
            case .direct(let handle): handle(batch)
            case .closed: break
            }
        }
    }

    /// Starts the loop: `setup` gets what came before (no batch is handled meanwhile), then
    /// every batch goes to `direct` as it arrives.
    func begin(_ setup: ([[InboundMessage]]) -> Void, direct: @escaping @Sendable ([InboundMessage]) -> Void) {
        state.withLock { s in
            setup(s.early)
            s.early = []
            s.mode = .direct(direct)
        }
    }

    /// The loop is over: later batches are dropped.
    func close() { state.withLock { $0.mode = .closed } }
}
