import DequeModule
import Foundation
import Logging
import RoutiluxCore
import RoutiluxTransport
import RoutiluxWire
import Synchronization

/// Why a worker stopped for good.
public struct WorkerError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// A worker process's engine: binds its task inbox, joins the coordinator
/// (retrying with backoff until it answers), runs tasks up to `concurrency`
/// at once and sends their results, heartbeats, and re-joins if the
/// coordinator goes silent.
///
/// Its loop (`WorkerLoop`) runs on the transport's I/O thread, where messages arrive; this
/// shell starts it, hands it ticks, stops and drains from its own task, and, once it is over,
/// stops what still runs and leaves.
public final class WorkerRuntime: Sendable {
    public let options: WorkerOptions
    private let registry: RoutineRegistry
    private let logger: Logger
    private let transport: Transport
    private let inputs: AsyncStream<WorkerInput>
    private let inputContinuation: AsyncStream<WorkerInput>.Continuation
    private let router: InboundRouter
    /// The loop (nil until `run()` builds it). Once it has begun only the transport's I/O thread
    /// uses it (the lock proves as much to the compiler; it is not contended); after the transport
    /// shut down, a late activation's answer finds it over, or gone, on that activation's thread.
    private let loop = Mutex<WorkerLoop?>(nil)
    private let loopOver = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let doneCount = Atomic<Int>(0)
    private let leftDrained = Atomic<Bool>(false)
    /// Whether the last `run()` ended by a clean drain (every held task finished and answered).
    public var drainedCleanly: Bool { leftDrained.load(ordering: .relaxed) }

    public init(registry: RoutineRegistry, options: WorkerOptions, logger: Logger = Logger(label: "routilux.worker")) {
        self.registry = registry
        self.options = options
        self.logger = logger
        let (inputs, inputContinuation) = AsyncStream.makeStream(of: WorkerInput.self, bufferingPolicy: .unbounded)
        self.inputs = inputs
        self.inputContinuation = inputContinuation
        // Received batches go to the loop on the I/O thread (held back until it runs).
        let router = InboundRouter()
        self.router = router
        transport = Transport(name: "worker", limits: TransportLimits(maxMessageBytes: options.maxMessageBytes), tracksBacklog: true) { batch in
            router.route(batch)
        }
    }

    /// Asks the worker to leave: it tells the coordinator (which re-queues
    /// unfinished tasks) and closes its sockets.
    public func stop() { inputContinuation.yield(.stop) }

    /// Drains: tells the coordinator to send nothing more, finishes the tasks
    /// it holds (sending their results) within `timeout` seconds, then leaves.
    /// At the timeout, or at `stop()`, what still runs is stopped (its Exec
    /// process groups killed) and the coordinator re-queues it on LEAVE.
    public func drain(timeout: Double, why: String = "SIGTERM") { inputContinuation.yield(.drain(timeout, why: why)) }

    /// Tasks finished (answered) so far; `WorkerOptions.maxTasks` recycles the process at that count.
    public var tasksDone: Int { doneCount.load(ordering: .relaxed) }

    /// Runs until `stop()` (or until the task running it is cancelled, which stops it the same
    /// way), or throws if the coordinator refuses this worker. Call once.
    public func run() async throws {
        guard !started.exchange(true, ordering: .relaxed) else { throw WorkerError(description: "this worker already ran") }
        // With keys the inbox is a CURVE client of the coordinator's key: nobody
        // else can complete a handshake with it, so nobody else can put a TASK in.
        let curve = options.keys?.setting
        let bound = try await transport.bindInbox(options.bind ?? options.defaultBind, options: SocketOptions.standard.with(curve))
        let endpoint = options.advertise ?? advertisable(bound)
        let link = SocketOptions.lingering.with(curve).batched(WorkerLoop.batching(options.maxMessageBytes))
        transport.connect(peer: "coordinator", endpoint: options.coordinator, options: link)
        logger.info("worker \(options.workerId) inbox \(bound) (advertised as \(endpoint)); joining \(options.coordinator)")

        let ticker = Task { [inputContinuation] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                inputContinuation.yield(.tick)
            }
        }
        defer { ticker.cancel() }

