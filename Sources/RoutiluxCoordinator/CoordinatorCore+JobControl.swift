import DequeModule
import RoutiluxCore
import RoutiluxWire

/// Pause, resume, cancel, and resuming a saved job: per job, never touching another.
extension CoordinatorCore {
    // MARK: - Pause, resume, cancel

    func onControl(_ request: JobControl, reply: ReplyTarget, now: Double) {
        if case .resumeFrom(let saved, let flow) = request.operation {
            return resumeSaved(saved, flow: flow, reply: reply, now: now)
        }
        guard let job = jobs[request.jobId] else {
            actions.append(.reply(reply, .unknownJob(request.jobId)))
            return
        }
        do {
            switch request.operation {
            case .pause(let reason, let checkpoint): try pause(job, reason: reason, checkpoint: checkpoint, now: now)
            case .resume:
                if job.state.status == .pending {
                    actions.append(.reply(reply, .failure("job \(job.id) is pending (\(job.state.waitingFor ?? "not started")): nothing to resume")))
                    return
                }
                try resume(job, now: now)
            case .cancel(let reason): try cancel(job, reason: reason, now: now)
            case .resumeFrom: break
            }
        } catch {
            actions.append(.reply(reply, .failure(error.description)))
            return
        }
        actions.append(.reply(reply, ControlReply(ok: true, error: nil, jobId: job.id, status: job.state.status, jobState: job.exportedState)))
    }

    /// Stops dispatching the job's tasks. In-flight ones finish; what they emit is
    /// queued (parked) with the rest, and shows in the JobState's pending_tasks.
    func pause(_ job: JobRecord, reason: String, checkpoint: JSONValue?, now: Double) throws(JobStatusError) {
        let ts = Timestamp(seconds: now)
        try job.state.transition(to: .paused, at: ts)
        journalTouch(job)
        job.state.pausePoints.append([
            "timestamp": .string(ts.iso), "reason": .string(reason), "current_routine_id": job.state.currentRoutineId.map { .string($0) } ?? .null,
            "checkpoint": checkpoint?.nonNull ?? .object([:]), "pending_tasks_count": .int(job.queue.total + job.retrying.count),
            "active_tasks_count": .int(job.inFlight), "queue_size": .int(job.queue.total),
        ])
        log(.info, "job \(job.id) paused\(reason.isEmpty ? "" : ": \(reason)") (\(job.queue.total) queued, \(job.inFlight) in flight)")
        // Its pending tasks are exported whole: what waits in the store comes back into memory.
        requestReadBack(job, all: true)
        answerPausedWaiters(job)
    }

    /// Once a paused job has nothing in flight, its state is complete: answer
    /// those waiting for it to end or pause (`routilux run`).
    func answerPausedWaiters(_ job: JobRecord) {
        guard job.state.status == .paused, job.inFlight == 0, job.queue.spilled == 0, job.routing.isEmpty, job.waiters.contains(where: \.untilPaused) else { return }
        let state = job.exportedState  // built once for every waiter
        for w in job.waiters where w.untilPaused {
            actions.append(.reply(w.target, ControlReply(ok: true, error: nil, jobId: job.id, status: .paused, jobState: state)))
        }
        job.waiters.removeAll { $0.untilPaused }
    }

    /// Releases a paused job's pending tasks, exactly once.
    func resume(_ job: JobRecord, now: Double) throws(JobStatusError) {
        let ts = Timestamp(seconds: now)
        try job.state.transition(to: .running, at: ts)
        journalTouch(job)
        job.state.pendingTasks = []
        // Deferred events are emitted now, inside the job: recorded, then routed.
        for d in job.state.deferredEvents {
            guard let rid = d["routine_id"].stringValue, let event = d["event_name"].stringValue else { continue }
            emit(event, from: rid, payload: RawJSON(d["data"].objectValue == nil ? .object([:]) : d["data"]), in: job, now: now)
        }
        job.state.deferredEvents = []
        log(.info, "job \(job.id) resumed with \(job.queue.count) pending task(s)")
        if job.queue.total > 0 { markRunnable(job.id) }
        if job.outstanding == 0 { complete(job.id, now: now) }
    }

    /// Drops the job's queued work; results still arriving are ignored.
    func cancel(_ job: JobRecord, reason: String, now: Double) throws(JobStatusError) {
        let ts = Timestamp(seconds: now)
        try job.state.transition(to: .cancelled, at: ts)
        interruptRoutines(of: job, why: "the job was cancelled\(reason.isEmpty ? "" : " (\(reason))")", at: ts)
        job.state.record(job.state.currentRoutineId ?? "", "cancelled", RawJSON([
            "reason": .string(reason), "dropped_tasks": .int(job.queue.total + job.retrying.count), "in_flight": .int(job.inFlight),
        ]), at: ts)
        journalClear(job)
        queuedInMemory -= job.queue.count
        job.queue.removeAll()
        job.retrying.removeAll()
        job.timers.removeAll()
        job.state.pendingTasks = []
        finish(job.id)
    }

