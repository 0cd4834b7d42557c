import DequeModule
import RoutiluxCore
import RoutiluxWire

/// The emission a task delivers: which routine's which event.
struct TaskSource: Sendable, Hashable {
    var routine: String
    var event: String
}

/// One slot activation waiting to run or running.
struct PendingTask: Sendable {
    var taskId: UInt64
    var routineId: String
    var slot: String
    var payload: RawJSON
    var mapping: [[String]]?
    /// Delivery attempt (1 first; +1 per retry and per re-dispatch after a worker loss).
    var attempt: Int
    /// Retries the error policy has granted this activation so far.
    var retries = 0
    /// Times its lease ran out (it was taken back from a worker that did not answer in time).
    var expiries = 0
    /// The worker it was last taken back from: another is preferred for it.
    var avoid: String?
    /// `routine.slot`, the key of the slot's merge state.
    var slotKey: String { routineId + "." + slot }
    /// The emission it delivers; nil for the job's entry task.
    var source: TaskSource?
    /// When it was queued (seconds since 1970).
    var createdAt: Double
    /// Its place in its job's queue order (the journal restores queues by it).
    var position = 0.0

    init(
        taskId: UInt64, routineId: String, slot: String, payload: RawJSON, mapping: [[String]]?, attempt: Int,
        retries: Int = 0, source: TaskSource?, createdAt: Double
    ) {
        self.taskId = taskId
        self.routineId = routineId
        self.slot = slot
        self.payload = payload
        self.mapping = mapping
        self.attempt = attempt
        self.retries = retries
        self.source = source
        self.createdAt = createdAt
    }

    /// The JobState `pending_tasks` entry: routilux's keys, with flow routine
    /// ids (not internal ids) and the job id, so a saved job resumes anywhere.
    func saved(jobId: String) -> JSONValue {
        var o: JSONObject = [
            "job_id": .string(jobId), "slot_routine_id": .string(routineId), "slot_name": .string(slot),
            "data": payload.valueOrError,
            "connection_source_routine_id": source.map { .string($0.routine) } ?? .null,
            "connection_source_event_name": source.map { .string($0.event) } ?? .null,
            "connection_target_routine_id": .string(routineId), "connection_target_slot_name": .string(slot),
            "param_mapping": .object(JSONObject(uniqueKeysWithValues: (mapping ?? []).compactMap { $0.count == 2 ? ($0[0], JSONValue.string($0[1])) : nil })),
            "priority": 2, "retry_count": .int(retries), "attempt": .int(attempt),
            "created_at": .string(Timestamp(seconds: createdAt).iso),
        ]
        if source == nil { o["param_mapping"] = .object([:]) }
        return .object(o)
    }

    /// Rebuilds a task from a saved `pending_tasks` entry, checked against the flow.
    /// The connection's current mapping is used when the entry names one.
    init(saved v: JSONValue, flow: FlowDefinition, taskId: UInt64, now: Double) throws(RoutineError) {
        guard let rid = v["slot_routine_id"].stringValue, let slot = v["slot_name"].stringValue else {
            throw RoutineError("needs slot_routine_id and slot_name")
        }
        guard flow.routine(rid) != nil else {
            var why = "routine '\(rid)' is not in flow '\(flow.flowId)' (routines: \(flow.routines.map(\.id).joined(separator: ", ")))"
            if rid.hasPrefix("0x") {
                why += "; routilux 0.10 saved its internal routine ids instead of flow ids in pending_tasks, so its paused jobs cannot be matched to routines (see docs/routilux-0.10-bugs.md, item 2)"
            }
            throw RoutineError(why)
        }
        guard case .object = v["data"] else { throw RoutineError("data must be a JSON object") }
        var source: TaskSource?
        var mapping: [[String]]?
        if let sr = v["connection_source_routine_id"].stringValue, let se = v["connection_source_event_name"].stringValue {
            source = TaskSource(routine: sr, event: se)
            if se.hasPrefix("timer:") && sr == rid {
                // A routine's own timer: no connection carries it.
            } else if let c = flow.targets(of: sr, event: se).first(where: { $0.targetRoutine == rid && $0.targetSlot == slot }) {
                mapping = c.paramMapping.isEmpty ? nil : c.paramMapping.pairs.map { [$0.source, $0.target] }
            } else {
                throw RoutineError("no connection \(sr).\(se) -> \(rid).\(slot) in flow '\(flow.flowId)'")
            }
        } else if let m = v["param_mapping"].objectValue, !m.isEmpty {
            mapping = m.compactMap { k, t in t.stringValue.map { [k, $0] } }
        }
        self.init(
            taskId: taskId, routineId: rid, slot: slot, payload: RawJSON(v["data"]), mapping: mapping,
            attempt: min(max(1, v["attempt"].intValue ?? 1), WireLimits.maxAttempt), retries: min(max(0, v["retry_count"].intValue ?? 0), WireLimits.maxAttempt), source: source,
            createdAt: v["created_at"].stringValue.flatMap { Timestamp(iso: $0)?.seconds } ?? now)
    }
}

