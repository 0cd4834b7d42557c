import RoutiluxCore

/// The protocol version every message carries (frame 0 and the header's `v`).
public let protocolVersion = 5

/// Every header carries the protocol version in `v`.
public protocol VersionedHeader: Codable, Sendable {
    var v: Int { get }
}

/// Message types on the wire.
public enum MessageType: String, Sendable, CaseIterable, Codable {
    case join = "JOIN"
    case joined = "JOINED"
    case reject = "REJECT"
    case task = "TASK"
    case result = "RESULT"
    case credit = "CREDIT"
    case heartbeat = "HEARTBEAT"
    case leave = "LEAVE"
    case submit = "SUBMIT"
    case query = "QUERY"
    case control = "CONTROL"
    case reply = "REPLY"
    case describe = "DESCRIBE"
    case described = "DESCRIBED"
    case status = "STATUS"
    case part = "PART"
    case staged = "STAGED"
}

/// Worker → coordinator: register, with the routine types hosted and an inbox
/// endpoint. Body frame, when `catalogue` is true: the worker's catalogue, one
/// description per type (`routilux-worker types --json`), as built from an empty config.
public struct JoinMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var workerId: String
    public var routineTypes: [String]
    /// Handlers the worker runs at once.
    public var capacity: Int
    /// Initial credit: tasks the coordinator may send before hearing more.
    public var credit: Int
    /// Where the coordinator's PUSH for this worker connects.
    public var endpoint: String
    public var heartbeatMs: Int
    /// Fresh for every join cycle of a worker process (start, or re-join after
    /// coordinator silence). A JOIN with a new session replaces the old
    /// registration: whatever the old one had in flight is re-queued.
    public var session: String
    public var pid: Int?
    public var host: String?
    /// A body frame with the worker's catalogue follows.
    public var catalogue: Bool?
    /// A secret that stays with the worker id across restarts (the supervisor's,
    /// per process slot): a JOIN carrying the one the live holder of the id
    /// joined with replaces it at once (the old process is dead).
    public var idSecret: String?
    /// The worker's message size limit: the coordinator's batches to it stay within half of it.
    public var maxMessageBytes: Int?

    public init(
        workerId: String, routineTypes: [String], capacity: Int, credit: Int, endpoint: String,
        heartbeatMs: Int = 1000, session: String, pid: Int? = nil, host: String? = nil, catalogue: Bool? = nil, idSecret: String? = nil,
        maxMessageBytes: Int? = nil
    ) {
        self.maxMessageBytes = maxMessageBytes
        self.idSecret = idSecret
        self.catalogue = catalogue
        self.session = session
        self.workerId = workerId
        self.routineTypes = routineTypes
        self.capacity = capacity
        self.credit = credit
        self.endpoint = endpoint
        self.heartbeatMs = heartbeatMs
        self.pid = pid
        self.host = host
    }
}

/// Coordinator → worker: accepted. `session` echoes the JOIN's (a worker
/// ignores a JOINED for another session); `token` is the session token every
/// later message of this session carries, both ways.
public struct JoinedMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var workerId: String
    public var coordinatorId: String
    public var heartbeatMs: Int
    public var session: String
    public var token: String
    /// The coordinator's message size limit: a worker sends nothing bigger.
    public var maxMessageBytes: Int?
    /// How many PARTs of one attempt may await their STAGED (absent: send no PARTs, everything in the RESULT).
    public var partWindow: Int?
    /// The most credit the coordinator lets one worker hold (`--max-credit`): a worker asks for no more.
    public var maxCredit: Int?
    public init(
        workerId: String, coordinatorId: String, heartbeatMs: Int, session: String, token: String, maxMessageBytes: Int? = nil,
        partWindow: Int? = nil, maxCredit: Int? = nil
    ) {
        self.maxCredit = maxCredit
        self.partWindow = partWindow
        self.workerId = workerId
        self.coordinatorId = coordinatorId
        self.heartbeatMs = heartbeatMs
        self.session = session
        self.token = token
        self.maxMessageBytes = maxMessageBytes
    }
}

/// Coordinator → worker: the JOIN is refused, with the reason. `session`
/// echoes the JOIN's. With `retryMs` the refusal is for now (the worker id is
/// held by a live session): the worker may JOIN again after that long.
public struct RejectMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var workerId: String
    public var reason: String
    public var session: String?
    public var retryMs: Int?
    public init(workerId: String, reason: String, session: String? = nil, retryMs: Int? = nil) {
        self.workerId = workerId
        self.reason = reason
        self.session = session
        self.retryMs = retryMs
    }
}

