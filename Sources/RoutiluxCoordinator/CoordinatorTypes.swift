import RoutiluxCore
import RoutiluxWire

/// Settings of the scheduling core.
public struct CoordinatorConfig: Sendable {
    public var coordinatorId: String
    /// How often the coordinator heartbeats workers, and asks them to.
    public var heartbeatMs: Int
    /// Silence after which a worker is declared dead and its tasks re-queued.
    public var workerTimeoutMs: Int
    /// Finished jobs kept for status queries.
    public var finishedJobsKept: Int

    public init(coordinatorId: String, heartbeatMs: Int = 1000, workerTimeoutMs: Int = 5000, finishedJobsKept: Int = 1000) {
        self.coordinatorId = coordinatorId
        self.heartbeatMs = heartbeatMs
        self.workerTimeoutMs = workerTimeoutMs
        self.finishedJobsKept = finishedJobsKept
    }
}

/// Who is waiting for an answer: a remote client (by endpoint) or in-process code.
public enum ReplyTarget: Sendable, Hashable {
    case remote(endpoint: String, requestId: String)
    case local(UInt64)
}

/// Which flow a submitted job runs.
public enum FlowReference: Sendable, Hashable {
    /// A flow the coordinator already holds.
    case id(String)
    /// A flow document sent with the request (validated before anything starts).
    case document(JSONValue, name: String)
}

/// A request to start a job.
public struct SubmitRequest: Sendable, Hashable {
    public var flow: FlowReference
    public var params: RawJSON
    public var entry: EntryPoint?
    public var maxWorkers: Int?
    /// Answer when the job ends rather than when it starts.
    public var wait: Bool
    /// With `wait`: answer when the job pauses too (`routilux run` cannot resume it).
    public var untilPaused: Bool
    /// Refuse the job when a routine type has no joined worker, rather than let it wait (pending) for one.
    public var failFast: Bool

    public init(
        flow: FlowReference, params: RawJSON, entry: EntryPoint? = nil, maxWorkers: Int? = nil, wait: Bool = false,
        untilPaused: Bool = false, failFast: Bool = false
    ) {
        self.failFast = failFast
        self.untilPaused = untilPaused
        self.flow = flow
        self.params = params
        self.entry = entry
        self.maxWorkers = maxWorkers
        self.wait = wait
    }
}

/// A request to change a job's course.
public struct JobControl: Sendable {
    public enum Operation: Sendable {
        case pause(reason: String, checkpoint: JSONValue?)
        case resume
        case cancel(reason: String)
        /// Continue a saved paused JobState; the flow is the loaded one with its
        /// flow_id unless given.
        case resumeFrom(JobState, flow: FlowReference?)
    }
    public var jobId: String
    public var operation: Operation
    public init(jobId: String, operation: Operation) {
        self.jobId = jobId
        self.operation = operation
    }
}

extension JobControl {
    /// From a CONTROL message; a body that does not parse is an error naming it.
    init(_ c: ControlMessage, bodies: [RawJSON]) throws {
        switch c.op {
        case .pause:
            operation = .pause(reason: c.reason ?? "", checkpoint: try bodies.first.map { try $0.value() })
        case .resume:
            operation = .resume
        case .cancel:
            operation = .cancel(reason: c.reason ?? "")
        case .resumeFrom:
            let state: JobState
            do { state = try JobState(json: try bodies[0].value()) } catch { throw RoutineError("the saved JobState: \(error)") }
            var flow: FlowReference?
            if bodies.count > 1 {
                do { flow = .document(try bodies[1].value(), name: c.flowId ?? state.flowId) } catch {
                    throw RoutineError("the flow document: \(error)")
                }
            } else if let id = c.flowId {
                flow = .id(id)
            }
            operation = .resumeFrom(state, flow: flow)
        }
        jobId = c.jobId
    }
}

/// What the core is fed: messages, requests and the passing of time.
public enum CoordinatorInput: Sendable {
    /// A decoded wire message and the peer address it came from.
    case message(WireMessage, peer: String?)
    /// A message that failed to decode (counted and logged, never fatal).
    case malformed(WireError, peer: String?)
    case submit(SubmitRequest, reply: ReplyTarget)
    case query(jobId: String, wait: Bool, reply: ReplyTarget)
    /// Pause, resume or cancel a job, or resume a saved one.
    case control(JobControl, reply: ReplyTarget)
    /// Time passed (heartbeats, worker expiry, job timeouts).
    case tick
}

/// An answer to a submit or a query.
public struct ControlReply: Sendable, Hashable {
    public var ok: Bool
    public var error: String?
    public var jobId: String?
    public var status: JobStatus?
    public var jobState: JobState?

    public static func failure(_ message: String) -> ControlReply {
        ControlReply(ok: false, error: message, jobId: nil, status: nil, jobState: nil)
    }
}

/// What the core asks its shell to do.
public enum CoordinatorAction: Sendable {
    /// Open the PUSH link to a worker's inbox.
    case connectWorker(id: String, endpoint: String)
    /// Close the link. `flush`: give queued messages (a REJECT) time to leave;
    /// otherwise whatever its queue holds is dropped.
    case disconnectWorker(id: String, flush: Bool)
    case send(workerId: String, WireMessage)
    /// Answer a submit or query.
    case reply(ReplyTarget, ControlReply)
    /// A job reached a final status.
    case jobFinished(jobId: String, status: JobStatus)
    /// Feed the core a `.tick` at (or soon after) this time: a retry falls due.
    case wakeAt(Double)
    case log(LogLevel, String)
}

public enum LogLevel: Sendable { case debug, info, warning, error }

/// Counters the core keeps (for logs, tests and the benchmark).
public struct CoordinatorCounters: Sendable, Hashable {
    public var malformedMessages = 0
    public var unexpectedMessages = 0
    public var tasksDispatched = 0
    public var resultsAccepted = 0
    public var staleResults = 0
    public var emissionsRouted = 0
    public var deliveries = 0
    public var workersLost = 0
    public var tasksRequeued = 0
    public var retriesScheduled = 0
    public var describesSent = 0
    public var describeTimeouts = 0
}