/// A routine's timer: at `due`, `task` (its slot, its data) joins the queue.
struct ScheduledTimer: Sendable {
    var due: Double
    var task: PendingTask
}

/// A failed activation waiting for its retry time.
struct ScheduledRetry: Sendable {
    var due: Double
    var task: PendingTask
}

/// An ok activation whose emissions were streamed in parts: they are routed a
/// few parts at a time (its RESULT's own entries are the last part), then its
/// effects are applied.
struct StagedRouting: Sendable {
    var taskId: UInt64
    var attempt: Int
    var routineId: String
    /// Retries its activation had (the routine's state reports them).
    var retries: Int
    /// Parts staged, and the next one to route.
    var parts: Int
    var next = 0
    /// Its handler's effects, applied after its last part.
    var effects: RawJSON?
    /// A read of its next parts is under way.
    var reading = false
}

/// Everything the coordinator keeps for one job. Nothing in here is shared
/// with another job: queue, counts, state and waiters are the job's own.
/// A class, so that updating a job never copies its history or queue.
final class JobRecord {
    let id: String
    /// Which run of this id (a saved job resumed here after finishing here is a new run).
    let run: UInt64
    /// The flow as validated; while the job is pending, unvalidated (no ports).
    var flow: CompiledFlow
    var state: JobState
    /// What the entry task delivers (the job's params).
    var entryParams = RawJSON(.object([:]))
    /// Tasks not yet dispatched (FIFO by position, in lanes by routine depth).
    var queue = TaskQueue()
    /// Tasks sent to workers and not yet answered, and their ids (the journal lists them).
    var inFlight = 0
    var inFlightIds: Set<UInt64> = []
    /// Failed activations waiting to run again, in the order they failed.
    var retrying: [ScheduledRetry] = []
    /// Merge state of the job's stateful slots, by `routine.slot` (never shared between jobs).
    var slotStates: [String: RawJSON] = [:]
    /// Stateful slots with a delivery in flight, and stateful routines with an
    /// activation in flight (key: the routine id).
    var busySlots: Set<String> = []
    /// State of the job's stateful routines, by routine id.
    var routineMemory: [String: RawJSON] = [:]
    /// Timers set by the job's stateful routines, by "routine/id".
    var timers: [String: ScheduledTimer] = [:]
    /// Executions per routine, with worker-measured handler times.
    var tracker = JobTracker()
    /// Bound on `inFlight` (execution.max_workers).
    let maxWorkers: Int
    /// Who waits for the job to end; `untilPaused` ones are answered when it pauses too.
    var waiters: [(target: ReplyTarget, untilPaused: Bool)] = []
    /// About how many bytes its history and outputs hold (the payloads recorded).
    var recordedBytes = 0
    var deadline: Double?
    var warnedNoWorker: Set<String> = []
    /// The journal has this run's row, and its flow; how many entries of each log it has.
    var journalled = false
    var flowJournalled = false
    var logged: (history: Int, outputs: Int, shared: Int) = (0, 0, 0)
    /// History records no longer in memory (the oldest; they are in the store).
    var historyDropped = 0
    /// Queue positions for the next task appended, and the next one put at the front.
    var nextBack = 0.0
    var nextFront = -1.0
    /// Ok activations whose streamed emissions are still being routed, in the order they finished.
    var routing: Deque<StagedRouting> = []

    init(id: String, run: UInt64, flow: CompiledFlow, state: JobState, maxWorkers: Int) {
        self.id = id
        self.run = run
        self.flow = flow
        self.state = state
        self.maxWorkers = maxWorkers
    }

    /// The state clients see: while paused, `pending_tasks` lists what waits
    /// (queued tasks, then those waiting for a retry, then routines' timers,
    /// which fire at once if the saved job is resumed elsewhere).
    var exportedState: JobState {
        var s = state
        for (k, v) in slotStates.sorted(by: { $0.key < $1.key }) { s.slotStates[k] = v.valueOrError }
        for (k, v) in routineMemory.sorted(by: { $0.key < $1.key }) { s.routineData[k] = v.valueOrError }
        if !tracker.isEmpty { s.executionTracker = tracker.json(flowId: state.flowId) }
        if let n = flow.definition.execution.history.limit, s.executionHistory.count > n { s.executionHistory = Array(s.executionHistory.suffix(n)) }
        guard state.status == .paused else { return s }
        s.pendingTasks = queue.map { $0.saved(jobId: id) } + retrying.map { $0.task.saved(jobId: id) }
            + timers.values.sorted { $0.due < $1.due }.map { $0.task.saved(jobId: id) }
        return s
    }

    /// Queued, dispatched, waiting to retry, or set to fire: the job completes when this reaches zero.
    var outstanding: Int { queue.total + inFlight + retrying.count + timers.count + routing.count }
}
