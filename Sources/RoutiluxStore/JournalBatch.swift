/// Where a journalled task is: what a restart does with it.
public enum TaskPlace: Int, Sendable, Hashable {
    /// In its job's queue (`position` orders the queue).
    case queued = 0
    /// Sent to a worker and not answered: a restart queues it again, attempt raised.
    case inFlight = 1
    /// Waiting for its retry (`due`).
    case retry = 2
    /// A routine's timer (`due`, `timerKey`).
    case timer = 3
}

/// One journalled task: the columns a restart orders by, and two JSON blobs
/// (what changes as it moves, what never does). The store does not read the blobs.
public struct StoredTask: Sendable, Hashable {
    public var taskId: UInt64
    public var jobId: String
    public var place: TaskPlace
    /// Queue order (smaller first); for retries and timers, when they are due.
    public var position: Double
    /// The queue lane (its routine's depth): queued tasks not held in memory are read back by lane.
    public var lane: Int
    /// Attempt, retries, expiries, timer key...: rewritten at each move.
    public var state: [UInt8]
    /// Routine, slot, payload, mapping, source: written once.
    public var body: [UInt8]

    public init(taskId: UInt64, jobId: String, place: TaskPlace, position: Double, lane: Int = 0, state: [UInt8], body: [UInt8]) {
        self.lane = lane
        self.taskId = taskId
        self.jobId = jobId
        self.place = place
        self.position = position
        self.state = state
        self.body = body
    }
}

/// A change to one task in a batch (the net change of the turn).
public enum TaskWrite: Sendable, Hashable {
    /// A task new to the store.
    case insert(StoredTask)
    /// A stored task moved (its body is unchanged).
    case move(taskId: UInt64, place: TaskPlace, position: Double, lane: Int = 0, state: [UInt8])
    case delete(taskId: UInt64)
}

/// The append-only lists of a job, each journalled as numbered entries.
public enum JobLogKind: Int, Sendable, Hashable, CaseIterable {
    case history = 0
    case outputs = 1
    case sharedLog = 2
}

/// A job's row: its small, rewritten state, and the entries its logs gained.
public struct JobWrite: Sendable {
    public var jobId: String
    /// Which run of the id (a resumed saved job is a new run).
    public var run: UInt64
    public var status: String
    /// When it reached a final status (seconds since 1970), if it did: `--retain` ages count from here.
    public var finishedAt: Double?
    /// Everything not in a log or a task (JSON), rewritten each turn the job changes.
    public var meta: [UInt8]
    /// The job's flow and its routines' ports (JSON): given when the row is new
    /// (or a new run replaces the id's rows), nil otherwise.
    public var flow: [UInt8]?
    /// New log entries: kind, index in the log (0-based), the entry's JSON.
    public var appends: [(kind: JobLogKind, index: Int, body: [UInt8])]

    public init(jobId: String, run: UInt64, status: String, finishedAt: Double?, meta: [UInt8], flow: [UInt8]?, appends: [(kind: JobLogKind, index: Int, body: [UInt8])]) {
        self.jobId = jobId
        self.run = run
        self.status = status
        self.finishedAt = finishedAt
        self.meta = meta
        self.flow = flow
        self.appends = appends
    }
}

/// What one turn of the coordinator changed, written in one transaction
/// before anything the turn decided (a TASK, a reply) leaves the process.
public struct JournalBatch: Sendable {
    /// Flows registered or replaced: id and document (JSON).
    public var flows: [(id: String, document: [UInt8])] = []
    /// Jobs whose every row is dropped first (a new run of the id), in order.
    public var resets: [String] = []
    public var jobs: [JobWrite] = []
    /// Jobs whose tasks are all dropped (failed or cancelled: their queues are gone), before `tasks`.
    public var clearedTasks: [String] = []
    public var tasks: [TaskWrite] = []
    /// Small named numbers the core keeps across restarts (the next job sequence...).
    public var values: [String: Int64] = [:]
    /// Parts of activations' emissions staged this turn, and attempts whose staged parts go (after the inserts).
    public var staged: [StagedPart] = []
    public var unstaged: [(taskId: UInt64, attempt: Int)] = []

    public init() {}

    public var isEmpty: Bool {
        flows.isEmpty && resets.isEmpty && jobs.isEmpty && clearedTasks.isEmpty && tasks.isEmpty && values.isEmpty
            && staged.isEmpty && unstaged.isEmpty
    }
}

/// A job as the store holds it.
public struct StoredJob: Sendable {
    public var jobId: String
    public var run: UInt64
    public var status: String
    public var finishedAt: Double?
    public var meta: [UInt8]
    public var flow: [UInt8]
    /// Each log's entries in order (absent kinds: empty).
    public var logs: [JobLogKind: [[UInt8]]]
    /// Its tasks, by place then position.
    public var tasks: [StoredTask]
}

/// What a restart reads back: every flow, every unfinished job, the values.
public struct StoredState: Sendable {
    public var flows: [(id: String, document: [UInt8])]
    public var jobs: [StoredJob]
    public var values: [String: Int64]
    /// Finished jobs kept in the store (not loaded; `job(id:)` reads one).
    public var finishedJobs: Int
}

/// One staged part of an attempt's emissions and outputs (its encoding is the coordinator's).
public struct StagedPart: Sendable, Hashable {
    public var taskId: UInt64
    public var attempt: Int
    public var seq: Int
    public var jobId: String
    public var body: [UInt8]
    public init(taskId: UInt64, attempt: Int, seq: Int, jobId: String, body: [UInt8]) {
        self.taskId = taskId
        self.attempt = attempt
        self.seq = seq
        self.jobId = jobId
        self.body = body
    }
}
