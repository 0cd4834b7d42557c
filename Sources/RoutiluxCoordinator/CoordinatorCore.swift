import DequeModule
import RoutiluxCore
import RoutiluxWire

/// The scheduling core: a deterministic state machine. Feed it inputs and the
/// current time; it returns the actions to take. It never touches a socket,
/// a clock or a thread, so every rule here is testable without I/O.
///
/// Rules:
/// - Tasks are dispatched only against credit a worker granted; every task
///   sent is in the ledger until its RESULT arrives or its worker is lost.
/// - Each job has its own FIFO queue and at most `max_workers` tasks in flight.
///   Jobs take turns, one task each per round.
/// - A job completes when its queued plus in-flight count reaches zero.
public final class CoordinatorCore {
    public let config: CoordinatorConfig
    public private(set) var counters = CoordinatorCounters()
    private var catalogue: RoutineCatalogue
    private var flows: [String: CompiledFlow] = [:]
    private var jobs: [String: JobRecord] = [:]
    /// Jobs with queued tasks, in turn order.
    private var runnable: Deque<String> = []
    private var runnableSet: Set<String> = []
    /// Finished jobs, oldest first, as (id, run) so a later run under the same id is never evicted by mistake.
    private var finished: Deque<(id: String, run: UInt64)> = []
    private var workers: [String: WorkerRecord] = [:]
    private var workerOrder: [String] = []
    private var ledger: [UInt64: LedgerEntry] = [:]
    private var nextTaskId: UInt64 = 1
    private var nextJobSeq: UInt64 = 1
    private var lastHeartbeat: Double = -1e18
    private var actions: [CoordinatorAction] = []
    private let makeJobId: () -> String

    /// `jobIds` makes job ids (injectable for deterministic tests).
    public init(config: CoordinatorConfig, catalogue: RoutineCatalogue, jobIds: (() -> String)? = nil) {
        self.config = config
        self.catalogue = catalogue
        if let jobIds { makeJobId = jobIds } else { makeJobId = { UUIDString.make() } }
    }

    // MARK: - Queries

    /// Registers (or replaces) a validated flow.
    public func addFlow(_ flow: FlowDefinition) { flows[flow.flowId] = CompiledFlow(flow, catalogue: catalogue) }
    public var flowIds: [String] { flows.keys.sorted() }
    /// A job's state as clients see it (with its pending tasks while paused).
    public func jobState(_ id: String) -> JobState? { jobs[id]?.exportedState }
    public var workerIds: [String] { workerOrder }
    public func workerCredit(_ id: String) -> Int? { workers[id]?.credit }
    public func inFlight(worker id: String) -> Set<UInt64> { workers[id]?.inFlight ?? [] }
    public var ledgerCount: Int { ledger.count }
    public func queuedCount(job id: String) -> Int { jobs[id]?.queue.count ?? 0 }
    public func inFlightCount(job id: String) -> Int { jobs[id]?.inFlight ?? 0 }

    // MARK: - Input

    /// Processes one input at time `now` (seconds) and returns the resulting actions, in order.
    public func handle(_ input: CoordinatorInput, now: Double) -> [CoordinatorAction] {
        actions = []
        switch input {
        case .message(let m, let peer): onMessage(m, peer: peer, now: now)
        case .malformed(let e, let peer):
            counters.malformedMessages += 1
            log(.warning, "dropped malformed message from \(peer ?? "unknown peer"): \(e)")
        case .submit(let req, let reply): onSubmit(req, reply: reply, now: now)
        case .query(let jobId, let wait, let reply): onQuery(jobId: jobId, wait: wait, reply: reply)
        case .control(let request, let reply): onControl(request, reply: reply, now: now)
        case .tick: onTick(now: now)
        }
        dispatch(now: now)
        return actions
    }

    private func log(_ level: LogLevel, _ text: String) { actions.append(.log(level, text)) }

