import DequeModule
import RoutiluxCore
import RoutiluxWire

/// Sending queued tasks to workers, against credit and each job's max_workers.
extension CoordinatorCore {
    // MARK: - Dispatch

    /// Sends queued tasks to workers while credit and max_workers allow, jobs taking turns.
    func dispatch(now: Double) {
        var idle = 0
        while !runnable.isEmpty && idle < runnable.count {
            let jobId = runnable.removeFirst()
            // A sequential job routes all a streamed activation emitted before it runs anything
            // more (routilux's FIFO order); it is marked runnable again as that ends.
            guard let job = jobs[jobId], !job.queue.isEmpty, job.state.status == .running, job.maxWorkers > 1 || job.routing.isEmpty else {
                // Paused jobs become runnable again on resume; finished ones never; one whose
                // queue is in the store becomes runnable when it is read back.
                if let job = jobs[jobId] { requestReadBack(job) }
                runnableSet.remove(jobId)
                continue
            }
            // A long queue goes deepest lane first, so that items reach the sink while the source
            // still emits (max_workers 1 keeps routilux's strict FIFO).
            let deepestFirst = job.maxWorkers > 1 && job.queue.count > Self.deepestFirstAbove(job)
            guard job.inFlight < job.maxWorkers, let (lane, task) = job.queue.next(deepestFirst: deepestFirst) else {
                // (Or its oldest tasks are in the store: they are asked for.)
                requestReadBack(job)
                // At its limit: it becomes runnable again when a result frees a slot.
                runnableSet.remove(jobId)
                continue
            }
            let merge = job.flow.merge(task.routineId, task.slot)
            let keepsState = job.flow.stateful.contains(task.routineId)
            if (merge != nil && job.busySlots.contains(task.slotKey)) || (keepsState && job.busySlots.contains(task.routineId)) {
                // A stateful slot or routine takes one activation at a time (its state
                // is the previous one's result); the job waits, in FIFO order.
                runnableSet.remove(jobId)
                continue
            }
            guard let type = job.flow.types[task.routineId], let workerId = pickWorker(for: type, now: now, avoiding: task.avoid) else {
                if let type = job.flow.types[task.routineId], !workers.values.contains(where: { $0.types.contains(type) }),
                    job.warnedNoWorker.insert(type).inserted
                {
                    log(.warning, "job \(jobId) waits: no joined worker hosts routine type '\(type)'")
                } else if let type = job.flow.types[task.routineId],
                    workers.values.contains(where: { $0.types.contains(type) }),
                    !workers.values.contains(where: { $0.types.contains(type) && now >= $0.unresponsiveUntil }),
                    job.warnedNoWorker.insert("unresponsive:" + type).inserted
                {
                    log(.warning, "job \(jobId) waits: every worker hosting '\(type)' is unresponsive for now (see routilux cluster status)")
                }
                runnable.append(jobId)
                idle += 1
                continue
            }
            idle = 0
            job.queue.removeFirst(lane: lane)
            queuedInMemory -= 1
            requestReadBack(job)
            var state: RawJSON?
            if merge != nil { state = job.slotStates[task.slotKey] ?? RawJSON(.object([:])) }
            var memory: RawJSON?
            if keepsState { memory = job.routineMemory[task.routineId] ?? RawJSON(.object([:])) }
            // Handlers read the job's shared data as of now (sent only when there is some).
            let shared = job.state.sharedData.isEmpty ? nil : RawJSON(.object(job.state.sharedData))
            let config = job.flow.configs[task.routineId] ?? RawJSON(.object([:]))
            let bytes = [task.payload, config, state, memory, shared].reduce(0) { $0 + ($1?.bytes.count ?? 0) }
            if bytes > self.config.maxMessageBytes - Self.headerAllowance {
                // It could not be sent: the activation fails, through the routine's error policy.
                let r = ResultMessage(
                    workerId: workerId, jobId: jobId, taskId: task.taskId, attempt: task.attempt, outcome: .error,
                    error: "PayloadTooLarge: the task for \(task.routineId).\(task.slot) is \(bytes) bytes (payload \(task.payload.bytes.count), state \((state?.bytes.count ?? 0) + (memory?.bytes.count ?? 0)), shared \(shared?.bytes.count ?? 0)), over the \(self.config.maxMessageBytes)-byte message limit (--max-message-bytes)",
                    errorType: "PayloadTooLarge")
                journalGone(task.taskId)  // a retry the policy grants journals it again
                job.inFlight += 1  // onError settles it as if it had run
                onError(r, task: task, job: job, now: now)
                job.inFlight -= 1
                if !job.state.status.isTerminal, job.outstanding == 0 { complete(jobId, now: now) }
                if !job.queue.isEmpty { runnable.append(jobId) } else { runnableSet.remove(jobId) }
                continue
            }
            if job.state.routineStates[task.routineId] == nil {
                job.state.setRoutineState(task.routineId, ["status": "running"], at: Timestamp(seconds: now))
            }
            job.inFlight += 1
            job.inFlightIds.insert(task.taskId)
            workers[workerId]!.credit -= 1
            workers[workerId]!.inFlight.insert(task.taskId)
            workers[workerId]!.tasksSent += 1
            let lease = job.flow.leases[task.routineId]
            ledger[task.taskId] = LedgerEntry(
                jobId: jobId, run: job.run, workerId: workerId, task: task, sentAt: now, ordinal: workers[workerId]!.tasksSent,
                deadline: lease.map { now + $0 })
            counters.tasksDispatched += 1
            // (Its row stays "queued": the job's meta lists what is in flight, rewritten with it anyway.)
            journalTouch(job)
            if merge != nil { job.busySlots.insert(task.slotKey) }
            if keepsState { job.busySlots.insert(task.routineId) }
            let header = TaskMessage(
                jobId: jobId, taskId: task.taskId, flowId: job.flow.definition.flowId, routineId: task.routineId,
                routineType: type, slot: task.slot, attempt: task.attempt, paramMapping: task.mapping, merge: merge,
                shared: shared == nil ? nil : true, routineState: keepsState ? true : nil, token: workers[workerId]!.token,
                timeoutMs: lease.map { max(1, Int($0 * 1000)) })
            actions.append(.send(workerId: workerId, .task(header, payload: task.payload, config: config, slotState: state, routineState: memory, shared: shared)))
            if job.queue.isEmpty { runnableSet.remove(jobId) } else { runnable.append(jobId) }
        }
    }

    /// Queued tasks beyond which a job that runs tasks in parallel takes its deepest ones first.
    static func deepestFirstAbove(_ job: JobRecord) -> Int { max(64, 4 * job.maxWorkers) }

    /// Room left in a message for its tag and header.
    static let headerAllowance = 64 << 10

    /// The least loaded worker hosting `type` that has credit: fewest leases run
    /// out lately, then fewest tasks in flight, then join order; not `avoiding`
    /// (the worker a task was taken back from) while another can take it. Credit
    /// only gates: a worker that claims more is not sent more while others have room.
    func pickWorker(for type: String, now: Double, avoiding: String? = nil) -> String? {
        var best: String?
        var bestRank = (Int.max, Int.max)
        var fallback: String?
        let quiet = config.holdBackQuietWorkers ? config.quietAfter : .infinity
        for id in workerOrder {
            guard let w = workers[id], w.credit > 0, !w.draining, now >= w.unresponsiveUntil, now - w.lastSeen <= quiet, w.types.contains(type) else { continue }
            if id == avoiding {
                fallback = id
                continue
            }
            let rank = (w.expiriesInARow, w.inFlight.count)
            if rank < bestRank {
                best = id
                bestRank = rank
            }
        }
        return best ?? fallback
    }
}
