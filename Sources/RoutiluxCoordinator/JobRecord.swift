import DequeModule
import RoutiluxCore

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
}

/// A failed activation waiting for its retry time.
struct ScheduledRetry: Sendable {
    var due: Double
    var task: PendingTask
}

/// Everything the coordinator keeps for one job. Nothing in here is shared
/// with another job: queue, counts, state and waiters are the job's own.
/// A class, so that updating a job never copies its history or queue.
final class JobRecord {
    let id: String
    let flow: CompiledFlow
    var state: JobState
    /// Tasks not yet dispatched, in FIFO enqueue order.
    var queue: Deque<PendingTask> = []
    /// Tasks sent to workers and not yet answered.
    var inFlight = 0
    /// Failed activations waiting to run again, in the order they failed.
    var retrying: [ScheduledRetry] = []
    /// Bound on `inFlight` (execution.max_workers).
    let maxWorkers: Int
    var waiters: [ReplyTarget] = []
    var deadline: Double?
    var warnedNoWorker: Set<String> = []

    init(id: String, flow: CompiledFlow, state: JobState, maxWorkers: Int) {
        self.id = id
        self.flow = flow
        self.state = state
        self.maxWorkers = maxWorkers
    }

    /// Queued plus dispatched plus waiting to retry: the job completes when this reaches zero.
    var outstanding: Int { queue.count + inFlight + retrying.count }
}
