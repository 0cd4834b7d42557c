import RoutiluxCore
import RoutiluxWire

/// Task leases: every dispatched task has a deadline, and a worker's heartbeat
/// says which tasks it still holds, so that a lost task is taken back at once
/// and a long one only at its deadline.
extension CoordinatorCore {
    /// Times a task's lease may run out before it fails with `TaskTimeout` (through its error policy).
    static let leaseExpiriesPerTask = 3
    /// How long a worker whose leases keep running out is sent nothing.
    static let unresponsivePause = 30.0

    /// A task the worker received (by the count its heartbeat gives) and no
    /// longer holds, with no RESULT before the heartbeat, is lost: it goes back
    /// to the queue. (RESULTs and heartbeats travel in order on one link.)
    func onHeartbeat(_ h: HeartbeatMessage, now: Double) {
        guard let held = h.held, let received = h.received, let w = workers[h.senderId] else { return }
        let holding = Set(held)
        // Attempts taken back at their lease that the worker received and no longer holds, with no
        // answer before this heartbeat: no answer will come (their TASK was lost), so their credit is free.
        let unanswered = w.takenBack.filter { $0.value <= received && !holding.contains($0.key.taskId) }
        for a in unanswered.keys {
            workers[h.senderId]!.takenBack.removeValue(forKey: a)
            grant(1, to: h.senderId)
        }
        let lost = w.inFlight.compactMap { t in ledger[t].map { (t, $0) } }
            // Past its deadline it is the lease's to take back (a late tick), not lost.
            .filter { $0.1.ordinal <= received && !holding.contains($0.0) && !($0.1.deadline.map { now >= $0 } ?? false) }
            .sorted { $0.1.ordinal > $1.1.ordinal }
        guard !lost.isEmpty else { return }
        log(.warning, "worker \(h.senderId) no longer holds \(lost.count) task(s) it received and never answered; re-queueing them")
        var touched: [JobRecord] = []
        for (t, entry) in lost {
            counters.tasksLost += 1
            // The worker does not hold it: the credit it took is free again.
            grant(1, to: h.senderId)
            // Lost again and again (a TASK no worker can take): it fails rather than loop.
            if entry.task.expiries + 1 >= Self.leaseExpiriesPerTask {
                giveUp(t, entry: entry, why: "task \(entry.task.routineId).\(entry.task.slot) was lost \(entry.task.expiries + 1) times (its worker received it and no longer holds it)", now: now)
                continue
            }
            if let job = takeBack(t, now: now, expired: true) { touched.append(job) }
        }
        for job in touched { answerPausedWaiters(job) }
    }

    /// Takes back every task whose lease ran out. The late answer is stale. A
    /// task that ran out `leaseExpiriesPerTask` times fails with TaskTimeout; a
    /// worker whose leases keep running out with no answer between is sent no more tasks.
    func expireLeases(now: Double) {
        let due = ledger.filter { $0.value.deadline.map { now >= $0 } ?? false }.sorted { $0.value.ordinal > $1.value.ordinal }
        for (taskId, entry) in due { expire(taskId, entry, now: now) }
    }

    /// One lease ran out: the task is taken back (or, the third time, fails).
    func expire(_ taskId: UInt64, _ entry: LedgerEntry, now: Double) {
        counters.leasesExpired += 1
        let lease = entry.deadline.map { $0 - entry.sentAt } ?? 0
        if let w = workers[entry.workerId] {
            w.expiriesInARow += 1
            rememberTakenBack(taskId, entry)
            if w.expiriesInARow >= config.unresponsiveAfterExpiries && now >= w.unresponsiveUntil {
                w.unresponsive = "\(w.expiriesInARow) task leases ran out in a row with no answer"
                w.unresponsiveUntil = now + Self.unresponsivePause
                w.expiriesInARow = 0
                log(.warning, "worker \(w.id) is sent no tasks for \(Int(Self.unresponsivePause)) s: \(w.unresponsive!) (an answer, or a re-join, trusts it again)")
            }
        }
        if entry.task.expiries + 1 >= Self.leaseExpiriesPerTask {
            giveUp(taskId, entry: entry, why: "task \(entry.task.routineId).\(entry.task.slot) ran past its task_timeout of \(Self.seconds(lease)) \(entry.task.expiries + 1) times", now: now)
            return
        }
        log(.warning, "job \(entry.jobId): task \(entry.task.routineId).\(entry.task.slot) on worker \(entry.workerId) ran past its task_timeout of \(Self.seconds(lease)); re-queued")
        if let job = takeBack(taskId, now: now, expired: true) { answerPausedWaiters(job) }
    }

    /// Ends an activation that cannot be delivered: it fails with TaskTimeout, through its error policy.
    func giveUp(_ taskId: UInt64, entry: LedgerEntry, why: String, now: Double) {
        guard let (task, job) = release(taskId) else { return }
        log(.warning, "job \(job.id): \(why)")
        guard !job.state.status.isTerminal else { return }
        let r = ResultMessage(
            workerId: entry.workerId, jobId: job.id, taskId: taskId, attempt: task.attempt, outcome: .error, error: why, errorType: "TaskTimeout")
        var fresh = task
        fresh.expiries = 0  // a retry the policy grants gets its full leases again
        onError(r, task: fresh, job: job, now: now)
        answerPausedWaiters(job)
    }

    static func seconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
    }
}
