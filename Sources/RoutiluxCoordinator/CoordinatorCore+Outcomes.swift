import DequeModule
import RoutiluxCore
import RoutiluxWire

/// What a result brings besides emissions: handler effects, and errors under the error policies.
extension CoordinatorCore {
    /// A handler's shared-data updates, shared-log entries, deferred events and
    /// pause request, in that order. Bad effects are logged, never fatal.
    func apply(_ body: RawJSON, of rid: String, to job: JobRecord, now: Double) {
        let ts = Timestamp(seconds: now)
        let effects: HandlerEffects
        do { effects = try HandlerEffects(json: try body.value()) } catch {
            counters.dropped[.malformed, default: 0] += 1
            log(.warning, "job \(job.id): ignored the effects of \(rid): \(error)")
            return
        }
        for u in effects.sharedUpdates { job.state.sharedData[u.key] = u.value }
        for var entry in effects.sharedLog {
            if entry["timestamp"] == nil { entry["timestamp"] = .string(ts.iso) }
            job.state.sharedLog.append(.object(entry))
        }
        for d in effects.deferred {
            job.state.deferredEvents.append([
                "routine_id": .string(rid), "event_name": .string(d.event), "data": .object(d.data), "timestamp": .string(ts.iso),
            ])
        }
        journalTouch(job)
        for id in effects.cancelledTimers {
            if let old = job.timers.removeValue(forKey: rid + "/" + id) { journalGone(old.task.taskId) }
        }
        for t in effects.timers {
            let due = now + t.after
            let key = rid + "/" + t.id
            let timer = ScheduledTimer(due: due, task: PendingTask(
                taskId: takeTaskId(), routineId: rid, slot: t.slot, payload: RawJSON(.object(t.data)), mapping: nil, attempt: 1,
                source: TaskSource(routine: rid, event: "timer:" + t.id), createdAt: now))
            if let old = job.timers.updateValue(timer, forKey: key) { journalGone(old.task.taskId) }
            journalTimer(timer, key: key, of: job)
            actions.append(.wakeAt(due))
        }
        job.state.updatedAt = ts
        if let p = effects.pause, job.state.status == .running {
            try? pause(job, reason: p.reason, checkpoint: p.checkpoint, now: now)
        }
    }

    /// A failed activation: the routine's error policy (else the flow's, else
    /// stop) decides. Whatever the failed attempt emitted was never sent, so
    /// nothing of it is routed.
    func onError(_ r: ResultMessage, task: PendingTask, job: JobRecord, now: Double) {
        let rid = task.routineId
        let ts = Timestamp(seconds: now)
        let message = r.error ?? "unknown error"
        let errorType = r.errorType ?? "RoutineError"
        let policy = job.flow.errorPolicy(for: rid)
        journalTouch(job)
        var record: JSONObject = [
            "slot": .string(task.slot), "error": .string(message), "error_type": .string(errorType), "attempt": .int(task.attempt),
        ]
        switch policy?.strategy ?? .stop {
        case .stop:
            job.state.record(rid, "error", RawJSON(.object(record)), at: ts)
            fail(job.id, error: message, errorType: errorType, routineId: rid, now: now)
            return
        case .continue:
            job.state.record(rid, "error", RawJSON(.object(record)), at: ts)
            job.state.record(rid, "error_continued", RawJSON(["error": .string(message), "error_type": .string(errorType)]), at: ts)
            job.state.setRoutineState(rid, ["status": "error_continued", "error": .string(message)], at: ts)
        case .skip:
            job.state.record(rid, "error", RawJSON(.object(record)), at: ts)
            job.state.setRoutineState(rid, ["status": "skipped", "error": .string(message)], at: ts)
        case .retry:
            let policy = policy!
            guard policy.retries(errorType), task.retries < policy.maxRetries else {
                let why = policy.retries(errorType)
                    ? "retries exhausted after \(task.retries) of \(policy.maxRetries)"
                    : "error type \(errorType) is not retryable (retryable: \(policy.retryableErrors.joined(separator: ", ")))"
                record["retry"] = .string(why)
                job.state.record(rid, "error", RawJSON(.object(record)), at: ts)
                fail(job.id, error: "\(message) (\(why))", errorType: errorType, routineId: rid, now: now)
                return
            }
            var again = task
            again.retries += 1
            again.attempt += 1
            let delay = policy.delay(beforeRetry: again.retries)
            record["retry"] = ["retry": .int(again.retries), "of": .int(policy.maxRetries), "delay": .double(delay)]
            job.state.record(rid, "error", RawJSON(.object(record)), at: ts)
            job.retrying.append(ScheduledRetry(due: now + delay, task: again))
            journalRetry(job.retrying[job.retrying.count - 1], of: job)
            counters.retriesScheduled += 1
            actions.append(.wakeAt(now + delay))
            log(.info, "job \(job.id): \(rid).\(task.slot) failed (\(message)); retry \(again.retries) of \(policy.maxRetries) in \(delay) s")
        }
        if job.queue.total > 0 { markRunnable(job.id) }
        if job.outstanding == 0 { complete(job.id, now: now) }
    }

    /// Queues the activations of timers that are due, in due order.
    func releaseDueTimers(now: Double) {
        for job in jobsInRunOrder where !job.timers.isEmpty && !job.state.status.isTerminal {
            let id = job.id
            let due = job.timers.filter { $0.value.due <= now }.sorted { $0.value.due < $1.value.due }
            guard !due.isEmpty else { continue }
            for (key, t) in due {
                job.timers.removeValue(forKey: key)
                enqueue(t.task, in: job)
            }
            markRunnable(id)
        }
    }

    /// Moves retries whose time has come to the back of their jobs' queues.
    func releaseDueRetries(now: Double) {
        for job in jobsInRunOrder where !job.retrying.isEmpty && !job.state.status.isTerminal {
            let id = job.id
            let due = job.retrying.filter { $0.due <= now }
            guard !due.isEmpty else { continue }
            job.retrying.removeAll { $0.due <= now }
            for r in due { enqueue(r.task, in: job) }
            markRunnable(id)
        }
    }
}
