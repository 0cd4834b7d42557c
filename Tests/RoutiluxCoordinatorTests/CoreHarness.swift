import RoutiluxBuiltins
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxStore
import RoutiluxWire
import Testing

/// Drives a `CoordinatorCore` by hand: fake workers join, tasks are read off
/// the actions, results are written by the test. Time is a number the test moves.
final class CoreHarness {
    let core: CoordinatorCore
    var now = 1_000.0
    /// Every message sent to a worker, in order.
    var sent: [(worker: String, message: WireMessage)] = []
    var replies: [(target: ReplyTarget, reply: ControlReply)] = []
    var finished: [(job: String, status: JobStatus)] = []
    var logs: [String] = []
    /// Times the core asked to be woken at.
    var wakeups: [Double] = []
    private var delivered = 0
    private var nextReply: UInt64 = 1
    private let ids: JobIds
    private let extraTypeNames: [String]
    /// With a store: every turn's journal is committed to it after the turn (as the shell does).
    var store: JobStore?
    /// Off: the next turns are not committed (a crash before their commit; their actions never left).
    var committing = true

    /// `allowUnknownTypes`: the flow may use types only joining workers will describe.
    init(
        flow yaml: String, workerTimeoutMs: Int = 5000, finishedJobsKept: Int = 1000, extraTypes: [RoutineType] = [],
        allowUnknownTypes: Bool = false, store: JobStore? = nil, restoring: StoredState? = nil, jobIdStart: Int = 0,
        configure: (inout CoordinatorConfig) -> Void = { _ in }
    ) throws {
        self.store = store
        var registry = Builtins.registry
        for t in extraTypes { registry.register(t) }
        let catalogue = registry.catalogue
        let ids = JobIds(from: jobIdStart)
        self.ids = ids
        extraTypeNames = extraTypes.map(\.name)
        var config = CoordinatorConfig(
            coordinatorId: "test-coordinator", heartbeatMs: 1000, workerTimeoutMs: workerTimeoutMs, finishedJobsKept: finishedJobsKept)
        // Time here moves without heartbeats; the rule has its own test.
        config.holdBackQuietWorkers = false
        configure(&config)
        core = CoordinatorCore(
            config: config,
            catalogue: catalogue,
            jobIds: { ids.next() }, durable: store != nil)
        let doc = try FlowLoader.parseDocument(Array(yaml.utf8), isJSON: false, file: nil)
        core.addFlow(try FlowLoader.build(doc, file: nil, defaultFlowId: "test", catalogue: catalogue, allowUnknownTypes: allowUnknownTypes))
        if let restoring {
            let actions = core.restore(restoring, now: now)
            record(actions)
            try commit()
            serveReadBacks(actions)
        }
    }

    func commit() throws {
        if let store, committing, let batch = core.takeJournal() { try store.commitNow(batch) }
    }

    /// Worker messages fed with an empty session token get the one JOINED gave
    /// that worker (a real worker always sends it); a test forging one sets its own.
    var stampTokens = true

    @discardableResult
    func feed(_ input: CoordinatorInput) -> [CoordinatorAction] {
        var input = input
        if stampTokens, case .message(let m, let peer) = input { input = .message(stamp(m), peer: peer) }
        let actions = core.handle(input, now: now)
        if store != nil && !committing {
            _ = core.takeJournal()  // lost with the process: nothing of the turn was carried out
            return actions
        }
        try! commit()
        record(actions)
        serveReadBacks(actions)
        return actions
    }

    /// Spilled queues come back as the shell would bring them, after the commit.
    func serveReadBacks(_ actions: [CoordinatorAction]) {
        for a in actions {
            switch a {
            case .readQueued(let id, let run, let lane, let after, let limit):
                guard let store else { continue }
                readBacks += 1
                let rows = try? store.queuedTasksNow(jobId: id, lane: lane, after: after, limit: limit)
                feed(.queuedRead(jobId: id, run: run, lane: lane, limit: limit, rows: rows))
            case .readStaged(let id, let run, let taskId, let attempt, let from, let count):
                guard let store else { continue }
                let parts = try? store.stagedPartsNow(taskId: taskId, attempt: attempt, from: from, count: count)
                feed(.stagedRead(jobId: id, run: run, taskId: taskId, from: from, parts: parts))
            default: continue
            }
        }
    }

    /// Read-backs of spilled queues carried out.
    var readBacks = 0

