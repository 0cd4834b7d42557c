import Synchronization

/// Where the transport's I/O thread hands received batches: held, in order, until the loop
/// begins; then straight to it; after it ends, dropped.
public final class InboundRouter: Sendable {
    private enum Mode {
        case early
        case direct(@Sendable ([InboundMessage]) -> Void)
        case closed
    }
    public init() {}

    private let state = Mutex<(mode: Mode, early: [[InboundMessage]])>((.early, []))

    /// Called on the I/O thread for every received batch.
    public func route(_ batch: [InboundMessage]) {
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
    public func begin(_ setup: ([[InboundMessage]]) -> Void, direct: @escaping @Sendable ([InboundMessage]) -> Void) {
        state.withLock { s in
            setup(s.early)
            s.early = []
            s.mode = .direct(direct)
        }
    }

    /// The loop is over: later batches are dropped.
    public func close() { state.withLock { $0.mode = .closed } }
}