/// Coordinator → worker: run one slot activation. Body frames: [payload,
/// routine config], then the slot's merge state when `merge` is set, then the
/// routine's state when `routineState` is true, then the job's shared data
/// when `shared` is true.
public struct TaskMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var jobId: String
    public var taskId: UInt64
    public var flowId: String
    public var routineId: String
    public var routineType: String
    public var slot: String
    public var attempt: Int
    /// The connection's mapping, `[[event_param, slot_param], ...]` in order; applied by the worker.
    public var paramMapping: [[String]]?
    /// The slot's merge strategy when it keeps state (append or a custom name);
    /// the state travels as the third body frame and comes back in the RESULT.
    public var merge: String?
    /// The job's shared data follows (it is not empty).
    public var shared: Bool?
    /// The routine keeps state per job; it follows the slot state.
    public var routineState: Bool?
    /// The session token (JOINED's): a worker runs no TASK without it.
    public var token: String
    /// The task's lease: the coordinator takes it back after this long, and the
    /// worker cancels the handler then (absent: no deadline).
    public var timeoutMs: Int?

    public init(
        jobId: String, taskId: UInt64, flowId: String, routineId: String, routineType: String, slot: String,
        attempt: Int, paramMapping: [[String]]? = nil, merge: String? = nil, shared: Bool? = nil, routineState: Bool? = nil,
        token: String = "", timeoutMs: Int? = nil
    ) {
        self.token = token
        self.timeoutMs = timeoutMs
        self.routineState = routineState
        self.merge = merge
        self.shared = shared
        self.jobId = jobId
        self.taskId = taskId
        self.flowId = flowId
        self.routineId = routineId
        self.routineType = routineType
        self.slot = slot
        self.attempt = attempt
        self.paramMapping = paramMapping
    }
}

/// Worker → coordinator: a task's outcome. Body frames: one payload per
/// emission (in `emissions` order), then one per output (in `outputs` order),
/// then the slot's new merge state when `slotState` is true, then the
/// routine's new state when `routineState` is true, then the
/// handler's effects (shared data, shared log, deferred events, pause) when `effects` is true.
public struct ResultMessage: VersionedHeader, Hashable {
    public enum Outcome: String, Codable, Sendable { case ok, error }
    public var v: Int = protocolVersion
    public var workerId: String
    public var jobId: String
    public var taskId: UInt64
    public var attempt: Int
    public var outcome: Outcome
    public var error: String?
    public var errorType: String?
    /// Event names, in emission order.
    public var emissions: [String]
    /// Output types, in `send_output` order.
    public var outputs: [String]
    /// Handler wall time on the worker, microseconds.
    public var handlerUs: Int
    /// Credit granted back with this result.
    public var credit: Int
    /// The last body frame is the slot's new merge state (stateful slots, ok outcome).
    public var slotState: Bool?
    /// The last body frame is a `HandlerEffects` object.
    public var effects: Bool?
    /// The routine's new state follows the slot state (stateful routines, ok outcome).
    public var routineState: Bool?
    /// The session token.
    public var token: String
    /// PARTs of this attempt sent before this RESULT (their emissions and outputs come first).
    public var parts: Int?

    public init(
        workerId: String, jobId: String, taskId: UInt64, attempt: Int, outcome: Outcome, error: String? = nil,
        errorType: String? = nil, emissions: [String] = [], outputs: [String] = [], handlerUs: Int = 0, credit: Int = 1,
        slotState: Bool? = nil, effects: Bool? = nil, routineState: Bool? = nil, token: String = "", parts: Int? = nil
    ) {
        self.parts = parts
        self.token = token
        self.routineState = routineState
        self.slotState = slotState
        self.effects = effects
        self.workerId = workerId
        self.jobId = jobId
        self.taskId = taskId
        self.attempt = attempt
        self.outcome = outcome
        self.error = error
        self.errorType = errorType
        self.emissions = emissions
        self.outputs = outputs
        self.handlerUs = handlerUs
        self.credit = credit
    }
}

/// Worker → coordinator: part `seq` (0, 1, 2, ...) of what a running activation has emitted and sent
/// to its output so far, sent while its handler runs (a handler that emits a great many items never
/// holds them all). Body frames: one per emission, in `emissions` order, then one per output. The
/// coordinator stages the parts and routes them, in order and before the RESULT's own, only when the
/// attempt's RESULT is ok (it says how many parts came before it); a failed attempt's parts are dropped.
public struct PartMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var workerId: String
    public var jobId: String
    public var taskId: UInt64
    public var attempt: Int
    public var seq: Int
    public var emissions: [String]
    public var outputs: [String]
    public var token: String
    public init(workerId: String, jobId: String, taskId: UInt64, attempt: Int, seq: Int, emissions: [String], outputs: [String], token: String = "") {
        self.workerId = workerId
        self.jobId = jobId
        self.taskId = taskId
        self.attempt = attempt
        self.seq = seq
        self.emissions = emissions
        self.outputs = outputs
        self.token = token
    }
}

