import RoutiluxCore

/// A joined worker as the coordinator sees it. A class: it is read and changed
/// on every message, and a struct this size would be copied (every field
/// retained and released) at each look-up.
final class WorkerRecord {
    let id: String
    /// The join session this registration belongs to (the worker's).
    let session: String
    /// The session token JOINED handed it: every later message must carry it.
    let token: String
    /// With CURVE: the key it joined with (the only key that speaks for it).
    let key: String?
    let fingerprint: String?
    let endpoint: String
    let types: Set<String>
    let capacity: Int
    /// Tasks it will still accept (never more than `--max-credit`).
    var credit: Int
    /// Task ids sent to it and not yet answered (its part of the ledger).
    var inFlight: Set<UInt64> = []
    var lastSeen: Double
    var joinedAt: Double
    var host: String?
    var pid: Int?
    /// It drains (SIGTERM): it is sent nothing more, and LEAVEs once its tasks are done.
    var draining = false
    /// The secret its JOIN carried (a restarted process of the same slot carries it too).
    var idSecret: String?
    /// TASKs sent this session; each ledger entry has its ordinal.
    var tasksSent = 0
    /// Leases that ran out in a row with no result between.
    var expiriesInARow = 0
    /// Why it is sent no tasks (it took tasks and never answered), if so, and
    /// until when: then it is tried again (a task that keeps running out its
    /// leases fails with TaskTimeout rather than waiting for it forever).
    var unresponsive: String?
    var unresponsiveUntil = 0.0
    /// Attempts taken back from it while it may still run them (lease ran out):
    /// their late RESULT gives its credit back. Bounded.
    /// (With each attempt's ordinal, so a heartbeat can show one will never be answered.)
    var takenBack: [TaskAttempt: Int] = [:]

    /// It answered: its run of lease expiries ends and a pause is lifted. Returns whether it was paused.
    @discardableResult
    func trust() -> Bool {
        expiriesInARow = 0
        defer {
            unresponsive = nil
            unresponsiveUntil = 0
        }
        return unresponsive != nil
    }

    init(
        id: String, session: String, token: String, key: String?, fingerprint: String?, endpoint: String, types: Set<String>,
        capacity: Int, credit: Int, lastSeen: Double, joinedAt: Double, host: String?, pid: Int?
    ) {
        self.id = id
        self.session = session
        self.token = token
        self.key = key
        self.fingerprint = fingerprint
        self.endpoint = endpoint
        self.types = types
        self.capacity = capacity
        self.credit = credit
        self.lastSeen = lastSeen
        self.joinedAt = joinedAt
        self.host = host
        self.pid = pid
    }
}

/// The in-flight ledger: the record of outstanding work (never ZeroMQ's queues).
struct LedgerEntry {
    var jobId: String
    /// The job's run when sent (see `JobRecord.run`).
    var run: UInt64
    var workerId: String
    var task: PendingTask
    var sentAt: Double
    /// Its place among the TASKs sent to this worker this session (1, 2, ...).
    var ordinal: Int
    /// When the lease runs out (nil: no deadline).
    var deadline: Double?
    /// PARTs of this attempt staged so far, their body bytes and emissions.
    var parts = 0
    var partBytes = 0
    var partEmissions = 0
}

/// One attempt of one task.
struct TaskAttempt: Hashable {
    var taskId: UInt64
    var attempt: Int
}
