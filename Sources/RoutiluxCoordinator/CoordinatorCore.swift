import DequeModule
import RoutiluxCore
import RoutiluxWire
import RoutiluxTransport

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
    public internal(set) var counters = CoordinatorCounters()
    var typeBook: RoutineTypeBook
    /// Registered flows (structurally valid; their ports are checked per job).
    var flows: [String: FlowDefinition] = [:]
    /// DESCRIBEs in flight by request id, and by key.
    var describes: [String: PendingDescribe] = [:]
    var describing: [DescribeKey: String] = [:]
    /// The config of each key being described (to ask another worker).
    var describeConfigs: [DescribeKey: JSONObject] = [:]
    /// Workers that failed to describe a key (timed out, left, or do not host it).
    var describeFailures: [DescribeKey: [String: DescribeFailure]] = [:]
    var nextDescribeId: UInt64 = 1
    /// Requests waiting for describes.
    var held: [HeldRequest] = []
    /// While a held request is handled again: when it was first held.
    var replayingSince: Double?
    var jobs: [String: JobRecord] = [:]
    /// Jobs with queued tasks, in turn order.
    var runnable: Deque<String> = []
    var runnableSet: Set<String> = []
    /// Finished jobs, oldest first, as (id, run) so a later run under the same id is never evicted by mistake.
    var finished: Deque<(id: String, run: UInt64, bytes: Int)> = []
    var workers: [String: WorkerRecord] = [:]
    var workerOrder: [String] = []
    var ledger: [UInt64: LedgerEntry] = [:]
    /// Ids handed out lately (a queued task's id is not in the ledger yet); bounded.
    var recentTaskIds = RecentSet<UInt64>(capacity: 65_536)
    /// With CURVE: the key each worker id was first joined with (bounded).
    var idKeys: [String: String] = [:]
    /// With CURVE, once the shell has loaded `--authorized-keys`: the keys of each role.
    var authorizedKeys: (workers: Set<String>, clients: Set<String>)?
    /// Drops are logged rate-limited, per reason.
    var dropLog = RateLimitedLog<DropReason>()
    /// Queries asking for the last N history records only, by who waits for the answer.
    var replyTails: [ReplyTarget: Int] = [:]
    /// Waiting queries that asked for an answer by a deadline (`wait_ms`), and their job.
    var waitDeadlines: [ReplyTarget: (job: String, at: Double)] = [:]
    /// About how many bytes the finished jobs kept hold (`finishedJobsBytes` bounds it).
    var finishedBytes = 0
    static let maxWaitersPerJob = 1000
    let makeTaskId: () -> UInt64
    let makeToken: () -> String
    var nextJobSeq: UInt64 = 1
    var lastHeartbeat: Double = -1e18
    var actions: [CoordinatorAction] = []
    let makeJobId: () -> String
    /// The turn's changes for the journal (nil: not durable).
    var recorder: JournalRecorder?
    /// The job sequence as last journalled.
    var journalledJobSeq: UInt64 = 1
    /// Set by `.shutdown`: no new job is taken.
    var stopping = false
    /// Queued tasks held in memory, all jobs together (`maxQueuedInMemory` bounds it).
    public internal(set) var queuedInMemory = 0
    /// Spilled tasks asked for and not yet read back (they count toward the bound).
    var readBacksAsked = 0
    /// Without a journal: the staged parts of attempts, in seq order.
    var memoryParts: [TaskAttempt: [[UInt8]]] = [:]
    var memoryPartBytes = 0
    /// Without a journal: a tick to route more staged parts is asked for already.
    var routingWakeAsked = false

    /// `catalogue`: the compiled-in types (config-aware) and catalogue files' descriptions;
    /// joined workers add theirs. `jobIds` makes job ids (injectable for deterministic tests).
    /// `taskIds` and `tokens` too (default: the system's random generator).
    /// `durable`: record every change for `takeJournal()`.
    public init(
        config: CoordinatorConfig, catalogue: RoutineCatalogue, jobIds: (() -> String)? = nil, taskIds: (() -> UInt64)? = nil,
        tokens: (() -> String)? = nil, durable: Bool = false
    ) {
        self.config = config
        if durable { recorder = JournalRecorder() }
        typeBook = RoutineTypeBook(base: catalogue)
        if let jobIds { makeJobId = jobIds } else { makeJobId = { UUIDString.make() } }
        if let taskIds {
            makeTaskId = taskIds
        } else {
            let pool = RandomPoolBox()
            makeTaskId = { pool.pool.take() }
        }
        makeToken = tokens ?? { UUIDString.token() }
    }

    // MARK: - Queries

    /// Registers (or replaces) a flow. Its routines' ports are checked when a job
    /// is submitted (types not compiled in are described by the workers hosting them).
    public func addFlow(_ flow: FlowDefinition) {
        flows[flow.flowId] = flow
        recorder?.flows.append((flow.flowId, flow.dslJSON.serialized()))
    }
    /// Routine types known here (compiled in, from catalogue files, or from joined workers).
    public var knownTypes: [String] { Set(typeBook.base.typeNames).union(typeBook.learned.keys).sorted() }
    public var flowIds: [String] { flows.keys.sorted() }
    /// Every job this core holds, oldest first.
    public var jobIds: [String] { jobsInRunOrder.map(\.id) }
    /// A job's state as clients see it (with its pending tasks while paused).
    public func jobState(_ id: String) -> JobState? { jobs[id]?.exportedState }
    public var workerIds: [String] { workerOrder }
    public func workerCredit(_ id: String) -> Int? { workers[id]?.credit }
    public func inFlight(worker id: String) -> Set<UInt64> { workers[id]?.inFlight ?? [] }
    public var ledgerCount: Int { ledger.count }
    public func queuedCount(job id: String) -> Int { jobs[id]?.queue.total ?? 0 }
    public func inFlightCount(job id: String) -> Int { jobs[id]?.inFlight ?? 0 }

    // MARK: - Input

    /// Processes one input at time `now` (seconds) and returns the resulting actions, in order.
    public func handle(_ input: CoordinatorInput, now: Double) -> [CoordinatorAction] {
        actions = []
        switch input {
        case .message(let m, let peer): onMessage(m, peer: peer, now: now)
        case .malformed(let e, let peer):
            drop(.malformed, e.messageType.flatMap(MessageType.init(rawValue:)), peer: peer, now: now, why: "\(e)")
        case .oversize(let bytes, let type, let reply, let peer):
            onOversize(bytes: bytes, type: type, reply: reply, peer: peer, now: now)
        case .keysChanged(let w, let c): onKeysChanged(workers: w, clients: c, now: now)
        case .status(let reply): onStatus(reply: reply, now: now)
        case .submit(let req, let reply): onSubmit(req, reply: reply, now: now)
        case .query(let jobId, let wait, let reply, let tail, let waitMs):
            onQuery(jobId: jobId, wait: wait, reply: reply, historyTail: tail, waitMs: waitMs, now: now)
        case .control(let request, let reply): onControl(request, reply: reply, now: now)
        case .tick: onTick(now: now)
        case .shutdown: onShutdown()
        case .queuedRead(let id, let run, let lane, let limit, let rows): onQueuedRead(jobId: id, run: run, lane: lane, limit: limit, rows: rows, now: now)
        case .stagedRead(let id, let run, let taskId, let from, let parts): onStagedRead(jobId: id, run: run, taskId: taskId, from: from, parts: parts, now: now)
        }
        dispatch(now: now)
        if recorder != nil { markHistoryInStore() }
        if !replyTails.isEmpty { trimReplies() }
        return actions
    }

    /// Replies to queries that asked for the history's tail only get that much.
    func trimReplies() {
        for (i, a) in actions.enumerated() {
            guard case .reply(let target, var r) = a, let n = replyTails.removeValue(forKey: target) else { continue }
            if var st = r.jobState, st.executionHistory.count > n {
                st.executionHistory = Array(st.executionHistory.suffix(n))
                r.jobState = st
                actions[i] = .reply(target, r)
            }
        }
        // Tails of requests that wait (job wait) stay until their answer; bounded by the waiters.
        if replyTails.count > 10_000 { replyTails.removeAll() }
    }

    func log(_ level: LogLevel, _ text: String) { actions.append(.log(level, text)) }

    func onMessage(_ m: WireMessage, peer: Sender?, now: Double) {
        guard authorize(m, peer: peer, now: now) else { return }
        switch m {
        case .join(let j, let catalogue): onJoin(j, catalogue: catalogue, peer: peer, now: now)
        case .described(let d, let ports):
            guard session(of: d.workerId, token: d.token, m, peer: peer, now: now) else { return }
            onDescribed(d, ports: ports, peer: peer, now: now)
        case .result(let r, let bodies):
            guard session(of: r.workerId, token: r.token, m, peer: peer, now: now) else { return }
            onResult(r, bodies: bodies, peer: peer, now: now)
        case .credit(let c):
            guard session(of: c.workerId, token: c.token, m, peer: peer, now: now) else { return }
            grant(c.credit, to: c.workerId)
            if c.draining == true, let w = workers[c.workerId], !w.draining {
                w.draining = true
                log(.info, "worker \(c.workerId) drains: it is sent no more tasks and finishes the \(w.inFlight.count) it holds")
            }
        case .heartbeat(let h):
            guard session(of: h.senderId, token: h.token ?? "", m, peer: peer, now: now) else { return }
            onHeartbeat(h, now: now)
        case .leave(let l):
            guard session(of: l.workerId, token: l.token, m, peer: peer, now: now) else { return }
            log(.info, "worker \(l.workerId) left: \(l.reason)")
            removeWorker(l.workerId, now: now)
        case .submit(let s, let params, let flowDoc):
            let reply = ReplyTarget.remote(endpoint: s.replyTo, requestId: s.requestId, key: peer?.key)
            let flow: FlowReference
            if let flowDoc {
                do { flow = .document(try flowDoc.value(), name: s.flowId ?? "submitted flow") } catch {
                    actions.append(.reply(reply, .failure("SUBMIT: flow document: \(error)")))
                    return
                }
            } else if let id = s.flowId {
                flow = .id(id)
            } else {
                actions.append(.reply(reply, .failure("SUBMIT: needs flow_id or a flow document")))
                return
            }
            var entry: EntryPoint?
            if let r = s.entryRoutine { entry = EntryPoint(routine: r, slot: s.entrySlot ?? "trigger") }
            onSubmit(
                SubmitRequest(flow: flow, params: params, entry: entry, maxWorkers: s.maxWorkers, wait: s.wait, failFast: s.failFast ?? false),
                reply: reply, now: now)
        case .query(let q):
            onQuery(
                jobId: q.jobId, wait: q.wait, reply: .remote(endpoint: q.replyTo, requestId: q.requestId, key: peer?.key),
                historyTail: q.historyTail, waitMs: q.waitMs, now: now)
        case .status(let q):
            onStatus(reply: .remote(endpoint: q.replyTo, requestId: q.requestId, key: peer?.key), now: now)
        case .control(let c, let bodies):
            let reply = ReplyTarget.remote(endpoint: c.replyTo, requestId: c.requestId, key: peer?.key)
            do {
                onControl(try JobControl(c, bodies: bodies), reply: reply, now: now)
            } catch {
                actions.append(.reply(reply, .failure("CONTROL \(c.op.rawValue): \(error)")))
            }
        case .part(let p, let bodies):
            guard session(of: p.workerId, token: p.token, m, peer: peer, now: now) else { return }
            onPart(p, bodies: bodies, peer: peer, now: now)
        case .joined, .reject, .task, .reply, .describe, .staged:
            drop(.unexpected, m.type, peer: peer, now: now, why: "the coordinator does not accept \(m.type.rawValue)")
        }
    }

    func unexpected(_ m: WireMessage, peer: Sender?, why: String, now: Double) {
        drop(.unexpected, m.type, peer: peer, now: now, why: why)
    }

    func onTick(now: Double) {
        onTypesTick(now: now)
        retryReadBacks()
        routingWakeAsked = false
        resumeRouting(now: now)
        releaseDueRetries(now: now)
        releaseDueTimers(now: now)
        let timeout = Double(config.workerTimeoutMs) / 1000
        for id in workerOrder where now - (workers[id]?.lastSeen ?? now) > timeout {
            counters.workersLost += 1
            log(.warning, "worker \(id) silent for more than \(config.workerTimeoutMs) ms; declared dead, re-queueing \(workers[id]!.inFlight.count) task(s)")
            removeWorker(id, now: now)
        }
        if now - lastHeartbeat >= Double(config.heartbeatMs) / 1000 {
            lastHeartbeat = now
            for id in workerOrder {
                actions.append(.send(workerId: id, .heartbeat(HeartbeatMessage(senderId: config.coordinatorId, token: workers[id]?.token))))
            }
        }
        expireLeases(now: now)
        answerDueWaiters(now: now)
        var summaries: [(DropReason, Int)] = []
        dropLog.flush(now: now) { summaries.append(($0, $1)) }
        for (r, n) in summaries { log(.warning, dropSummary(r, n)) }
        for job in jobsInRunOrder where !job.state.status.isTerminal {
            let id = job.id
            if let d = job.deadline, now >= d {
                fail(id, error: "job timed out after \(job.flow.definition.execution.timeout ?? 0) s (execution.timeout)", errorType: "TimeoutError", routineId: nil, now: now)
            }
        }
    }

    /// Stopping: everyone waiting for a job is told, with whether the job survives the restart.
    func onShutdown() {
        stopping = true
        var told = 0
        for job in jobsInRunOrder where !job.waiters.isEmpty {
            let fate = recorder != nil
                ? "job \(job.id) is journalled and continues when it restarts"
                : "job \(job.id) is lost with it (no --state-dir)"
            var r = ControlReply.failure("the coordinator is stopping; \(fate)")
            r.jobId = job.id
            r.status = job.state.status
            r.stopping = true
            for w in job.waiters {
                waitDeadlines.removeValue(forKey: w.target)
                actions.append(.reply(w.target, r))
                told += 1
            }
            job.waiters = []
        }
        log(.info, "stopping: \(jobs.values.filter { !$0.state.status.isTerminal }.count) unfinished job(s)\(recorder != nil ? " journalled" : " lost (memory only)"); \(told) waiting client(s) told")
    }

    // MARK: - Jobs

    func onSubmit(_ req: SubmitRequest, reply: ReplyTarget, now: Double) {
        if stopping {
            var r = ControlReply.failure("the coordinator is stopping; submit again once it is back")
            r.stopping = true
            actions.append(.reply(reply, r))
            return
        }
        var def: FlowDefinition
        var file: String?
        switch req.flow {
        case .id(let id):
            guard let f = flows[id] else {
                actions.append(.reply(reply, .failure("unknown flow '\(id)' (loaded: \(flowIds.joined(separator: ", ")))")))
                return
            }
            def = f
        case .document(let doc, let name):
            // The structure now; routine configs and ports below, from what is known of each type.
            do { def = try FlowLoader.build(doc, file: name, defaultFlowId: name, catalogue: nil) } catch {
                actions.append(.reply(reply, .failure("\(error)")))
                return
            }
            file = name
        }
        if let e = req.entry {
            do { try FlowLoader.checkEntry(&def, entry: e, portsById: [:], file: nil, path: "entry") } catch {
                actions.append(.reply(reply, .failure("\(error)")))
                return
            }
        }
        guard case .object = (try? req.params.value()) ?? .null else {
            actions.append(.reply(reply, .failure("params must be a JSON object")))
            return
        }
        let verdict = check(def, file: file, now: now)
        let flow: CompiledFlow
        var waiting: String?
        switch verdict {
        case .invalid(let why):
            actions.append(.reply(reply, .failure(why)))
            return
        case .describing(let keys):
            hold(.submit(req, reply), keys: keys, reply: reply, since: now)
            return
        case .undescribed(let why):
            actions.append(.reply(reply, .failure(why)))
            return
        case .waiting(let types):
            if req.failFast {
                actions.append(.reply(reply, .failure("refused (fail fast): no joined worker hosts routine type \(types.joined(separator: ", ")) (\(waitingText(types)))")))
                return
            }
            guard jobs.values.filter({ $0.state.status == .pending }).count < Self.maxPendingJobs else {
                actions.append(.reply(reply, .failure("too many jobs are pending for workers (\(Self.maxPendingJobs)): \(waitingText(types))")))
                return
            }
            flow = CompiledFlow(def, ports: [:])
            waiting = waitingText(types)
        case .valid(let compiled):
            flow = compiled
        }
        let entry = def.entry ?? EntryPoint(routine: def.routines[0].id)
        let jobId = makeJobId()
        var state = JobState(flowId: def.flowId, jobId: jobId, now: Timestamp(seconds: now))
        state.currentRoutineId = entry.routine
        var maxWorkers = def.execution.maxWorkers
        if let m = req.maxWorkers { maxWorkers = max(1, m) }
        let job = JobRecord(id: jobId, run: takeRun(), flow: flow, state: state, maxWorkers: maxWorkers)
        job.entryParams = req.params
        if req.wait { job.waiters.append((reply, req.untilPaused)) }
        jobs[jobId] = job
        journalTouch(job)
        if let waiting {
            job.state.waitingFor = waiting
            log(.info, "job \(jobId) on flow \(def.flowId) is pending: \(waiting)")
        } else {
            start(job, now: now)
        }
        if !req.wait {
            actions.append(.reply(reply, ControlReply(ok: true, error: nil, jobId: jobId, status: job.state.status, jobState: job.exportedState)))
        }
    }

    /// Starts a job whose flow is validated: its entry task is queued, its timeout armed.
    func start(_ job: JobRecord, now: Double) {
        let def = job.flow.definition
        let entry = def.entry ?? EntryPoint(routine: def.routines[0].id)
        job.state.waitingFor = nil
        try? job.state.transition(to: .running, at: Timestamp(seconds: now))
        job.state.record(entry.routine, "start", job.entryParams, at: Timestamp(seconds: now))
        job.recordedBytes += job.entryParams.bytes.count
        startDeadline(job, now: now)
        enqueue(PendingTask(
            taskId: takeTaskId(), routineId: entry.routine, slot: entry.slot, payload: job.entryParams, mapping: nil, attempt: 1,
            source: nil, createdAt: now), in: job, new: true)
        markRunnable(job.id)
        log(.info, "job \(job.id) started on flow \(def.flowId) at \(entry.routine).\(entry.slot) (max_workers \(job.maxWorkers))")
    }

    func onQuery(jobId: String, wait: Bool, reply: ReplyTarget, historyTail: Int? = nil, waitMs: Int? = nil, now: Double = 0) {
        if let historyTail { replyTails[reply] = historyTail }
        guard let job = jobs[jobId] else {
            if recorder != nil {
                // Finished and no longer in memory: the store may have it.
                actions.append(.lookUp(jobId: jobId, reply: reply, historyTail: replyTails.removeValue(forKey: reply)))
                return
            }
            actions.append(.reply(reply, .unknownJob(jobId)))
            return
        }
        if wait && !job.state.status.isTerminal {
            guard job.waiters.count < Self.maxWaitersPerJob else {
                actions.append(.reply(reply, .failure("job \(jobId) has \(Self.maxWaitersPerJob) requests waiting for its end already; ask again later")))
                return
            }
            job.waiters.append((reply, false))
            if let waitMs {
                waitDeadlines[reply] = (jobId, now + Double(waitMs) / 1000)
                actions.append(.wakeAt(now + Double(waitMs) / 1000))
            }
            return
        }
        actions.append(.reply(reply, ControlReply(ok: true, error: nil, jobId: jobId, status: job.state.status, jobState: job.exportedState)))
    }

    /// A waiting query whose `wait_ms` ran out is answered with the state now (the client asks again).
    func answerDueWaiters(now: Double) {
        guard !waitDeadlines.isEmpty else { return }
        for (target, w) in waitDeadlines where now >= w.at {
            waitDeadlines.removeValue(forKey: target)
            guard let job = jobs[w.job], let i = job.waiters.firstIndex(where: { $0.target == target }) else { continue }
            job.waiters.remove(at: i)
            // The status only: the client asks again (a JobState per waiting client per poll would cost).
            actions.append(.reply(target, ControlReply(ok: true, error: nil, jobId: job.id, status: job.state.status, jobState: nil)))
        }
    }

    /// Jobs oldest first, so every pass over them is deterministic (dictionary order is not).
    var jobsInRunOrder: [JobRecord] { jobs.values.sorted { $0.run < $1.run } }

    func takeRun() -> UInt64 {
        defer { nextJobSeq += 1 }
        return nextJobSeq
    }

    /// A fresh task id: random in 1...2^53 (not guessable from another), never one the ledger holds.
    func takeTaskId() -> UInt64 {
        while true {
            let id = (makeTaskId() & (UInt64(WireLimits.maxTaskId) - 1)) + 1
            if ledger[id] == nil && !recentTaskIds.contains(id) {
                recentTaskIds.append(id)
                return id
            }
        }
    }

    func markRunnable(_ jobId: String) {
        if runnableSet.insert(jobId).inserted { runnable.append(jobId) }
    }

    /// A RESULT from a worker whose session (and, with CURVE, key) is checked.
    func onResult(_ r: ResultMessage, bodies: [RawJSON], peer: Sender?, now: Double) {
        // Only the attempt the ledger holds counts; anything else was re-queued
        // (worker declared dead, or re-joined) and its answer is stale. Its credit
        // belonged to a registration that no longer exists, so it is not added.
        guard let entry = ledger[r.taskId], entry.workerId == r.workerId, entry.jobId == r.jobId,
            entry.task.attempt == r.attempt
        else {
            // The late answer of an attempt taken back from this worker at its lease: stale, but
            // it returns the credit that attempt held, and shows the worker does answer.
            if workers[r.workerId]?.takenBack.removeValue(forKey: TaskAttempt(taskId: r.taskId, attempt: r.attempt)) != nil {
                grant(r.credit, to: r.workerId)
                if workers[r.workerId]!.trust() {
                    log(.info, "worker \(r.workerId) answered a task it held past its lease; it is sent tasks again")
                }
            }
            return drop(.stale, .result, peer: peer, now: now, why: "RESULT for task \(r.taskId) attempt \(r.attempt) from \(r.workerId) is not in the ledger (re-queued, expired or answered)", level: .debug)
        }
        if r.outcome == .error, r.errorType == "LeaseExpired" {
            // The worker gave the attempt up at its lease (stopped it, or never started it) before our
            // tick took the task back: a lease that ran out, not the routine's error.
            expire(r.taskId, entry, now: now)
            workers[r.workerId]?.takenBack.removeValue(forKey: TaskAttempt(taskId: r.taskId, attempt: r.attempt))
            grant(r.credit, to: r.workerId)
            return
        }
        // An ok RESULT that cannot be accepted whole fails its activation instead.
        var refusal: (type: String, why: String)?
        if recorder != nil, r.outcome == .ok, let bad = bodies.firstIndex(where: { !JSONValidator.isValid($0.bytes) }) {
            // What is journalled is read back at a restart: a body that is not JSON fails the activation now.
            refusal = ("MalformedResult", "body \(bad + 1) of \(bodies.count) in worker \(r.workerId)'s RESULT for \(entry.task.routineId).\(entry.task.slot) is not JSON")
        } else if r.outcome == .ok, (r.parts ?? 0) != entry.parts {
            // A part went missing (or the worker miscounted): what it emitted is not whole.
            refusal = ("IncompleteResult", "worker \(r.workerId)'s RESULT for \(entry.task.routineId).\(entry.task.slot) says \(r.parts ?? 0) PART(s) came before it; \(entry.parts) did")
        }
        if let (type, why) = refusal {
            counters.dropped[.malformed, default: 0] += 1
            log(.warning, "job \(r.jobId): \(type): \(why)")
            return onResult(
                ResultMessage(workerId: r.workerId, jobId: r.jobId, taskId: r.taskId, attempt: r.attempt, outcome: .error, error: "\(type): \(why)", errorType: type, credit: r.credit, token: r.token),
                bodies: [], peer: peer, now: now)
        }
        grant(r.credit, to: r.workerId)
        workers[r.workerId]!.trust()
        ledger.removeValue(forKey: r.taskId)
        journalGone(r.taskId)
        workers[r.workerId]!.inFlight.remove(r.taskId)
        counters.resultsAccepted += 1
        let liveJob = jobs[r.jobId].flatMap { $0.run == entry.run ? $0 : nil }
        // Only an ok attempt of a running job routes its staged parts.
        if r.outcome != .ok || liveJob == nil || liveJob!.state.status.isTerminal { discardParts(of: entry) }
        // A result for a run that is gone (the id now belongs to a resumed run) changes nothing.
        guard let job = liveJob else { return }
        journalTouch(job)
        job.inFlight -= 1
        job.inFlightIds.remove(r.taskId)
        let stateIndex = r.emissions.count + r.outputs.count
        if job.busySlots.remove(entry.task.slotKey) != nil {
            if r.outcome == .ok, r.slotState == true { job.slotStates[entry.task.slotKey] = bodies[stateIndex] }
            markRunnable(job.id)
        }
        if job.busySlots.remove(entry.task.routineId) != nil {
            if r.outcome == .ok, r.routineState == true {
                job.routineMemory[entry.task.routineId] = bodies[stateIndex + (r.slotState == true ? 1 : 0)]
            }
            markRunnable(job.id)
        }
        if job.state.status.isTerminal {
            return
        }
        job.tracker.record(entry.task.routineId, ok: r.outcome == .ok, handlerUs: r.handlerUs, emissions: r.emissions.count + entry.partEmissions)
        defer { answerPausedWaiters(job) }
        let rid = entry.task.routineId
        guard r.outcome == .ok else { return onError(r, task: entry.task, job: job, now: now) }
        let emissions = r.emissions.enumerated().map { ($0.element, bodies[$0.offset]) }
        let outputs = r.outputs.enumerated().map { ($0.element, bodies[r.emissions.count + $0.offset]) }
        let effects = r.effects == true ? bodies[bodies.count - 1] : nil
        if entry.parts > 0 {
            // Streamed: its parts are routed first, a few at a time, then this RESULT's own
            // entries (staged as its last part), then its effects.
            stage(StagedPartCoding.encode(emissions: emissions, outputs: outputs), of: entry, seq: entry.parts)
            job.routing.append(StagedRouting(
                taskId: r.taskId, attempt: r.attempt, routineId: rid, retries: entry.task.retries, parts: entry.parts + 1, effects: effects))
            journalTouch(job)
            continueRouting(job, now: now)
            return
        }
        route(emissions, outputs: outputs, from: rid, in: job, now: now)
        settle(job, routine: rid, retries: entry.task.retries, effects: effects, now: now)
    }

    /// Routes what an ok activation emitted (in order) and records its outputs.
    func route(_ emissions: [(String, RawJSON)], outputs: [(String, RawJSON)], from rid: String, in job: JobRecord, now: Double) {
        let ts = Timestamp(seconds: now)
        for (event, payload) in emissions { emit(event, from: rid, payload: payload, in: job, now: now) }
        for (outputType, data) in outputs {
            job.state.sendOutput(routineId: rid, outputType: outputType, raw: data, at: ts)
            job.recordedBytes += Self.outputCost(data.bytes.count)
        }
    }

    /// The end of an ok activation, once all it emitted is routed: its routine's state, then its effects.
    func settle(_ job: JobRecord, routine rid: String, retries: Int, effects: RawJSON?, now: Double) {
        let ts = Timestamp(seconds: now)
        // A routine's state says how its activations went: "completed" until one
        // of them ends error_continued, skipped or failed, which is not overwritten.
        let current = job.state.routineStates[rid]
        let status = current?["status"].stringValue
        if status == nil || status == "running" || (status == "completed" && retries > current!["retry_count"].intValue ?? 0) {
            var st: JSONObject = ["status": "completed"]
            if let n = current?["retry_count"].intValue ?? (retries > 0 ? retries : nil) {
                st["retry_count"] = .int(max(n, retries))
            }
            job.state.setRoutineState(rid, st, at: ts)
        }
        // Effects last: a pause they ask for then sees this activation's full outcome.
        if let effects { apply(effects, of: rid, to: job, now: now) }
        if job.queue.total > 0 { markRunnable(job.id) }
        if job.outstanding == 0 { complete(job.id, now: now) }
    }

    /// Records an emission in the job's history, then queues one task per connected
    /// slot, in connection order (an emit is recorded before its deliveries: causal order).
    func emit(_ event: String, from rid: String, payload: RawJSON, in job: JobRecord, now: Double) {
        counters.emissionsRouted += 1
        let history = job.flow.definition.execution.history
        if history != .none {
            job.state.record(rid, event, payload, at: Timestamp(seconds: now))
            job.recordedBytes += Self.recordCost(payload.bytes.count)
            // Without a journal the newest `history: N` are kept as they come (with one, as they are journalled).
            if recorder == nil, let n = history.limit, job.state.executionHistory.count - n >= max(1, n / 2) { dropOldestHistory(job, keeping: n) }
        } else {
            job.state.updatedAt = Timestamp(seconds: now)
        }
        for route in job.flow.routes(from: rid, event: event) {
            enqueue(PendingTask(
                taskId: takeTaskId(), routineId: route.targetRoutine, slot: route.targetSlot, payload: payload,
                mapping: route.mapping, attempt: 1, source: TaskSource(routine: rid, event: event), createdAt: now), in: job, new: true)
            counters.deliveries += 1
        }
    }

    /// Arms the job's `execution.timeout`, counted from now.
    func startDeadline(_ job: JobRecord, now: Double) {
        guard let t = job.flow.definition.execution.timeout else { return }
        job.deadline = now + t
        actions.append(.wakeAt(now + t))
    }

    /// Ends a running job whose work ran out (a paused job completes only after resume).
    func complete(_ jobId: String, now: Double) {
        guard let job = jobs[jobId], job.state.status == .running else { return }
        let failedRoutine = job.state.routineStates.values.contains { $0["status"].stringValue == "failed" }
        try? job.state.transition(to: failedRoutine ? .failed : .completed, at: Timestamp(seconds: now))
        finish(jobId)
    }

    func fail(_ jobId: String, error: String, errorType: String, routineId: String?, now: Double) {
        guard let job = jobs[jobId], !job.state.status.isTerminal else { return }
        let ts = Timestamp(seconds: now)
        if let rid = routineId {
            job.state.setRoutineState(rid, ["status": "failed", "error": .string(error), "error_time": .string(ts.iso)], at: ts)
        } else {
            job.state.record(job.state.currentRoutineId ?? "", "error", RawJSON(["error": .string(error), "error_type": .string(errorType)]), at: ts)
        }
        interruptRoutines(of: job, why: routineId == nil ? error : "the job failed in routine '\(routineId!)'", at: ts)
        try? job.state.transition(to: .failed, at: ts)
        // Queued work is dropped; results of in-flight tasks are ignored when they come.
        journalClear(job)
        queuedInMemory -= job.queue.count
        job.queue.removeAll()
        job.retrying.removeAll()
        job.timers.removeAll()
        log(.warning, "job \(jobId) failed: \(error)")
        finish(jobId)
    }

    /// When a job ends before its work did: every routine still `running`, or
    /// with an activation in flight, ends `interrupted`, saying why (its
    /// late results are ignored, so nothing else would ever settle it).
    func interruptRoutines(of job: JobRecord, why: String, at ts: Timestamp) {
        var busy = Set(job.state.routineStates.filter { $0.value["status"].stringValue == "running" }.map(\.key))
        for entry in ledger.values where entry.jobId == job.id && entry.run == job.run { busy.insert(entry.task.routineId) }
        // An outcome already recorded (failed, error_continued, skipped) is not overwritten.
        for rid in busy.sorted() where !["failed", "error_continued", "skipped"].contains(job.state.routineStates[rid]?["status"].stringValue ?? "") {
            job.state.setRoutineState(rid, ["status": "interrupted", "error": .string("interrupted: \(why)"), "error_time": .string(ts.iso)], at: ts)
        }
    }

    func finish(_ jobId: String) {
        guard let job = jobs[jobId] else { return }
        journalTouch(job)
        // Streamed emissions of a job that ended are not routed.
        for r in job.routing { discardParts(TaskAttempt(taskId: r.taskId, attempt: r.attempt)) }
        job.routing.removeAll()
        let state = job.waiters.isEmpty ? nil : job.exportedState  // built once for every waiter
        for w in job.waiters {
            waitDeadlines.removeValue(forKey: w.target)
            actions.append(.reply(w.target, ControlReply(ok: true, error: nil, jobId: jobId, status: job.state.status, jobState: state)))
        }
        jobs[jobId]!.waiters = []
        actions.append(.jobFinished(jobId: jobId, status: job.state.status))
        counters.jobsFinished += 1
        log(.info, "job \(jobId) \(job.state.status.rawValue)")
        finished.append((jobId, job.run, job.recordedBytes))
        finishedBytes += job.recordedBytes
        // Bounded by count and by size, the newest always kept.
        while finished.count > config.finishedJobsKept || (finishedBytes > config.finishedJobsBytes && finished.count > 1) {
            // Results still in flight for a forgotten job are dropped when they
            // arrive: the ledger knows them, the job is gone.
            let old = finished.removeFirst()
            finishedBytes -= old.bytes
            if jobs[old.id]?.run == old.run { jobs.removeValue(forKey: old.id) }
        }
    }

}