    func record(_ actions: [CoordinatorAction]) {
        for a in actions {
            switch a {
            case .send(let w, let m): sent.append((w, m))
            case .notify(_, _, let m):
                if case .reject(let r) = m { sent.append((r.workerId, m)) }
            case .reply(let t, let r): replies.append((t, r))
            case .jobFinished(let j, let s): finished.append((j, s))
            case .log(_, let text): logs.append(text)
            case .wakeAt(let t): wakeups.append(t)
            case .connectWorker, .disconnectWorker, .lookUp, .readQueued, .readStaged: break
            }
        }
    }

    /// The session token the last JOINED to `worker` carried.
    func token(_ worker: String) -> String {
        for s in sent.reversed() where s.worker == worker {
            if case .joined(let j) = s.message { return j.token }
        }
        return ""
    }

    func stamp(_ m: WireMessage) -> WireMessage {
        switch m {
        case .result(var h, let b) where h.token.isEmpty: h.token = token(h.workerId); return .result(h, bodies: b)
        case .part(var h, let b) where h.token.isEmpty: h.token = token(h.workerId); return .part(h, bodies: b)
        case .credit(var h) where h.token.isEmpty: h.token = token(h.workerId); return .credit(h)
        case .heartbeat(var h) where h.token == nil: h.token = token(h.senderId); return .heartbeat(h)
        case .leave(var h) where h.token.isEmpty: h.token = token(h.workerId); return .leave(h)
        case .described(var h, let p) where h.token.isEmpty: h.token = token(h.workerId); return .described(h, ports: p)
        default: return m
        }
    }

    func join(_ id: String, credit: Int = 8, types: [String]? = nil, session: String = "s1", peer: Sender? = nil) {
        feed(.message(.join(JoinMessage(
            workerId: id, routineTypes: types ?? (Builtins.registry.names + extraTypeNames), capacity: max(1, credit), credit: credit,
            endpoint: "ipc:///tmp/\(id).sock", session: session), catalogue: nil), peer: peer))
    }

    /// A worker that hosts `registry`'s types joins, describing them as a real worker does.
    func join(_ id: String, hosting registry: RoutineRegistry, credit: Int = 8, session: String = "s1") {
        feed(.message(.join(JoinMessage(
            workerId: id, routineTypes: registry.names, capacity: max(1, credit), credit: credit,
            endpoint: "ipc:///tmp/\(id).sock", session: session, catalogue: true), catalogue: RawJSON(registry.catalogue.json())), peer: nil))
    }

    /// Submits a job on the flow; returns its id.
    func submit(_ params: JSONValue = [:], maxWorkers: Int? = nil, flow: String = "test", wait: Bool = false) -> String {
        let target = ReplyTarget.local(nextReply)
        nextReply += 1
        let before = replies.count
        feed(.submit(SubmitRequest(flow: .id(flow), params: RawJSON(params), maxWorkers: maxWorkers, wait: wait), reply: target))
        if wait { return ids.last }
        #expect(replies.count == before + 1, "submit did not reply")
        return replies.last?.reply.jobId ?? "?"
    }

    /// Tasks sent since the last call, in send order.
    func newTasks() -> [Dispatched] {
        defer { delivered = sent.count }
        return sent[delivered...].compactMap { s in
            if case .task(let h, let payload, _, _, _, _) = s.message { return Dispatched(worker: s.worker, header: h, payload: try! payload.value()) }
            return nil
        }
    }

    /// A worker's answer: the given emissions in order, and credit 1 back.
    func complete(_ t: Dispatched, emit: [(String, JSONValue)] = [], outputs: [(String, JSONValue)] = [], credit: Int = 1) {
        let header = ResultMessage(
            workerId: t.worker, jobId: t.header.jobId, taskId: t.header.taskId, attempt: t.header.attempt, outcome: .ok,
            emissions: emit.map(\.0), outputs: outputs.map(\.0), handlerUs: 10, credit: credit)
        feed(.message(.result(header, bodies: emit.map { RawJSON($0.1) } + outputs.map { RawJSON($0.1) }), peer: nil))
    }

    func fail(_ t: Dispatched, error: String, type: String = "RoutineError") {
        let header = ResultMessage(
            workerId: t.worker, jobId: t.header.jobId, taskId: t.header.taskId, attempt: t.header.attempt, outcome: .error,
            error: error, errorType: type)
        feed(.message(.result(header, bodies: []), peer: nil))
    }

    func status(_ job: String) -> JobStatus? { core.jobState(job)?.status }
}

struct Dispatched {
    var worker: String
    var header: TaskMessage
    var payload: JSONValue
    var target: String { "\(header.routineId).\(header.slot)" }
}

/// Predictable job ids: job-1, job-2, ...
final class JobIds {
    private var n: Int
    init(from n: Int = 0) { self.n = n }
    var last: String { "job-\(n)" }
    func next() -> String {
        n += 1
        return last
    }
}
