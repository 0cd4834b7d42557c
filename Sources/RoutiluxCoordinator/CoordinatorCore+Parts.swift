import DequeModule
import RoutiluxCore
import RoutiluxStore
import RoutiluxWire

/// Emissions streamed in parts: a running activation's PARTs are staged (in the
/// store, or in memory without one) and acknowledged with STAGED; when its RESULT
/// is ok they are routed, in order, a few parts per turn, so that a handler
/// emitting millions of items never makes the coordinator hold them all. A failed
/// attempt's parts are dropped unseen.
extension CoordinatorCore {
    /// Parts routed per turn (each up to 1000 entries from the stock worker).
    static let partsPerTurn = 4

    /// One PART of the attempt the ledger holds: checked, staged, acknowledged.
    func onPart(_ p: PartMessage, bodies: [RawJSON], peer: Sender?, now: Double) {
        guard let entry = ledger[p.taskId], entry.workerId == p.workerId, entry.jobId == p.jobId, entry.task.attempt == p.attempt else {
            // Not wanted any more (taken back or answered): the worker stops it.
            stopAttempt(jobId: p.jobId, taskId: p.taskId, attempt: p.attempt, worker: p.workerId, seq: p.seq)
            return drop(.stale, .part, peer: peer, now: now, why: "PART \(p.seq) of task \(p.taskId) attempt \(p.attempt) from \(p.workerId) is not for an attempt in the ledger", level: .debug)
        }
        guard let job = jobs[p.jobId], job.run == entry.run, !job.state.status.isTerminal else {
            // Its job ended (or is gone): nothing of the attempt will be routed, so it ends here and
            // on the worker, whose late answer returns the credit it holds.
            takeBackForGood(p.taskId, entry)
            stopAttempt(jobId: p.jobId, taskId: p.taskId, attempt: p.attempt, worker: p.workerId, seq: p.seq)
            return drop(.stale, .part, peer: peer, now: now, why: "PART \(p.seq) of task \(p.taskId) from \(p.workerId): its job has ended", level: .debug)
        }
        workers[p.workerId]?.trust()
        let what = "worker \(p.workerId)'s PART \(p.seq) for \(entry.task.routineId).\(entry.task.slot)"
        guard config.partWindow > 0 else {
            return failStreamed(entry, taskId: p.taskId, type: "ProtocolError", "\(what): this coordinator takes no PARTs (JOINED had no part_window)", now: now)
        }
        if p.seq < entry.parts {
            // Sent again (the worker heard no STAGED for a while): it is staged already; say so again.
            if let token = workers[p.workerId]?.token {
                actions.append(.send(workerId: p.workerId, .staged(StagedMessage(jobId: p.jobId, taskId: p.taskId, attempt: p.attempt, seq: entry.parts - 1, token: token))))
            }
            return
        }
        guard p.seq == entry.parts else {
            return failStreamed(entry, taskId: p.taskId, type: "IncompleteResult", "\(what) arrived where PART \(entry.parts) was due (one was lost)", now: now)
        }
        if recorder != nil, let bad = bodies.firstIndex(where: { !JSONValidator.isValid($0.bytes) }) {
            return failStreamed(entry, taskId: p.taskId, type: "MalformedResult", "\(what): body \(bad + 1) of \(bodies.count) is not JSON", now: now)
        }
        let bytes = bodies.reduce(0) { $0 + $1.bytes.count }
        guard bytes <= config.maxResultBytes - entry.partBytes else {
            return failStreamed(entry, taskId: p.taskId, type: "ResultTooLarge", "ResultTooLarge: \(entry.task.routineId).\(entry.task.slot) emitted over \(config.maxResultBytes) bytes (--max-result-bytes) in \(entry.parts + 1) parts", now: now)
        }
        // Without a journal, staged parts are in memory: all attempts together stay within the same bound.
        guard recorder != nil || bytes <= config.maxResultBytes - memoryPartBytes else {
            return failStreamed(entry, taskId: p.taskId, type: "ResultTooLarge", "ResultTooLarge: the parts staged in memory (no state dir) would exceed \(config.maxResultBytes) bytes (--max-result-bytes) with \(what)", now: now)
        }
        let emissions = zip(p.emissions, bodies.prefix(p.emissions.count)).map { ($0, $1) }
        let outputs = zip(p.outputs, bodies.dropFirst(p.emissions.count)).map { ($0, $1) }
        stage(StagedPartCoding.encode(emissions: emissions, outputs: outputs), of: entry, seq: p.seq)
        ledger[p.taskId]!.parts += 1
        ledger[p.taskId]!.partBytes += bytes
        ledger[p.taskId]!.partEmissions += p.emissions.count
        counters.partsStaged += 1
        if let token = workers[p.workerId]?.token {
            actions.append(.send(workerId: p.workerId, .staged(StagedMessage(jobId: p.jobId, taskId: p.taskId, attempt: p.attempt, seq: p.seq, token: token))))
        }
    }