    private func onMessage(_ m: WireMessage, peer: String?, now: Double) {
        switch m {
        case .join(let j): onJoin(j, now: now)
        case .result(let r, let bodies): onResult(r, bodies: bodies, now: now)
        case .credit(let c):
            guard workers[c.workerId] != nil else { return unexpected(m, peer: peer, why: "unknown worker '\(c.workerId)'") }
            guard c.credit >= 0 else { return unexpected(m, peer: peer, why: "negative credit") }
            workers[c.workerId]!.credit += c.credit
            workers[c.workerId]!.lastSeen = now
        case .heartbeat(let h):
            guard workers[h.senderId] != nil else { return unexpected(m, peer: peer, why: "unknown worker '\(h.senderId)'") }
            workers[h.senderId]!.lastSeen = now
        case .leave(let l):
            guard workers[l.workerId] != nil else { return }
            log(.info, "worker \(l.workerId) left: \(l.reason)")
            removeWorker(l.workerId, now: now)
        case .submit(let s, let params, let flowDoc):
            let flow: FlowReference
            if let flowDoc {
                do { flow = .document(try flowDoc.value(), name: s.flowId ?? "submitted flow") } catch {
                    actions.append(.reply(.remote(endpoint: s.replyTo, requestId: s.requestId), .failure("SUBMIT: flow document: \(error)")))
                    return
                }
            } else if let id = s.flowId {
                flow = .id(id)
            } else {
                actions.append(.reply(.remote(endpoint: s.replyTo, requestId: s.requestId), .failure("SUBMIT: needs flow_id or a flow document")))
                return
            }
            var entry: EntryPoint?
            if let r = s.entryRoutine { entry = EntryPoint(routine: r, slot: s.entrySlot ?? "trigger") }
            onSubmit(
                SubmitRequest(flow: flow, params: params, entry: entry, maxWorkers: s.maxWorkers, wait: s.wait),
                reply: .remote(endpoint: s.replyTo, requestId: s.requestId), now: now)
        case .query(let q):
            onQuery(jobId: q.jobId, wait: q.wait, reply: .remote(endpoint: q.replyTo, requestId: q.requestId))
        case .control(let c, let bodies):
            let reply = ReplyTarget.remote(endpoint: c.replyTo, requestId: c.requestId)
            do {
                onControl(try JobControl(c, bodies: bodies), reply: reply, now: now)
            } catch {
                actions.append(.reply(reply, .failure("CONTROL \(c.op.rawValue): \(error)")))
            }
        case .joined, .reject, .task, .reply:
            unexpected(m, peer: peer, why: "the coordinator does not accept \(m.type.rawValue)")
        }
    }

    private func unexpected(_ m: WireMessage, peer: String?, why: String) {
        counters.unexpectedMessages += 1
        log(.warning, "dropped \(m.type.rawValue) from \(peer ?? "unknown peer"): \(why)")
    }

    // MARK: - Workers

    private func onJoin(_ j: JoinMessage, now: Double) {
        if let existing = workers[j.workerId] {
            if existing.session == j.session && existing.endpoint == j.endpoint {
                // A repeated JOIN (the worker retried before our JOINED arrived): answer again, change nothing.
                workers[j.workerId]!.lastSeen = now
                actions.append(.send(workerId: j.workerId, .joined(JoinedMessage(workerId: j.workerId, coordinatorId: config.coordinatorId, heartbeatMs: config.heartbeatMs))))
                return
            }
            // A new session: the process restarted or re-joined, and has nothing of the old one's work.
            log(.info, "worker \(j.workerId) re-joined from \(j.endpoint) (new session); re-queueing \(existing.inFlight.count) task(s)")
            removeWorker(j.workerId, now: now)
        }
        var problem: String?
        if j.routineTypes.isEmpty { problem = "the worker hosts no routine types" }
        if j.capacity < 1 { problem = "capacity must be at least 1 (got \(j.capacity))" }
        if j.credit < 0 { problem = "credit must not be negative (got \(j.credit))" }
        if j.endpoint.isEmpty { problem = "no inbox endpoint advertised" }
        let unknown = j.routineTypes.filter { !catalogue.knows($0) }
        if problem == nil, !unknown.isEmpty {
            let needed = Set(flows.values.flatMap { $0.types.values }).sorted()
            problem = "it offers routine types this coordinator does not know: \(unknown.joined(separator: ", ")) "
                + "(offered: \(j.routineTypes.joined(separator: ", ")); the loaded flows need: \(needed.isEmpty ? "none" : needed.joined(separator: ", "))); "
                + "start the coordinator with --catalogue FILE from `WORKER types --json`"
        }
        actions.append(.connectWorker(id: j.workerId, endpoint: j.endpoint))
        if let problem {
            actions.append(.send(workerId: j.workerId, .reject(RejectMessage(workerId: j.workerId, reason: problem))))
            actions.append(.disconnectWorker(id: j.workerId, flush: true))
            log(.warning, "refused worker \(j.workerId) at \(j.endpoint): \(problem)")
            return
        }
        workers[j.workerId] = WorkerRecord(
            id: j.workerId, session: j.session, endpoint: j.endpoint, types: Set(j.routineTypes), capacity: j.capacity,
            credit: j.credit, lastSeen: now, host: j.host, pid: j.pid)
        workerOrder.append(j.workerId)
        actions.append(.send(workerId: j.workerId, .joined(JoinedMessage(workerId: j.workerId, coordinatorId: config.coordinatorId, heartbeatMs: config.heartbeatMs))))
        log(.info, "worker \(j.workerId) joined from \(j.endpoint) (types: \(j.routineTypes.joined(separator: ", ")); capacity \(j.capacity), credit \(j.credit))")
    }

