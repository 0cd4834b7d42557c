import RoutiluxCore
import RoutiluxStore
import RoutiluxWire

/// Settings of the scheduling core.
public struct CoordinatorConfig: Sendable {
    public var coordinatorId: String
    /// How often the coordinator heartbeats workers, and asks them to.
    public var heartbeatMs: Int
    /// Silence after which a worker is declared dead and its tasks re-queued.
    public var workerTimeoutMs: Int
    /// Finished jobs kept for status queries: at most this many...
    public var finishedJobsKept: Int
    /// ...and at most about this many bytes of their history and outputs together
    /// (the oldest are forgotten first; a job's own size does not make it be forgotten at once).
    public var finishedJobsBytes: Int
    /// Credit one worker may hold, whatever it claims (`--max-credit`).
    public var maxCredit: Int
    /// Workers joined at once (`--max-workers-joined`); a JOIN beyond is refused.
    public var maxWorkersJoined: Int
    /// The largest message sent or accepted, bytes (`--max-message-bytes`).
    public var maxMessageBytes: Int
    /// Messages carry an authenticated CURVE key and role: a message without
    /// one, or from the wrong role, is refused.
    public var authenticated: Bool
    /// Lease expiries in a row, with no result between, after which a worker is sent no more tasks.
    public var unresponsiveAfterExpiries: Int
    /// History records of a job held in memory; with a journal, older ones are in the store only
    /// (a JobState sent to a client still has them all). 0: no limit.
    public var historyInMemory = 10_000
    /// Queued tasks held in memory, all jobs together; with a journal, the rest wait in the store.
    public var maxQueuedInMemory = 100_000
    /// PARTs of one attempt that may await their STAGED (JOINED's `part_window`); 0: workers send
    /// everything an activation emits in its RESULT.
    public var partWindow = 8
    /// The most body bytes one activation may emit in all, streamed in parts: beyond, it fails (ResultTooLarge).
    public var maxResultBytes = 4 << 30
    /// A worker not heard from for 1.5 heartbeats is sent no new task until it is heard again
    /// (it may be dead; declared so only at `workerTimeoutMs`).
    public var holdBackQuietWorkers = true
    /// Silence (seconds) after which a worker is held back.
    public var quietAfter: Double { 1.5 * Double(heartbeatMs) / 1000 }

    public init(
        coordinatorId: String, heartbeatMs: Int = 1000, workerTimeoutMs: Int = 3000, finishedJobsKept: Int = 1000,
        maxCredit: Int = 64, maxWorkersJoined: Int = 256, maxMessageBytes: Int = 64 << 20, authenticated: Bool = false,
        unresponsiveAfterExpiries: Int = 3, finishedJobsBytes: Int = 128 << 20
    ) {
        self.finishedJobsBytes = max(0, finishedJobsBytes)
        self.maxCredit = max(1, maxCredit)
        self.maxWorkersJoined = max(1, maxWorkersJoined)
        self.maxMessageBytes = max(1024, maxMessageBytes)
        self.authenticated = authenticated
        self.unresponsiveAfterExpiries = max(1, unresponsiveAfterExpiries)
        self.coordinatorId = coordinatorId
        self.heartbeatMs = heartbeatMs
        self.workerTimeoutMs = workerTimeoutMs
        self.finishedJobsKept = finishedJobsKept
    }
}

/// Who is waiting for an answer: a remote client (by endpoint; with CURVE, the
/// key its reply inbox must prove) or in-process code.
public enum ReplyTarget: Sendable, Hashable {
    case remote(endpoint: String, requestId: String, key: String? = nil)
    case local(UInt64)
}

/// What a peer may send, by its key's place in `--authorized-keys`.
public enum PeerRole: String, Sendable, Hashable {
    /// JOIN and the worker messages (RESULT, CREDIT, HEARTBEAT, LEAVE, DESCRIBED).
    case worker
    /// SUBMIT, QUERY, CONTROL, STATUS.
    case client
}

/// Who sent a message, as far as the transport knows: the peer's address,
/// and with CURVE the authenticated key, its fingerprint and role.
public struct Sender: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var address: String?
    /// The CURVE public key (Z85) the connection authenticated with.
    public var key: String?
    public var fingerprint: String?
    public var role: PeerRole?

    public init(address: String?, key: String? = nil, fingerprint: String? = nil, role: PeerRole? = nil) {
        self.address = address
        self.key = key
        self.fingerprint = fingerprint
        self.role = role
    }
    public init(stringLiteral address: String) { self.init(address: address) }

    /// Address and key, as logs name a sender.
    public var description: String {
        var s = address ?? "unknown address"
        if let f = fingerprint ?? key.map({ String($0.prefix(12)) }) { s += " key \(f)" }
        if let role { s += " (\(role.rawValue))" }
        return s
    }
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
    /// A decoded wire message and who sent it (nil: unknown, unauthenticated).
    case message(WireMessage, peer: Sender?)
    /// A message that failed to decode (counted and logged, never fatal).
    case malformed(WireError, peer: Sender?)
    /// A message the shell dropped before decoding (over the size limit): counted
    /// and logged, and a request whose header could be read is answered.
    case oversize(bytes: Int, type: MessageType?, reply: ReplyTarget?, peer: Sender?)
    /// `--authorized-keys` was reloaded: these keys are authorized now; a joined
    /// worker whose key is gone is removed.
    case keysChanged(workers: Set<String>, clients: Set<String>)
    case submit(SubmitRequest, reply: ReplyTarget)
    case query(jobId: String, wait: Bool, reply: ReplyTarget, historyTail: Int? = nil, waitMs: Int? = nil)
    /// The cluster's status (workers, counters).
    case status(reply: ReplyTarget)
    /// Pause, resume or cancel a job, or resume a saved one.
    case control(JobControl, reply: ReplyTarget)
    /// Time passed (heartbeats, worker expiry, job timeouts).
    case tick
    /// The coordinator is stopping: waiters are told so, new jobs refused.
    case shutdown
    /// Spilled tasks read back for a `.readQueued` (nil: the read failed).
    case queuedRead(jobId: String, run: UInt64, lane: Int, limit: Int, rows: [StoredTask]?)
    /// Staged parts read back for a `.readStaged`, in order (nil: the read failed).
    case stagedRead(jobId: String, run: UInt64, taskId: UInt64, from: Int, parts: [[UInt8]]?)
}