    /// Continues a saved paused JobState (from this or another coordinator):
    /// its pending tasks become the new job's queue, with the same job id.
    func resumeSaved(_ saved: JobState, flow reference: FlowReference?, reply: ReplyTarget, now: Double) {
        func refuse(_ why: String) { actions.append(.reply(reply, .failure("cannot resume job \(saved.jobId.prefix(80)): \(why)"))) }
        // Its id goes into every TASK: it must fit the wire's bounds.
        guard !saved.jobId.isEmpty, saved.jobId.utf8.count <= WireLimits.maxNameLength else {
            return refuse("job_id must be 1 to \(WireLimits.maxNameLength) bytes (got \(saved.jobId.utf8.count))")
        }
        guard saved.status == .paused else { return refuse("its saved status is \(saved.status.rawValue), not paused") }
        if let existing = jobs[saved.jobId], !existing.state.status.isTerminal {
            return refuse("this coordinator already runs it (status \(existing.state.status.rawValue)); use resume JOB_ID")
        }
        let def: FlowDefinition
        var file: String?
        switch reference {
        case .document(let doc, let name):
            do { def = try FlowLoader.build(doc, file: name, defaultFlowId: saved.flowId, catalogue: nil) } catch {
                return refuse("\(error)")
            }
            file = name
        case .id(let id):
            guard let f = flows[id] else { return refuse("unknown flow '\(id)'") }
            def = f
        case nil:
            guard let f = flows[saved.flowId] else {
                return refuse("flow '\(saved.flowId)' is not loaded here (loaded: \(flowIds.joined(separator: ", "))); start the coordinator with it or send it along")
            }
            def = f
        }
        guard def.flowId == saved.flowId else {
            return refuse("it belongs to flow '\(saved.flowId)', not '\(def.flowId)'")
        }
        // What the saved state names must be in the flow (before asking anything of workers).
        let routineList = def.routines.map(\.id).joined(separator: ", ")
        if let current = saved.currentRoutineId, def.routine(current) == nil {
            return refuse("current_routine_id: routine '\(current)' not found in flow '\(saved.flowId)' (routines: \(routineList))")
        }
        var tasks: [PendingTask] = []
        for (i, entry) in saved.pendingTasks.enumerated() {
            do { tasks.append(try PendingTask(saved: entry, flow: def, taskId: takeTaskId(), now: now)) } catch {
                return refuse("pending_tasks[\(i)]: \(error)")
            }
        }
        let flow: CompiledFlow
        switch check(def, file: file, now: now) {
        case .valid(let compiled): flow = compiled
        case .invalid(let why): return refuse(why)
        case .describing(let keys): return hold(.resumeFrom(saved, reference, reply), keys: keys, reply: reply, since: now)
        case .undescribed(let why): return refuse(why)
        case .waiting(let types): return refuse("\(waitingText(types)); resume it once one has joined")
        }
        for (i, task) in tasks.enumerated() {
            // A routine's own timer slot is not a port; every other slot must exist.
            let isTimer = task.source.map { $0.routine == task.routineId && $0.event.hasPrefix("timer:") } ?? false
            if !isTimer, let slots = flow.ports[task.routineId]?.slots, !slots.contains(task.slot) {
                return refuse("pending_tasks[\(i)].slot_name: slot '\(task.slot)' not found in routine '\(task.routineId)' (slots: \(slots.joined(separator: ", ")))")
            }
        }
        var state = saved
        state.pendingTasks = []
        state.waitingFor = nil
        state.slotStates = [:]
        state.routineData = [:]
        state.executionTracker = nil  // figures are per run
        let job = JobRecord(id: saved.jobId, run: takeRun(), flow: flow, state: state, maxWorkers: flow.definition.execution.maxWorkers)
        for (k, v) in saved.slotStates { job.slotStates[k] = RawJSON(v) }
        for (k, v) in saved.routineData { job.routineMemory[k] = RawJSON(v) }
        jobs[job.id] = job
        for t in tasks { enqueue(t, in: job, new: true) }
        startDeadline(job, now: now)
        do { try resume(job, now: now) } catch { return refuse(error.description) }
        log(.info, "job \(job.id) resumed from a saved state on flow \(flow.definition.flowId) with \(tasks.count) pending task(s)")
        actions.append(.reply(reply, ControlReply(ok: true, error: nil, jobId: job.id, status: job.state.status, jobState: job.exportedState)))
    }
}