    /// Forgets a worker and puts its in-flight tasks back at the front of their jobs' queues.
    private func removeWorker(_ id: String, now: Double) {
        guard let w = workers.removeValue(forKey: id) else { return }
        workerOrder.removeAll { $0 == id }
        actions.append(.disconnectWorker(id: id, flush: false))
        // Re-queue in reverse task order so the oldest ends up first.
        for taskId in w.inFlight.sorted(by: >) {
            guard let entry = ledger.removeValue(forKey: taskId) else { continue }
            guard let job = jobs[entry.jobId], job.run == entry.run else { continue }
            job.inFlight -= 1
            job.busySlots.remove(entry.task.slotKey)
            if !job.state.status.isTerminal {
                var t = entry.task
                t.attempt += 1
                job.queue.prepend(t)
                counters.tasksRequeued += 1
                markRunnable(job.id)
            }
        }
    }

    private func onTick(now: Double) {
        releaseDueRetries(now: now)
        let timeout = Double(config.workerTimeoutMs) / 1000
        for id in workerOrder where now - (workers[id]?.lastSeen ?? now) > timeout {
            counters.workersLost += 1
            log(.warning, "worker \(id) silent for more than \(config.workerTimeoutMs) ms; declared dead, re-queueing \(workers[id]!.inFlight.count) task(s)")
            removeWorker(id, now: now)
        }
        if now - lastHeartbeat >= Double(config.heartbeatMs) / 1000 {
            lastHeartbeat = now
            for id in workerOrder {
                actions.append(.send(workerId: id, .heartbeat(HeartbeatMessage(senderId: config.coordinatorId))))
            }
        }
        for (id, job) in jobs where !job.state.status.isTerminal {
            if let d = job.deadline, now >= d {
                fail(id, error: "job timed out after \(job.flow.definition.execution.timeout ?? 0) s (execution.timeout)", errorType: "TimeoutError", routineId: nil, now: now)
            }
        }
    }

    // MARK: - Jobs

