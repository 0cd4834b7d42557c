import DequeModule
import RoutiluxCore
import RoutiluxTransport
import RoutiluxWire
import Synchronization

/// The worker's `PartSink` for one attempt: its PARTs go to the coordinator with
/// at most `window` of them awaiting their STAGED; parts beyond wait here, as
/// encoded bytes, and a handler calling `waitForRoom()` waits with them.
final class AttemptParts: PartSink {
    let maxEntries: Int
    let maxBytes: Int
    private let window: Int
    private let transport: Transport
    private let template: PartMessage
    private let codec = WireCodec()
    private let messageLimit: Int

    private enum Want { case room, flushed }
    private struct Waiter {
        var want: Want
        var continuation: CheckedContinuation<Void, any Error>
    }
    private struct State {
        /// Parts made, and staged by the coordinator (its STAGED's seq + 1).
        var made = 0
        var staged = 0
        /// Parts waiting for room in the window.
        var queued: Deque<[[UInt8]]> = []
        /// Parts sent and not yet staged, by seq (the newest is sent again if no STAGED comes for a while).
        var unstaged: Deque<(seq: Int, frames: [[UInt8]])> = []
        /// Parts handed to the transport.
        var sent: Int { staged + unstaged.count }
        var lastProgress = ContinuousClock.now
        var stopped = false
        /// Why the attempt cannot be sent whole (a part over the message limit, too many parts): its error.
        var failure: (type: String, message: String)?
        var nextWaiter = 0
        var waiters: [Int: Waiter] = [:]
        func satisfied(_ want: Want, window: Int) -> Bool {
            switch want {
            case .room: queued.isEmpty && unstaged.count < window
            case .flushed: queued.isEmpty
            }
        }

        /// Stops the attempt here: nothing more is sent; returns the waiters, to be woken with an error.
        mutating func halt() -> [CheckedContinuation<Void, any Error>] {
            stopped = true
            queued.removeAll()
            unstaged.removeAll()
            defer { waiters.removeAll() }
            return waiters.values.map(\.continuation)
        }
    }
    private let state: Mutex<State>

    /// `template`: the attempt's ids and token (its seq and lists are set per part).
    init(template: PartMessage, window: Int, messageLimit: Int, transport: Transport) {
        self.template = template
        self.window = max(1, window)
        self.transport = transport
        self.messageLimit = messageLimit
        maxEntries = 1000
        // Well inside the message limit: a part's header lists its event names too.
        maxBytes = max(1024, min(1 << 20, messageLimit / 4))
        state = Mutex(State())
    }

    /// Set when the attempt cannot be sent whole: its error type and message.
    var failure: (type: String, message: String)? { state.withLock { $0.failure } }

    func send(_ part: EmissionPart) {
        var h = template
        h.emissions = part.emissions.map(\.event)
        h.outputs = part.outputs.map(\.type)
        let bodies = part.emissions.map(\.payload) + part.outputs.map(\.data)
        state.withLock { s in
            guard !s.stopped else { return }
            h.seq = s.made
            let frames = codec.encode(.part(h, bodies: bodies))
            let bytes = frames.reduce(0) { $0 + $1.count }
            if bytes > messageLimit {
                // An emission (or output) too big for any message: the attempt fails, its handler is stopped.
                let largest = bodies.map(\.bytes.count).max() ?? 0
                return fail(&s, "PayloadTooLarge", "PayloadTooLarge: part \(s.made) of this activation's emissions is \(bytes) bytes (\(bodies.count) body frame(s), the largest \(largest) bytes), over the \(messageLimit)-byte message limit (--max-message-bytes)")
            }
            if s.made >= WireLimits.maxParts - 1 {
                return fail(&s, "ResultTooLarge", "ResultTooLarge: this activation emitted more than \(WireLimits.maxParts - 1) parts (of up to \(maxEntries) entries each)")
            }
            s.made += 1
            if s.satisfied(.room, window: window) {
                transport.send(to: "coordinator", frames: frames)
                if s.unstaged.isEmpty { s.lastProgress = .now }
                s.unstaged.append((h.seq, frames))
            } else {
                s.queued.append(frames)
            }
        }
    }

    /// The coordinator staged the parts through `seq`: more may go.
    func staged(through seq: Int) {
        let ready = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            guard !s.stopped, seq < s.sent else { return [] }
            s.staged = max(s.staged, seq + 1)
            s.lastProgress = .now
            while let first = s.unstaged.first, first.seq < s.staged { s.unstaged.removeFirst() }
            while s.unstaged.count < window, let frames = s.queued.popFirst() {
                transport.send(to: "coordinator", frames: frames)
                s.unstaged.append((s.sent, frames))
            }
            return takeSatisfied(&s)
        }
        for c in ready { c.resume() }
    }

    /// With parts awaiting their STAGED and none heard for `after`, the newest is sent again (a STAGED
    /// lost on the way would otherwise hold the attempt until its lease): the coordinator answers it
    /// with a STAGED for every part it has, or stages it if it never arrived.
    func resendIfStalled(after: Duration) {
        state.withLock { s in
            guard !s.stopped, let last = s.unstaged.last, ContinuousClock.now - s.lastProgress >= after else { return }
            s.lastProgress = .now
            transport.send(to: "coordinator", frames: last.frames)
        }
    }

    private func fail(_ s: inout State, _ type: String, _ message: String) {
        s.failure = (type, message)
        for c in s.halt() { c.resume(throwing: CancellationError()) }
    }

    /// The attempt is over here (stopped, or answered): waiters are woken with an error, nothing more is sent.
    func stop() {
        for c in state.withLock({ $0.halt() }) { c.resume(throwing: CancellationError()) }
    }

    func waitForRoom() async throws { try await wait(for: .room) }

    /// Returns once every part made has been handed to the transport (the RESULT must follow them).
    func flushed() async throws { try await wait(for: .flushed) }

    private func takeSatisfied(_ s: inout State) -> [CheckedContinuation<Void, any Error>] {
        let ids = s.waiters.filter { s.satisfied($0.value.want, window: window) }.map(\.key)
        return ids.compactMap { s.waiters.removeValue(forKey: $0)?.continuation }
    }

    private func wait(for want: Want) async throws {
        let id: Int? = try state.withLock { s in
            if s.stopped { throw CancellationError() }
            if s.satisfied(want, window: window) { return nil }
            s.nextWaiter += 1
            return s.nextWaiter
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let now: Result<Void, any Error>? = state.withLock { s in
                    if s.stopped || Task.isCancelled { return .failure(CancellationError()) }
                    if s.satisfied(want, window: window) { return .success(()) }
                    s.waiters[id] = Waiter(want: want, continuation: c)
                    return nil
                }
                if let now { c.resume(with: now) }
            }
        } onCancel: {
            let c = state.withLock { $0.waiters.removeValue(forKey: id)?.continuation }
            c?.resume(throwing: CancellationError())
        }
    }
}