/// An answer to a submit or a query.
public struct ControlReply: Sendable, Hashable {
    public var ok: Bool
    public var error: String?
    public var jobId: String?
    public var status: JobStatus?
    public var jobState: JobState?
    /// The cluster status document (a STATUS answer).
    public var clusterStatus: JSONValue? = nil
    /// The answer of a coordinator that is stopping (REPLY `kind: "stopping"`): ask again once it is back.
    public var stopping = false
    /// The JobState's first this many history records are in the store only: the shell reads them
    /// back into it before sending (then keeps the last `historyTail`, if set).
    public var historyInStore = 0
    public var historyTail: Int?
    /// The job asked about is not held here, nor in the store (local answers; over the wire the
    /// error text says so).
    public var unknownJob = false

    public static func failure(_ message: String) -> ControlReply {
        ControlReply(ok: false, error: message, jobId: nil, status: nil, jobState: nil)
    }

    /// The answer about a job that is not held here, nor in the store.
    public static func unknownJob(_ id: String) -> ControlReply {
        var r = failure("unknown job '\(id)'")
        r.unknownJob = true
        return r
    }
}

/// What the core asks its shell to do.
public enum CoordinatorAction: Sendable {
    /// Open the PUSH link to a worker's inbox (with CURVE: one that must prove `key`).
    /// `reopen` false: keep a link already open to that endpoint (and what is queued on it).
    /// `maxMessageBytes`: the worker's limit (JOIN's), which its batches must keep to.
    case connectWorker(id: String, endpoint: String, key: String?, reopen: Bool = true, maxMessageBytes: Int? = nil)
    /// Send one message to an endpoint that is not a joined worker's (a JOIN's
    /// refusal), through the pooled reply links.
    case notify(endpoint: String, key: String?, WireMessage)
    /// Close the link. `flush`: give queued messages (a REJECT) time to leave;
    /// otherwise whatever its queue holds is dropped.
    case disconnectWorker(id: String, flush: Bool)
    case send(workerId: String, WireMessage)
    /// Answer a submit or query.
    case reply(ReplyTarget, ControlReply)
    /// Answer a query about a job not held in memory from the store
    /// (finished and forgotten here; "unknown job" if the store has none either).
    case lookUp(jobId: String, reply: ReplyTarget, historyTail: Int?)
    /// Read back up to `limit` queued tasks of a job's lane after `after` from the store, and feed
    /// them in as `.queuedRead` (once the turn that asked is committed).
    case readQueued(jobId: String, run: UInt64, lane: Int, after: Double, limit: Int)
    /// Read back up to `count` staged parts of an attempt from `from` on, and feed them in as
    /// `.stagedRead` (once the turn that asked is committed).
    case readStaged(jobId: String, run: UInt64, taskId: UInt64, attempt: Int, from: Int, count: Int)
    /// A job reached a final status.
    case jobFinished(jobId: String, status: JobStatus)
    /// Feed the core a `.tick` at (or soon after) this time: a retry falls due.
    case wakeAt(Double)
    case log(LogLevel, String)
}

public enum LogLevel: Sendable { case debug, info, warning, error }

/// Why a message was dropped (each is counted; `routilux cluster status` lists them).
public enum DropReason: String, Sendable, Hashable, CaseIterable, Comparable {
    /// Did not decode: bad framing, header, field types or ranges.
    case malformed
    /// No authenticated key, a key of the wrong role, or a wrong session token.
    case unauthorized
    /// From a worker id that is not joined.
    case unknownWorker = "unknown_worker"
    /// For a task attempt the ledger no longer holds (re-queued, expired, or answered).
    case stale
    /// Over `--max-message-bytes`.
    case oversize
    /// Refused because a bound was reached (workers joined, pending work).
    case rateLimited = "rate_limited"
    /// A message type the coordinator does not accept.
    case unexpected

    public static func < (a: DropReason, b: DropReason) -> Bool { a.rawValue < b.rawValue }
}

/// Counters the core keeps (for logs, tests and the benchmark).
public struct CoordinatorCounters: Sendable, Hashable {
    /// Messages dropped, by reason.
    public var dropped: [DropReason: Int] = [:]
    public var malformedMessages: Int { dropped[.malformed] ?? 0 }
    public var unexpectedMessages: Int { dropped[.unexpected] ?? 0 }
    public var staleResults: Int { dropped[.stale] ?? 0 }
    public var tasksDispatched = 0
    public var resultsAccepted = 0
    /// Jobs that reached a final status.
    public var jobsFinished = 0
    /// PARTs staged, and streamed activations whose parts were all routed.
    public var partsStaged = 0
    public var streamedResultsRouted = 0
    public var emissionsRouted = 0
    public var deliveries = 0
    public var workersLost = 0
    public var tasksRequeued = 0
    public var retriesScheduled = 0
    public var describesSent = 0
    public var describeTimeouts = 0
    /// Tasks taken back at their lease's end, and tasks a worker's heartbeat showed it no longer held.
    public var leasesExpired = 0
    public var tasksLost = 0
    /// JOINs refused (any reason).
    public var joinsRefused = 0
}