    private func onSubmit(_ req: SubmitRequest, reply: ReplyTarget, now: Double) {
        var flow: CompiledFlow
        switch req.flow {
        case .id(let id):
            guard let f = flows[id] else {
                actions.append(.reply(reply, .failure("unknown flow '\(id)' (loaded: \(flowIds.joined(separator: ", ")))")))
                return
            }
            flow = f
        case .document(let doc, let name):
            do {
                let def = try FlowLoader.build(doc, file: name, defaultFlowId: name, catalogue: catalogue)
                flow = CompiledFlow(def, catalogue: catalogue)
            } catch {
                actions.append(.reply(reply, .failure("\(error)")))
                return
            }
        }
        var def = flow.definition
        if let e = req.entry {
            do {
                var ports: [String: RoutinePorts] = [:]
                if let node = def.routine(e.routine), let p = try? catalogue.ports(of: node.type, config: node.config) {
                    ports[e.routine] = p
                }
                try FlowLoader.checkEntry(&def, entry: e, portsById: ports, file: nil, path: "entry")
                flow = CompiledFlow(def, catalogue: catalogue)
            } catch {
                actions.append(.reply(reply, .failure("\(error)")))
                return
            }
        }
        guard case .object = (try? req.params.value()) ?? .null else {
            actions.append(.reply(reply, .failure("params must be a JSON object")))
            return
        }
        let entry = def.entry ?? EntryPoint(routine: def.routines[0].id)
        let jobId = makeJobId()
        var state = JobState(flowId: def.flowId, jobId: jobId, now: Timestamp(seconds: now))
        state.status = .running
        state.currentRoutineId = entry.routine
        state.record(entry.routine, "start", req.params, at: Timestamp(seconds: now))
        var maxWorkers = def.execution.maxWorkers
        if let m = req.maxWorkers { maxWorkers = max(1, m) }
        let job = JobRecord(id: jobId, run: takeRun(), flow: flow, state: state, maxWorkers: maxWorkers)
        if let t = def.execution.timeout {
            job.deadline = now + t
            actions.append(.wakeAt(now + t))
        }
        job.queue.append(PendingTask(
            taskId: takeTaskId(), routineId: entry.routine, slot: entry.slot, payload: req.params, mapping: nil, attempt: 1,
            source: nil, createdAt: now))
        if req.wait { job.waiters.append((reply, req.untilPaused)) }
        jobs[jobId] = job
        markRunnable(jobId)
        log(.info, "job \(jobId) started on flow \(def.flowId) at \(entry.routine).\(entry.slot) (max_workers \(maxWorkers))")
        if !req.wait {
            actions.append(.reply(reply, ControlReply(ok: true, error: nil, jobId: jobId, status: .running, jobState: state)))
        }
    }

    private func onQuery(jobId: String, wait: Bool, reply: ReplyTarget) {
        guard let job = jobs[jobId] else {
            actions.append(.reply(reply, .failure("unknown job '\(jobId)'")))
            return
        }
        if wait && !job.state.status.isTerminal {
            jobs[jobId]!.waiters.append((reply, false))
            return
        }
        actions.append(.reply(reply, ControlReply(ok: true, error: nil, jobId: jobId, status: job.state.status, jobState: job.exportedState)))
    }

    // MARK: - Pause, resume, cancel