    /// Keeps one part of an attempt until its RESULT.
    func stage(_ body: [UInt8], of entry: LedgerEntry, seq: Int) {
        if let recorder {
            recorder.stage(StagedPart(taskId: entry.task.taskId, attempt: entry.task.attempt, seq: seq, jobId: entry.jobId, body: body))
        } else {
            memoryParts[TaskAttempt(taskId: entry.task.taskId, attempt: entry.task.attempt), default: []].append(body)
            memoryPartBytes += body.count
        }
    }

    /// Drops the staged parts of an attempt that will not be routed.
    func discardParts(of entry: LedgerEntry) {
        guard entry.parts > 0 else { return }
        discardParts(TaskAttempt(taskId: entry.task.taskId, attempt: entry.task.attempt))
    }

    func discardParts(_ a: TaskAttempt) {
        if let recorder {
            recorder.unstage(a)
        } else if let parts = memoryParts.removeValue(forKey: a) {
            memoryPartBytes -= parts.reduce(0) { $0 + $1.count }
        }
    }

    /// An attempt the worker still runs but no longer holds here: its late answer returns its credit.
    func rememberTakenBack(_ taskId: UInt64, _ entry: LedgerEntry) {
        guard let w = workers[entry.workerId] else { return }
        while w.takenBack.count >= 4 * config.maxCredit, let any = w.takenBack.keys.first { w.takenBack.removeValue(forKey: any) }
        w.takenBack[TaskAttempt(taskId: taskId, attempt: entry.task.attempt)] = entry.ordinal
    }

    /// Ends an attempt here for good (no result of it is wanted): out of the ledger, its parts
    /// dropped; the worker's late answer returns the credit it holds.
    func takeBackForGood(_ taskId: UInt64, _ entry: LedgerEntry) {
        _ = release(taskId)
        rememberTakenBack(taskId, entry)
    }

    /// Tells a worker to stop an attempt this coordinator no longer wants.
    func stopAttempt(jobId: String, taskId: UInt64, attempt: Int, worker: String, seq: Int) {
        guard let token = workers[worker]?.token else { return }
        actions.append(.send(workerId: worker, .staged(StagedMessage(jobId: jobId, taskId: taskId, attempt: attempt, seq: seq, stop: true, token: token))))
    }

    /// A streamed attempt that cannot be accepted fails now (through its error policy); the worker
    /// is told to stop it, and its late answer returns the credit it holds.
    func failStreamed(_ entry: LedgerEntry, taskId: UInt64, type: String, _ why: String, now: Double) {
        counters.dropped[.malformed, default: 0] += 1
        log(.warning, "job \(entry.jobId): \(why)")
        stopAttempt(jobId: entry.jobId, taskId: taskId, attempt: entry.task.attempt, worker: entry.workerId, seq: max(0, entry.parts - 1))
        let token = workers[entry.workerId]?.token ?? ""
        onResult(
            ResultMessage(
                workerId: entry.workerId, jobId: entry.jobId, taskId: taskId, attempt: entry.task.attempt, outcome: .error,
                error: why.hasPrefix(type) ? why : "\(type): \(why)", errorType: type, credit: 0, token: token),
            bodies: [], peer: nil, now: now)
        rememberTakenBack(taskId, entry)
    }


    // MARK: - Routing staged parts

    /// Routes the next parts of the job's first streamed activation: read back from the store
    /// (fed in as `.stagedRead`), or, without one, from memory, a few per turn.
    func continueRouting(_ job: JobRecord, now: Double) {
        guard let first = job.routing.first, !first.reading, !job.state.status.isTerminal else { return }
        let count = min(Self.partsPerTurn, first.parts - first.next)
        if recorder != nil {
            job.routing[0].reading = true
            actions.append(.readStaged(jobId: job.id, run: job.run, taskId: first.taskId, attempt: first.attempt, from: first.next, count: count))
            return
        }
        let parts = Array((memoryParts[TaskAttempt(taskId: first.taskId, attempt: first.attempt)] ?? []).dropFirst(first.next).prefix(count))
        guard !parts.isEmpty else {
            log(.error, "job \(job.id): staged part \(first.next) of \(first.parts) of task \(first.taskId) is missing from memory")
            return fail(job.id, error: "staged emissions of \(first.routineId) (task \(first.taskId), part \(first.next) of \(first.parts)) are missing", errorType: "JournalError", routineId: first.routineId, now: now)
        }
        routeParts(parts, of: job, now: now)
        // The rest on the next turn, which comes at once: the loop is not held up by one long result.
        if !job.routing.isEmpty && !routingWakeAsked {
            routingWakeAsked = true
            actions.append(.wakeAt(now))
        }
    }