extension CoordinatorCore {
    /// About what a history record holds in memory: its payload bytes and the record around them
    /// (calibrated with `routilux-bench --scenario memory`, so that RSS growth stays within the budget).
    static func recordCost(_ payloadBytes: Int) -> Int { payloadBytes + 160 }
    /// About what an output holds: it is kept as a parsed JSON tree (several times its text) in an entry.
    static func outputCost(_ bytes: Int) -> Int { 7 * bytes + 288 }
}

/// The core's own random pool (the core is used from one task at a time).
final class RandomPoolBox {
    var pool = RandomPool()
}

/// Random (version 4, RFC 4122 variant) UUID strings, without Foundation in the core.
enum UUIDString {
    static func make() -> String {
        var g = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { bytes[i] = g.next() }
        bytes[6] = (bytes[6] & 0x0F) | 0x40  // version 4
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // variant 10xx: RFC 4122
        let digits = Array("0123456789abcdef")
        var s = ""
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { s.append("-") }
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 0x0F)])
        }
        return s
    }

    /// 128 random bits as 32 hex digits: a session token.
    static func token() -> String {
        var g = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef")
        var s = ""
        for _ in 0..<2 {
            let n: UInt64 = g.next()
            for k in stride(from: 60, through: 0, by: -4) { s.append(digits[Int((n >> UInt64(k)) & 0xF)]) }
        }
        return s
    }
}