    private func onControl(_ request: JobControl, reply: ReplyTarget, now: Double) {
        if case .resumeFrom(let saved, let flow) = request.operation {
            return resumeSaved(saved, flow: flow, reply: reply, now: now)
        }
        guard let job = jobs[request.jobId] else {
            actions.append(.reply(reply, .failure("unknown job '\(request.jobId)'")))
            return
        }
        do {
            switch request.operation {
            case .pause(let reason, let checkpoint): try pause(job, reason: reason, checkpoint: checkpoint, now: now)
            case .resume: try resume(job, now: now)
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
    private func pause(_ job: JobRecord, reason: String, checkpoint: JSONValue?, now: Double) throws(JobStatusError) {
        let ts = Timestamp(seconds: now)
        try job.state.transition(to: .paused, at: ts)
        job.state.pausePoints.append([
            "timestamp": .string(ts.iso), "reason": .string(reason), "current_routine_id": job.state.currentRoutineId.map { .string($0) } ?? .null,
            "checkpoint": checkpoint ?? .object([:]), "pending_tasks_count": .int(job.queue.count + job.retrying.count),
            "active_tasks_count": .int(job.inFlight), "queue_size": .int(job.queue.count),
        ])
        log(.info, "job \(job.id) paused\(reason.isEmpty ? "" : ": \(reason)") (\(job.queue.count) queued, \(job.inFlight) in flight)")
        answerPausedWaiters(job)
    }

    /// Once a paused job has nothing in flight, its state is complete: answer
    /// those waiting for it to end or pause (`routilux run`).
    private func answerPausedWaiters(_ job: JobRecord) {
        guard job.state.status == .paused, job.inFlight == 0, job.waiters.contains(where: \.untilPaused) else { return }
        for w in job.waiters where w.untilPaused {
            actions.append(.reply(w.target, ControlReply(ok: true, error: nil, jobId: job.id, status: .paused, jobState: job.exportedState)))
        }
        job.waiters.removeAll { $0.untilPaused }
    }

    /// Releases a paused job's pending tasks, exactly once.
    private func resume(_ job: JobRecord, now: Double) throws(JobStatusError) {
        let ts = Timestamp(seconds: now)
        try job.state.transition(to: .running, at: ts)
        job.state.pendingTasks = []
        // Deferred events are emitted now, inside the job: recorded, then routed.
        for d in job.state.deferredEvents {
            guard let rid = d["routine_id"].stringValue, let event = d["event_name"].stringValue else { continue }
            let payload = RawJSON(d["data"].objectValue.map { JSONValue.object($0) } ?? .object([:]))
            job.state.record(rid, event, payload, at: ts)
            for route in job.flow.routes(from: rid, event: event) {
                job.queue.append(PendingTask(
                    taskId: takeTaskId(), routineId: route.targetRoutine, slot: route.targetSlot, payload: payload,
                    mapping: route.mapping, attempt: 1, source: TaskSource(routine: rid, event: event), createdAt: now))
            }
        }
        job.state.deferredEvents = []
        log(.info, "job \(job.id) resumed with \(job.queue.count) pending task(s)")
        if !job.queue.isEmpty { markRunnable(job.id) }
        if job.outstanding == 0 { complete(job.id, now: now) }
    }

    /// Drops the job's queued work; results still arriving are ignored.
    private func cancel(_ job: JobRecord, reason: String, now: Double) throws(JobStatusError) {
        let ts = Timestamp(seconds: now)
        try job.state.transition(to: .cancelled, at: ts)
        job.state.record(job.state.currentRoutineId ?? "", "cancelled", RawJSON([
            "reason": .string(reason), "dropped_tasks": .int(job.queue.count + job.retrying.count), "in_flight": .int(job.inFlight),
        ]), at: ts)
        job.queue.removeAll()
        job.retrying.removeAll()
        job.state.pendingTasks = []
        finish(job.id)
    }

    /// Continues a saved paused JobState (from this or another coordinator):
    /// its pending tasks become the new job's queue, with the same job id.
    private func resumeSaved(_ saved: JobState, flow reference: FlowReference?, reply: ReplyTarget, now: Double) {
        func refuse(_ why: String) { actions.append(.reply(reply, .failure("cannot resume job \(saved.jobId): \(why)"))) }
        guard saved.status == .paused else { return refuse("its saved status is \(saved.status.rawValue), not paused") }
        if let existing = jobs[saved.jobId], !existing.state.status.isTerminal {
            return refuse("this coordinator already runs it (status \(existing.state.status.rawValue)); use resume JOB_ID")
        }
        let flow: CompiledFlow
        switch reference {
        case .document(let doc, let name):
            do { flow = CompiledFlow(try FlowLoader.build(doc, file: name, defaultFlowId: saved.flowId, catalogue: catalogue), catalogue: catalogue) } catch {
                return refuse("\(error)")
            }
        case .id(let id):
            guard let f = flows[id] else { return refuse("unknown flow '\(id)'") }
            flow = f
        case nil:
            guard let f = flows[saved.flowId] else {
                return refuse("flow '\(saved.flowId)' is not loaded here (loaded: \(flowIds.joined(separator: ", "))); start the coordinator with it or send it along")
            }
            flow = f
        }
        guard flow.definition.flowId == saved.flowId else {
            return refuse("it belongs to flow '\(saved.flowId)', not '\(flow.definition.flowId)'")
        }
        var tasks: [PendingTask] = []
        for (i, entry) in saved.pendingTasks.enumerated() {
            do { tasks.append(try PendingTask(saved: entry, flow: flow.definition, taskId: takeTaskId(), now: now)) } catch {
                return refuse("pending_tasks[\(i)]: \(error)")
            }
        }
        var state = saved
        state.pendingTasks = []
        state.slotStates = [:]
        state.executionTracker = nil  // figures are per run
        let job = JobRecord(id: saved.jobId, run: takeRun(), flow: flow, state: state, maxWorkers: flow.definition.execution.maxWorkers)
        for (k, v) in saved.slotStates { job.slotStates[k] = RawJSON(v) }
        job.queue.append(contentsOf: tasks)
        jobs[job.id] = job
        if let t = flow.definition.execution.timeout {
            job.deadline = now + t
            actions.append(.wakeAt(now + t))
        }
        do { try resume(job, now: now) } catch { return refuse(error.description) }
        log(.info, "job \(job.id) resumed from a saved state on flow \(flow.definition.flowId) with \(tasks.count) pending task(s)")
        actions.append(.reply(reply, ControlReply(ok: true, error: nil, jobId: job.id, status: job.state.status, jobState: job.exportedState)))
    }

    private func takeRun() -> UInt64 {
        defer { nextJobSeq += 1 }
        return nextJobSeq
    }

    private func takeTaskId() -> UInt64 {
        defer { nextTaskId += 1 }
        return nextTaskId
    }

    private func markRunnable(_ jobId: String) {
        if runnableSet.insert(jobId).inserted { runnable.append(jobId) }
    }

    private func onResult(_ r: ResultMessage, bodies: [RawJSON], now: Double) {
        guard workers[r.workerId] != nil else {
            // A worker declared dead (or never joined): its tasks were re-queued already.
            counters.staleResults += 1
            log(.warning, "ignored RESULT for task \(r.taskId) from unknown worker '\(r.workerId)' (declared dead or never joined)")
            return
        }
        workers[r.workerId]!.lastSeen = now
        // Only the attempt the ledger holds counts; anything else was re-queued
        // (worker declared dead, or re-joined) and its answer is stale. Its credit
        // belonged to a registration that no longer exists, so it is not added.
        guard let entry = ledger[r.taskId], entry.workerId == r.workerId, entry.jobId == r.jobId,
            entry.task.attempt == r.attempt
        else {
            counters.staleResults += 1
            log(.debug, "ignored stale RESULT for task \(r.taskId) attempt \(r.attempt) from \(r.workerId)")
            return
        }
        workers[r.workerId]!.credit += max(0, r.credit)
        ledger.removeValue(forKey: r.taskId)
        workers[r.workerId]!.inFlight.remove(r.taskId)
        counters.resultsAccepted += 1
        // A result for a run that is gone (the id now belongs to a resumed run) changes nothing.
        guard let job = jobs[r.jobId], job.run == entry.run else { return }
        job.inFlight -= 1
        if job.busySlots.remove(entry.task.slotKey) != nil {
            if r.outcome == .ok, r.slotState == true { job.slotStates[entry.task.slotKey] = bodies[r.emissions.count + r.outputs.count] }
            markRunnable(job.id)
        }
        if job.state.status.isTerminal {
            return
        }
        job.tracker.record(entry.task.routineId, ok: r.outcome == .ok, handlerUs: r.handlerUs, emissions: r.emissions.count)
        defer { answerPausedWaiters(job) }
        let rid = entry.task.routineId
        let ts = Timestamp(seconds: now)
        if r.outcome == .ok {
            for (i, event) in r.emissions.enumerated() {
                let payload = bodies[i]
                counters.emissionsRouted += 1
                // An emit is recorded before its deliveries are queued (causal order).
                job.state.record(rid, event, payload, at: ts)
                for route in job.flow.routes(from: rid, event: event) {
                    job.queue.append(PendingTask(
                        taskId: takeTaskId(), routineId: route.targetRoutine, slot: route.targetSlot, payload: payload,
                        mapping: route.mapping, attempt: 1, source: TaskSource(routine: rid, event: event), createdAt: now))
                    counters.deliveries += 1
                }
            }
            for (i, outputType) in r.outputs.enumerated() {
                job.state.sendOutput(routineId: rid, outputType: outputType, data: bodies[r.emissions.count + i].valueOrError, at: ts)
            }
            if r.effects == true {
                apply(bodies[bodies.count - 1], of: rid, to: job, now: now)
            }
            // A routine's state says how its activations went: "completed" until one
            // of them ends error_continued, skipped or failed, which is not overwritten.
            let current = job.state.routineStates[rid]
            let status = current?["status"].stringValue
            if status == nil || status == "running" || (status == "completed" && entry.task.retries > current!["retry_count"].intValue ?? 0) {
                var st: JSONObject = ["status": "completed"]
                if let n = current?["retry_count"].intValue ?? (entry.task.retries > 0 ? entry.task.retries : nil) {
                    st["retry_count"] = .int(max(n, entry.task.retries))
                }
                job.state.setRoutineState(rid, st, at: ts)
            }
            if !job.queue.isEmpty { markRunnable(r.jobId) }
            if job.outstanding == 0 { complete(r.jobId, now: now) }
            return
        }
        onError(r, task: entry.task, job: job, now: now)
    }

    /// A handler's shared-data updates, shared-log entries, deferred events and
    /// pause request, in that order. Bad effects are logged, never fatal.
    private func apply(_ body: RawJSON, of rid: String, to job: JobRecord, now: Double) {
        let ts = Timestamp(seconds: now)
        let effects: HandlerEffects
        do { effects = try HandlerEffects(json: try body.value()) } catch {
            counters.malformedMessages += 1
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
        job.state.updatedAt = ts
        if let p = effects.pause, job.state.status == .running {
            try? pause(job, reason: p.reason, checkpoint: p.checkpoint, now: now)
        }
    }

    /// A failed activation: the routine's error policy (else the flow's, else
    /// stop) decides. Whatever the failed attempt emitted was never sent, so
    /// nothing of it is routed.
    private func onError(_ r: ResultMessage, task: PendingTask, job: JobRecord, now: Double) {
        let rid = task.routineId
        let ts = Timestamp(seconds: now)
        let message = r.error ?? "unknown error"
        let errorType = r.errorType ?? "RoutineError"
        let policy = job.flow.definition.errorPolicy(for: rid)
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
            counters.retriesScheduled += 1
            actions.append(.wakeAt(now + delay))
            log(.info, "job \(job.id): \(rid).\(task.slot) failed (\(message)); retry \(again.retries) of \(policy.maxRetries) in \(delay) s")
        }
        if !job.queue.isEmpty { markRunnable(job.id) }
        if job.outstanding == 0 { complete(job.id, now: now) }
    }

    /// Moves retries whose time has come to the back of their jobs' queues.
    private func releaseDueRetries(now: Double) {
        for (id, job) in jobs where !job.retrying.isEmpty && !job.state.status.isTerminal {
            let due = job.retrying.filter { $0.due <= now }
            guard !due.isEmpty else { continue }
            job.retrying.removeAll { $0.due <= now }
            for r in due { job.queue.append(r.task) }
            markRunnable(id)
        }
    }

    /// Ends a running job whose work ran out (a paused job completes only after resume).
    private func complete(_ jobId: String, now: Double) {
        guard let job = jobs[jobId], job.state.status == .running else { return }
        let failedRoutine = job.state.routineStates.values.contains { $0["status"].stringValue == "failed" }
        try? job.state.transition(to: failedRoutine ? .failed : .completed, at: Timestamp(seconds: now))
        finish(jobId)
    }

    private func fail(_ jobId: String, error: String, errorType: String, routineId: String?, now: Double) {
        guard let job = jobs[jobId], !job.state.status.isTerminal else { return }
        let ts = Timestamp(seconds: now)
        if let rid = routineId {
            job.state.setRoutineState(rid, ["status": "failed", "error": .string(error), "error_time": .string(ts.iso)], at: ts)
        } else {
            job.state.record(job.state.currentRoutineId ?? "", "error", RawJSON(["error": .string(error), "error_type": .string(errorType)]), at: ts)
        }
        try? job.state.transition(to: .failed, at: ts)
        // Queued work is dropped; results of in-flight tasks are ignored when they come.
        job.queue.removeAll()
        job.retrying.removeAll()
        log(.warning, "job \(jobId) failed: \(error)")
        finish(jobId)
    }

    private func finish(_ jobId: String) {
        guard let job = jobs[jobId] else { return }
        for w in job.waiters {
            actions.append(.reply(w.target, ControlReply(ok: true, error: nil, jobId: jobId, status: job.state.status, jobState: job.exportedState)))
        }
        jobs[jobId]!.waiters = []
        actions.append(.jobFinished(jobId: jobId, status: job.state.status))
        log(.info, "job \(jobId) \(job.state.status.rawValue)")
        finished.append((jobId, job.run))
        while finished.count > config.finishedJobsKept {
            // Results still in flight for a forgotten job are dropped when they
            // arrive: the ledger knows them, the job is gone.
            let old = finished.removeFirst()
            if jobs[old.id]?.run == old.run { jobs.removeValue(forKey: old.id) }
        }
    }

    // MARK: - Dispatch

    /// Sends queued tasks to workers while credit and max_workers allow, jobs taking turns.
    private func dispatch(now: Double) {
        var idle = 0
        while !runnable.isEmpty && idle < runnable.count {
            let jobId = runnable.removeFirst()
            guard let job = jobs[jobId], !job.queue.isEmpty, job.state.status == .running else {
                // Paused jobs become runnable again on resume; finished ones never.
                runnableSet.remove(jobId)
                continue
            }
            guard job.inFlight < job.maxWorkers, let task = job.queue.first else {
                // At its limit: it becomes runnable again when a result frees a slot.
                runnableSet.remove(jobId)
                continue
            }
            let merge = job.flow.merge(task.routineId, task.slot)
            if merge != nil, job.busySlots.contains(task.slotKey) {
                // A stateful slot takes one delivery at a time (its state is the
                // previous delivery's result); the job waits, in FIFO order.
                runnableSet.remove(jobId)
                continue
            }
            guard let type = job.flow.types[task.routineId], let workerId = pickWorker(for: type) else {
                if let type = job.flow.types[task.routineId], !workers.values.contains(where: { $0.types.contains(type) }),
                    job.warnedNoWorker.insert(type).inserted
                {
                    log(.warning, "job \(jobId) waits: no joined worker hosts routine type '\(type)'")
                }
                runnable.append(jobId)
                idle += 1
                continue
            }
            idle = 0
            job.queue.removeFirst()
            if job.state.routineStates[task.routineId] == nil {
                job.state.setRoutineState(task.routineId, ["status": "running"], at: Timestamp(seconds: now))
            }
            job.inFlight += 1
            workers[workerId]!.credit -= 1
            workers[workerId]!.inFlight.insert(task.taskId)
            ledger[task.taskId] = LedgerEntry(jobId: jobId, run: job.run, workerId: workerId, task: task, sentAt: now)
            counters.tasksDispatched += 1
            var state: RawJSON?
            if merge != nil {
                job.busySlots.insert(task.slotKey)
                state = job.slotStates[task.slotKey] ?? RawJSON(.object([:]))
            }
            // Handlers read the job's shared data as of now (sent only when there is some).
            let shared = job.state.sharedData.isEmpty ? nil : RawJSON(.object(job.state.sharedData))
            let header = TaskMessage(
                jobId: jobId, taskId: task.taskId, flowId: job.flow.definition.flowId, routineId: task.routineId,
                routineType: type, slot: task.slot, attempt: task.attempt, paramMapping: task.mapping, merge: merge,
                shared: shared == nil ? nil : true)
            let config = job.flow.configs[task.routineId] ?? RawJSON(.object([:]))
            actions.append(.send(workerId: workerId, .task(header, payload: task.payload, config: config, slotState: state, shared: shared)))
            if job.queue.isEmpty { runnableSet.remove(jobId) } else { runnable.append(jobId) }
        }
    }

    /// The worker hosting `type` with the most credit left (ties: fewest tasks in flight, then join order).
    private func pickWorker(for type: String) -> String? {
        var best: String?
        var bestCredit = 0
        var bestLoad = Int.max
        for id in workerOrder {
            guard let w = workers[id], w.credit > 0, w.types.contains(type) else { continue }
            if w.credit > bestCredit || (w.credit == bestCredit && w.inFlight.count < bestLoad) {
                best = id
                bestCredit = w.credit
                bestLoad = w.inFlight.count
            }
        }
        return best
    }
}

/// Random UUID strings without Foundation in the core's public surface.
enum UUIDString {
    static func make() -> String {
        var g = SystemRandomNumberGenerator()
        let a = g.next() as UInt64
        let b = g.next() as UInt64
        func hex(_ v: UInt64, _ n: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        let h = hex(a, 16) + hex(b, 16)
        let c = Array(h)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-4" + String(c[13..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
    }
}
