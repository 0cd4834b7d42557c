import RoutiluxCore

/// The protocol version every message carries (frame 0 and the header's `v`).
public let protocolVersion = 2

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

    public init(
        workerId: String, routineTypes: [String], capacity: Int, credit: Int, endpoint: String,
        heartbeatMs: Int = 1000, session: String, pid: Int? = nil, host: String? = nil, catalogue: Bool? = nil
    ) {
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

/// Coordinator → worker: accepted.
public struct JoinedMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var workerId: String
    public var coordinatorId: String
    public var heartbeatMs: Int
    public init(workerId: String, coordinatorId: String, heartbeatMs: Int) {
        self.workerId = workerId
        self.coordinatorId = coordinatorId
        self.heartbeatMs = heartbeatMs
    }
}

/// Coordinator → worker (or requester): refused, with the reason.
public struct RejectMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var workerId: String
    public var reason: String
    public init(workerId: String, reason: String) {
        self.workerId = workerId
        self.reason = reason
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

    public init(
        jobId: String, taskId: UInt64, flowId: String, routineId: String, routineType: String, slot: String,
        attempt: Int, paramMapping: [[String]]? = nil, merge: String? = nil, shared: Bool? = nil, routineState: Bool? = nil
    ) {
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

    public init(
        workerId: String, jobId: String, taskId: UInt64, attempt: Int, outcome: Outcome, error: String? = nil,
        errorType: String? = nil, emissions: [String] = [], outputs: [String] = [], handlerUs: Int = 0, credit: Int = 1,
        slotState: Bool? = nil, effects: Bool? = nil, routineState: Bool? = nil
    ) {
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

/// Worker → coordinator: more credit, without a result.
public struct CreditMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var workerId: String
    public var credit: Int
    public init(workerId: String, credit: Int) {
        self.workerId = workerId
        self.credit = credit
    }
}

/// Either direction: I am alive. Any message counts as life too.
public struct HeartbeatMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var senderId: String
    public init(senderId: String) { self.senderId = senderId }
}

/// Worker → coordinator: leaving; its in-flight tasks go back to the queue.
public struct LeaveMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var workerId: String
    public var reason: String
    public init(workerId: String, reason: String) {
        self.workerId = workerId
        self.reason = reason
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
    public init(requestId: String, replyTo: String, jobId: String, wait: Bool) {
        self.requestId = requestId
        self.replyTo = replyTo
        self.jobId = jobId
        self.wait = wait
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

/// Coordinator → client: the answer to SUBMIT or QUERY. Body frame: the JobState, when `ok`.
public struct ReplyMessage: VersionedHeader, Hashable {
    public var v: Int = protocolVersion
    public var requestId: String
    public var ok: Bool
    public var error: String?
    public var jobId: String?
    public var status: String?
    public init(requestId: String, ok: Bool, error: String? = nil, jobId: String? = nil, status: String? = nil) {
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
    public init(requestId: String, routineType: String) {
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
    public init(workerId: String, requestId: String, ok: Bool, configError: String? = nil, errorKey: String? = nil, error: String? = nil) {
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
        }
    }
}