/// Coordinator → worker: the PARTs of an attempt through `seq` are staged, so up to JOINED's
/// `part_window` more may be sent. With `stop`, the attempt is not wanted any more (it failed here,
/// or was taken back): the worker stops its handler; a RESULT for it is stale.
public struct StagedMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var jobId: String
    public var taskId: UInt64
    public var attempt: Int
    public var seq: Int
    public var stop: Bool?
    public var token: String
    public init(jobId: String, taskId: UInt64, attempt: Int, seq: Int, stop: Bool? = nil, token: String = "") {
        self.jobId = jobId
        self.taskId = taskId
        self.attempt = attempt
        self.seq = seq
        self.stop = stop
        self.token = token
    }
}

/// Worker → coordinator: more credit, without a result.
public struct CreditMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var workerId: String
    public var credit: Int
    public var token: String
    /// The worker drains (SIGTERM): send it no more tasks; it finishes those it holds, then LEAVEs.
    public var draining: Bool?
    public init(workerId: String, credit: Int, token: String = "", draining: Bool? = nil) {
        self.workerId = workerId
        self.credit = credit
        self.token = token
        self.draining = draining
    }
}

/// Either direction: I am alive. Any message counts as life too. A worker's
/// heartbeat says which tasks it still holds (running or queued locally) and
/// how many TASKs it has received this session, so that a task it never got
/// or lost is told from one that just runs long.
public struct HeartbeatMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var senderId: String
    /// The session token (absent only before a worker has joined).
    public var token: String?
    /// Worker → coordinator: task ids held now.
    public var held: [UInt64]?
    /// Worker → coordinator: TASKs received this session.
    public var received: Int?
    public init(senderId: String, token: String? = nil, held: [UInt64]? = nil, received: Int? = nil) {
        self.senderId = senderId
        self.token = token
        self.held = held
        self.received = received
    }
}

/// Worker → coordinator: leaving; its in-flight tasks go back to the queue.
public struct LeaveMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var workerId: String
    public var reason: String
    public var token: String
    public init(workerId: String, reason: String, token: String = "") {
        self.workerId = workerId
        self.reason = reason
        self.token = token
    }
}

/// Client → coordinator: start a job. Body frames: [params, flow document?].
/// Without a flow document, `flowId` names a flow the coordinator loaded.
public struct SubmitMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var requestId: String
    /// The client's PULL endpoint for the REPLY.
    public var replyTo: String
    public var flowId: String?
    public var entryRoutine: String?
    public var entrySlot: String?
    public var maxWorkers: Int?
    /// Reply when the job ends instead of when it starts.
    public var wait: Bool
    /// Refuse the job when a routine type has no joined worker, instead of letting it wait for one.
    public var failFast: Bool?
    public init(
        requestId: String, replyTo: String, flowId: String? = nil, entryRoutine: String? = nil,
        entrySlot: String? = nil, maxWorkers: Int? = nil, wait: Bool = false, failFast: Bool? = nil
    ) {
        self.failFast = failFast
        self.requestId = requestId
        self.replyTo = replyTo
        self.flowId = flowId
        self.entryRoutine = entryRoutine
        self.entrySlot = entrySlot
        self.maxWorkers = maxWorkers
        self.wait = wait
    }
}

/// Client → coordinator: a job's status now, or when it ends (`wait`).
public struct QueryMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var requestId: String
    public var replyTo: String
    public var jobId: String
    public var wait: Bool
    /// Only the last this many history records (a JobState too large for one message).
    public var historyTail: Int?
    /// With `wait`: answer after at most this long even if the job has not ended
    /// (the client then asks again), so no waiter outlives its client.
    public var waitMs: Int?
    public init(requestId: String, replyTo: String, jobId: String, wait: Bool, historyTail: Int? = nil, waitMs: Int? = nil) {
        self.waitMs = waitMs
        self.requestId = requestId
        self.replyTo = replyTo
        self.jobId = jobId
        self.wait = wait
        self.historyTail = historyTail
    }
}

/// Client → coordinator: the cluster's status (workers, counters). Answered
/// with a REPLY of kind `cluster_status`.
public struct StatusMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var requestId: String
    public var replyTo: String
    public init(requestId: String, replyTo: String) {
        self.requestId = requestId
        self.replyTo = replyTo
    }
}