    /// Staged parts read back (nil: the read failed; it is asked again at the next tick).
    func onStagedRead(jobId: String, run: UInt64, taskId: UInt64, from: Int, parts: [[UInt8]]?, now: Double) {
        guard let job = jobs[jobId], job.run == run, let first = job.routing.first, first.taskId == taskId, first.next == from else { return }
        job.routing[0].reading = false
        guard let parts else { return }
        guard !parts.isEmpty else {
            // The store lost them: the job cannot be completed faithfully.
            log(.error, "job \(jobId): staged part \(from) of \(first.parts) of task \(taskId) is missing from the journal")
            fail(jobId, error: "JournalError: the staged emissions of \(first.routineId) (task \(taskId), part \(from) of \(first.parts)) are missing from the journal", errorType: "JournalError", routineId: first.routineId, now: now)
            return
        }
        routeParts(parts, of: job, now: now)
        continueRouting(job, now: now)
    }

    /// Routes parts of the job's first streamed activation, in order; the last one settles it.
    /// (The caller asks for the next ones: one batch per turn.)
    func routeParts(_ parts: [[UInt8]], of job: JobRecord, now: Double) {
        guard var r = job.routing.first else { return }
        journalTouch(job)
        for blob in parts {
            do {
                let e = try StagedPartCoding.decode(blob)
                route(e.emissions, outputs: e.outputs, from: r.routineId, in: job, now: now)
            } catch {
                log(.error, "job \(job.id): staged part \(r.next) of task \(r.taskId) cannot be read (\(error))")
                fail(job.id, error: "JournalError: staged emissions of \(r.routineId) (task \(r.taskId), part \(r.next)) cannot be read: \(error)", errorType: "JournalError", routineId: r.routineId, now: now)
                return
            }
            r.next += 1
        }
        guard r.next >= r.parts else {
            job.routing[0] = r
            markRunnable(job.id)
            return
        }
        job.routing.removeFirst()
        discardParts(TaskAttempt(taskId: r.taskId, attempt: r.attempt))
        counters.streamedResultsRouted += 1
        settle(job, routine: r.routineId, retries: r.retries, effects: r.effects, now: now)
        answerPausedWaiters(job)
    }

    /// Streamed activations whose routing waits for a turn, or for a read that failed (each tick).
    func resumeRouting(now: Double) {
        for job in jobsInRunOrder where !job.routing.isEmpty && !job.routing[0].reading { continueRouting(job, now: now) }
    }

    // MARK: - Journal

    /// The job's routing in its meta blob.
    static func routingJSON(_ job: JobRecord) -> JSONValue? {
        guard !job.routing.isEmpty else { return nil }
        return .array(job.routing.map { r in
            var o: JSONObject = [
                "task_id": .int(Int(r.taskId)), "attempt": .int(r.attempt), "routine": .string(r.routineId), "retries": .int(r.retries),
                "parts": .int(r.parts), "next": .int(r.next),
            ]
            if let e = r.effects { o["effects"] = e.valueOrError }
            return .object(o)
        })
    }

    static func routing(from v: JSONValue) throws(RoutineError) -> Deque<StagedRouting> {
        var out: Deque<StagedRouting> = []
        for (i, r) in (v.arrayValue ?? []).enumerated() {
            guard let id = r["task_id"].intValue, id > 0, let attempt = r["attempt"].intValue, let rid = r["routine"].stringValue,
                let parts = r["parts"].intValue, parts > 0, let next = r["next"].intValue, (0..<parts).contains(next)
            else { throw RoutineError("routing[\(i)] is not {task_id, attempt, routine, parts, next}") }
            out.append(StagedRouting(
                taskId: UInt64(id), attempt: attempt, routineId: rid, retries: max(0, r["retries"].intValue ?? 0), parts: parts, next: next,
                effects: r["effects"] == .null ? nil : RawJSON(r["effects"])))
        }
        return out
    }
}
