import RoutiluxCore

/// A joined worker as the coordinator sees it.
struct WorkerRecord {
    let id: String
    /// The join session this registration belongs to.
    let session: String
    let endpoint: String
    let types: Set<String>
    let capacity: Int
    /// Tasks it will still accept.
    var credit: Int
    /// Task ids sent to it and not yet answered (its part of the ledger).
    var inFlight: Set<UInt64> = []
    var lastSeen: Double
    var host: String?
    var pid: Int?
}

/// The in-flight ledger: the record of outstanding work (never ZeroMQ's queues).
struct LedgerEntry {
    var jobId: String
    /// The job's run when sent (see `JobRecord.run`).
    var run: UInt64
    var workerId: String
    var task: PendingTask
    var sentAt: Double
}