        loop.withLock { box in
            box = WorkerLoop(
                options: options, registry: registry, logger: logger, transport: transport, link: link, endpoint: endpoint,
                deliver: { [weak self] input in
                    guard let self else { return }
                    transport.call { [self] in step(input) }
                },
                doneCount: { [weak self] in self?.doneCount.load(ordering: .relaxed) ?? 0 },
                countDone: { [weak self] in _ = self?.doneCount.add(1, ordering: .relaxed) })
        }
        // What was received before the loop existed first, in order; then every batch as it arrives.
        transport.call { [self] in
            router.begin({ early in
                for batch in early { step(.inbound(batch)) }
            }, direct: { [weak self] batch in self?.step(.inbound(batch)) })
        }
        var pending = inputs.makeAsyncIterator()
        await withTaskCancellationHandler {
            while !loopOver.load(ordering: .acquiring), let input = await pending.next() {
                if case .wake = input { continue }
                transport.call { [self] in step(input) }
            }
        } onCancel: { [weak self] in
            // The stream ends for a cancelled task: the loop is stopped as by `stop()`.
            guard let self else { return }
            transport.call { [self] in step(.stop) }
        }
        router.close()
        ticker.cancel()
        // The loop is over (it handles nothing more): what it leaves behind, taken on its thread.
        let (running, token, leaveReason, failure) = await withCheckedContinuation {
            (c: CheckedContinuation<([Task<Void, Never>], String, String, WorkerError?), Never>) in
            transport.call { [self] in
                c.resume(returning: loop.withLock { box in
                    guard let st = box else { return ([], "", "worker stopping", nil) }
                    // Ended whichever way the stream did (a cancelled task's ends early): nothing more
                    // is started or answered, and attempts still streaming send no more parts.
                    st.end()
                    return (Array(st.activations.values), st.token, st.leaveReason, st.failure)
                })
            }
        }
        // Stop what is running here, and what it started, before leaving: the coordinator
        // re-queues it on LEAVE, and it must not run twice at once.
        if !running.isEmpty {
            logger.info("stopping \(running.count) running handler(s)")
            for t in running { t.cancel() }
            // Whichever comes first: all of them ended, or 3 s (a handler that ignores
            // cancellation is left behind; awaiting a task cannot be cancelled).
            let first = FirstOnly()
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                Task {
                    for t in running { await t.value }
                    if first.claim() { c.resume() }
                }
                Task {
                    try? await Task.sleep(for: .seconds(3))
                    if first.claim() { c.resume() }
                }
            }
        }
        if failure == nil {
            transport.send(to: "coordinator", frames: WireCodec().encode(.leave(LeaveMessage(workerId: options.workerId, reason: leaveReason, token: token))))
        }
        leftDrained.store(leaveReason == "drained", ordering: .relaxed)
        await transport.shutdown()
        loop.withLock { $0 = nil }
        if let failure { throw failure }
    }

    /// An input, on the I/O thread: received batches as they arrive, the rest handed there.
    private func step(_ input: WorkerInput) {
        let ended = loop.withLock { box -> Bool in
            guard let st = box else {
                if case .inbound(let batch) = input { transport.consumed(batch) }
                return false
            }
            let wasOver = st.over
            st.handle(input)
            return !wasOver && st.over
        }
        // Over: the run task, waiting on its stream, is told to look.
        if ended {
            loopOver.store(true, ordering: .releasing)
            inputContinuation.yield(.wake)
        }
    }
}

/// True for the first caller only.
private final class FirstOnly: Sendable {
    private let taken = Atomic<Bool>(false)
    func claim() -> Bool { !taken.exchange(true, ordering: .relaxed) }
}