/// Client → coordinator: change a job's course. Body frames by `op`:
/// `pause` [checkpoint?], `resume` and `cancel` none, `resume_from`
/// [saved JobState, flow document?]. Answered with a REPLY holding the JobState.
public struct ControlMessage: VersionedHeader, Hashable {
    public enum Operation: String, Codable, Sendable, CaseIterable {
        case pause, resume, cancel
        case resumeFrom = "resume_from"
    }
    public var v: Int = protocolVersion
    public var requestId: String
    public var replyTo: String
    /// The job (for `resume_from`, the saved state's job id, informative).
    public var jobId: String
    public var op: Operation
    public var reason: String?
    /// For `resume_from` without a flow document: the loaded flow to use (default: the state's flow_id).
    public var flowId: String?
    public init(requestId: String, replyTo: String, jobId: String, op: Operation, reason: String? = nil, flowId: String? = nil) {
        self.requestId = requestId
        self.replyTo = replyTo
        self.jobId = jobId
        self.op = op
        self.reason = reason
        self.flowId = flowId
    }
}

/// Coordinator → client: the answer to SUBMIT, QUERY, CONTROL or STATUS.
/// Body frame, when `ok`: the JobState, or with `kind` "cluster_status" the
/// cluster's status document.
public struct ReplyMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var requestId: String
    public var ok: Bool
    public var error: String?
    public var jobId: String?
    public var status: String?
    public var kind: String?
    /// The answering coordinator process (random per start): a client tells a restart by it.
    public var instance: String?
    public init(requestId: String, ok: Bool, error: String? = nil, jobId: String? = nil, status: String? = nil, kind: String? = nil, instance: String? = nil) {
        self.instance = instance
        self.kind = kind
        self.requestId = requestId
        self.ok = ok
        self.error = error
        self.jobId = jobId
        self.status = status
    }
}

/// Coordinator → worker: describe `routineType` as built from the config in the
/// body frame (its ports: slots, events, merges, state, error policy), so that a
/// flow using it can be validated. Answered with DESCRIBED.
public struct DescribeMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var requestId: String
    public var routineType: String
    public var token: String
    public init(requestId: String, routineType: String, token: String = "") {
        self.token = token
        self.requestId = requestId
        self.routineType = routineType
    }
}

/// Worker → coordinator: the answer to DESCRIBE. Body frame, when `ok`: the
/// ports as a catalogue entry (`{slots, events, merges?, stateful?, error_handler?}`).
/// Otherwise either `configError` (with `errorKey`, the config key at fault) says
/// why the type refuses that config, a verdict like any other, or `error` says
/// the worker cannot describe the type at all (it does not host it).
public struct DescribedMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var workerId: String
    public var requestId: String
    public var ok: Bool
    public var configError: String?
    public var errorKey: String?
    public var error: String?
    public var token: String
    public init(
        workerId: String, requestId: String, ok: Bool, configError: String? = nil, errorKey: String? = nil, error: String? = nil,
        token: String = ""
    ) {
        self.token = token
        self.workerId = workerId
        self.requestId = requestId
        self.ok = ok
        self.configError = configError
        self.errorKey = errorKey
        self.error = error
    }
}

/// A decoded message: the typed header and its body frames.
public enum WireMessage: Sendable, Hashable {
    case join(JoinMessage, catalogue: RawJSON?)
    case joined(JoinedMessage)
    case reject(RejectMessage)
    case task(TaskMessage, payload: RawJSON, config: RawJSON, slotState: RawJSON?, routineState: RawJSON?, shared: RawJSON?)
    case result(ResultMessage, bodies: [RawJSON])
    case credit(CreditMessage)
    case heartbeat(HeartbeatMessage)
    case leave(LeaveMessage)
    case submit(SubmitMessage, params: RawJSON, flow: RawJSON?)
    case query(QueryMessage)
    case control(ControlMessage, bodies: [RawJSON])
    case reply(ReplyMessage, jobState: RawJSON?)
    case describe(DescribeMessage, config: RawJSON)
    case described(DescribedMessage, ports: RawJSON?)
    case status(StatusMessage)
    case part(PartMessage, bodies: [RawJSON])
    case staged(StagedMessage)

    public var type: MessageType {
        switch self {
        case .join: .join
        case .joined: .joined
        case .reject: .reject
        case .task: .task
        case .result: .result
        case .credit: .credit
        case .heartbeat: .heartbeat
        case .leave: .leave
        case .submit: .submit
        case .query: .query
        case .control: .control
        case .reply: .reply
        case .describe: .describe
        case .described: .described
        case .status: .status
        case .part: .part
        case .staged: .staged
        }
    }
}
