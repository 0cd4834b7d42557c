import DequeModule
import RoutiluxCore
import RoutiluxStore
import RoutiluxWire

/// The journal: every change to a job, its tasks and the flows is recorded as
/// it happens, and `takeJournal()` hands the turn's changes to the shell, which
/// commits them before carrying out the turn's actions. `restore` rebuilds the
/// jobs a previous process left unfinished.
extension CoordinatorCore {
    // MARK: - Recording (each a no-op without a journal)

    /// Appends (or, `atFront`, prepends) a task to its job's queue.
    /// With a journal, a task appended while the coordinator holds `maxQueuedInMemory` queued
    /// tasks is kept in the store only (spilled) and read back in order as its lane runs low.
    func enqueue(_ task: PendingTask, in job: JobRecord, atFront: Bool = false, new: Bool = false) {
        var t = task
        let lane = job.flow.depths[t.routineId] ?? 0
        if atFront {
            t.position = job.nextFront
            job.nextFront -= 1
            job.queue.prepend(t, depth: lane)
            queuedInMemory += 1
        } else {
            t.position = job.nextBack
            job.nextBack += 1
            let spill = recorder != nil && queuedInMemory >= config.maxQueuedInMemory
            if job.queue.append(t, depth: lane, spill: spill) {
                queuedInMemory += 1
            } else {
                markRunnable(job.id)  // dispatch asks for it back when nothing of the job is in memory
            }
        }
        recorder?.put(t, of: job, at: .queued, position: t.position, new: new, lane: lane)
    }

    /// Queued tasks read back per request, and the lane size under which one is made (both a
    /// share of the bound, so memory stays near it).
    var readBackBatch: Int { max(1, min(4096, config.maxQueuedInMemory / 4)) }
    var readBackLowWater: Int { max(1, min(1024, config.maxQueuedInMemory / 8)) }

    /// Asks the shell to read back spilled tasks of lanes running low, within the room the bound
    /// leaves (some always, so that no lane starves); with `all`, everything (a pause exports it all).
    func requestReadBack(_ job: JobRecord, all: Bool = false) {
        guard recorder != nil, job.queue.spilled > 0, !job.state.status.isTerminal else { return }
        var room = all ? Int.max : max(readBackLowWater, config.maxQueuedInMemory - queuedInMemory - readBacksAsked)
        while room > 0, let r = job.queue.takeReadBack(lowWater: readBackLowWater, batch: all ? Int.max : readBackBatch, room: room, all: all) {
            readBacksAsked += r.limit
            room -= r.limit
            actions.append(.readQueued(jobId: job.id, run: job.run, lane: r.lane, after: r.after, limit: r.limit))
        }
    }

    /// Spilled tasks read back from the store (nil: the read failed; it is asked again later).
    func onQueuedRead(jobId: String, run: UInt64, lane: Int, limit: Int, rows: [StoredTask]?, now: Double) {
        readBacksAsked = max(0, readBacksAsked - limit)
        guard let job = jobs[jobId], job.run == run, !job.state.status.isTerminal else { return }
        guard let rows else {
            job.queue.readFailed(lane: lane)  // asked again at the next tick
            return
        }
        var read: [(position: Double, task: PendingTask?)] = []
        for row in rows {
            do {
                let t = try Self.decodeTask(row, now: now).task
                read.append((row.position, t))
                recentTaskIds.append(t.taskId)
            } catch {
                read.append((row.position, nil))
                log(.error, "job \(jobId): queued task \(row.taskId) in the store cannot be read (\(error)); passed over")
            }
        }
        queuedInMemory += job.queue.readBack(lane: lane, read, limit: limit)
        markRunnable(job.id)
        requestReadBack(job, all: job.state.status == .paused)
        answerPausedWaiters(job)
    }

    /// Read-backs that failed, or were left for room, are asked again (each tick).
    func retryReadBacks() {
        guard recorder != nil else { return }
        for job in jobs.values where job.queue.spilled > 0 && !job.state.status.isTerminal {
            requestReadBack(job, all: job.state.status == .paused)
        }
    }

    /// A journalled task row as a task, with its state's timer key.
    static func decodeTask(_ row: StoredTask, now: Double) throws -> (task: PendingTask, timerKey: String?) {
        let body = try JSONValue.parse(row.body)
        let st = try JSONValue.parse(row.state)
        guard let rid = body["routine"].stringValue, let slot = body["slot"].stringValue else {
            throw RoutineError("task \(row.taskId): no routine or slot")
        }
        var source: TaskSource?
        if let r = body["source"]["routine"].stringValue, let e = body["source"]["event"].stringValue { source = TaskSource(routine: r, event: e) }
        let mapping = body["mapping"].arrayValue?.map { $0.arrayValue?.compactMap(\.stringValue) ?? [] }
        var t = PendingTask(
            taskId: row.taskId, routineId: rid, slot: slot, payload: RawJSON(body["payload"]), mapping: mapping,
            attempt: min(max(1, st["attempt"].intValue ?? 1), WireLimits.maxAttempt), retries: max(0, st["retries"].intValue ?? 0),
            source: source, createdAt: body["created"].doubleValue ?? now)
        t.expiries = max(0, st["expiries"].intValue ?? 0)
        t.avoid = st["avoid"].stringValue
        t.position = row.position
        return (t, st["timer"].stringValue)
    }

    func journalTouch(_ job: JobRecord) { recorder?.touch(job) }

    /// Changes waiting for the next batch, as task changes plus staged KiB (the shell commits early when they pile up).
    public var journalBacklog: Int { (recorder?.tasks.count ?? 0) + (recorder?.stagedBytes ?? 0) / 1024 }

    func journalRetry(_ retry: ScheduledRetry, of job: JobRecord) {
        recorder?.put(retry.task, of: job, at: .retry, position: retry.due, new: false, lane: job.flow.depths[retry.task.routineId] ?? 0)
    }

    func journalTimer(_ timer: ScheduledTimer, key: String, of job: JobRecord) {
        recorder?.put(timer.task, of: job, at: .timer, position: timer.due, new: true, extra: .init(timerKey: key), lane: job.flow.depths[timer.task.routineId] ?? 0)
    }

    func journalGone(_ taskId: UInt64) { recorder?.gone(taskId) }

    func journalClear(_ job: JobRecord) { recorder?.clear(job) }

    // MARK: - The batch

    /// The changes since the last call, as one batch for the store (nil: none, or no journal).
    public func takeJournal() -> JournalBatch? {
        guard let r = recorder, !r.isEmpty || journalledJobSeq != nextJobSeq else { return nil }
        var b = JournalBatch()
        b.flows = r.flows.map { (id: $0.0, document: $0.1) }
        for job in r.jobs.values.sorted(by: { $0.run < $1.run }) {
            var flow: [UInt8]?
            if !job.journalled {
                b.resets.append(job.id)
                job.journalled = true
                job.flowJournalled = false
            }
            if !job.flowJournalled {
                flow = Self.flowBlob(job)
                job.flowJournalled = true
            }
            b.jobs.append(JobWrite(
                jobId: job.id, run: job.run, status: job.state.status.rawValue,
                finishedAt: job.state.status.isTerminal ? job.state.updatedAt.seconds : nil, meta: Self.metaBlob(job), flow: flow,
                appends: Self.newLogEntries(job)))
            trimHistory(job)
        }
        b.clearedTasks = r.cleared
        b.staged = r.staged.values.flatMap { $0 }
        b.unstaged = r.unstaged.map { ($0.taskId, $0.attempt) }
        for (id, change) in r.tasks {
            switch change {
            case .created(let t, let jobId, let place, let position, let extra):
                b.tasks.append(.insert(StoredTask(
                    taskId: id, jobId: jobId, place: place, position: position, lane: extra.lane, state: Self.taskState(t, extra), body: Self.taskBody(t))))
            case .moved(let t, let place, let position, let extra):
                b.tasks.append(.move(taskId: id, place: place, position: position, lane: extra.lane, state: Self.taskState(t, extra)))
            case .deleted:
                b.tasks.append(.delete(taskId: id))
            case .dropped:
                break
            }
        }
        if journalledJobSeq != nextJobSeq {
            b.values["next_job_seq"] = Int64(nextJobSeq)
            journalledJobSeq = nextJobSeq
        }
        recorder = JournalRecorder()
        return b
    }

    /// What a run of a job never changes (its flow may, while it waits for workers): written with its row.
    static func flowBlob(_ job: JobRecord) -> [UInt8] {
        var ports = JSONObject()
        for (id, p) in job.flow.ports.sorted(by: { $0.key < $1.key }) { ports[id] = .object(p.json) }
        var w = JSONObjectWriter(capacity: 1024 + job.entryParams.bytes.count)
        w.value("definition", job.flow.definition.dslJSON)
        w.value("ports", .object(ports))
        w.raw("entry_params", job.entryParams.bytes)
        return w.finish()
    }

    static func metaBlob(_ job: JobRecord) -> [UInt8] {
        var s = job.state
        s.executionHistory = []
        s.outputs = []
        s.sharedLog = []
        s.pendingTasks = []
        s.slotStates = [:]
        s.routineData = [:]
        // The figures are kept once the job is over (a restarted job counts its activations from then on).
        s.executionTracker = job.state.status.isTerminal && !job.tracker.isEmpty ? job.tracker.json(flowId: s.flowId) : nil
        var w = JSONObjectWriter(capacity: 512)
        w.raw("state", s.json.serialized())
        w.value("max_workers", .int(job.maxWorkers))
        if let d = job.deadline { w.value("deadline", .double(d)) }
        w.rawObject("slot_states", job.slotStates.sorted { $0.key < $1.key }.map { ($0.key, $0.value.bytes) })
        w.rawObject("routine_memory", job.routineMemory.sorted { $0.key < $1.key }.map { ($0.key, $0.value.bytes) })
        w.value("next_back", .double(job.nextBack))
        w.value("next_front", .double(job.nextFront))
        if !job.inFlightIds.isEmpty { w.value("in_flight", .array(job.inFlightIds.sorted().map { .int(Int($0)) })) }
        if let routing = routingJSON(job) { w.value("routing", routing) }
        // How many history records the job has in all (a restart reads back only the newest).
        w.value("history_total", .int(job.historyDropped + job.state.executionHistory.count))
        return w.finish()
    }

    /// History records, outputs and shared-log entries added since the last batch: one row
    /// per log, a JSON array of the new entries, keyed by the first one's index.
    static func newLogEntries(_ job: JobRecord) -> [(kind: JobLogKind, index: Int, body: [UInt8])] {
        var out: [(kind: JobLogKind, index: Int, body: [UInt8])] = []
        func row(_ kind: JobLogKind, from first: Int, to end: Int, _ entry: (Int, inout [UInt8]) -> Void) {
            guard first < end else { return }
            var bytes: [UInt8] = [0x5B]
            for i in first..<end {
                if i > first { bytes.append(0x2C) }
                entry(i, &bytes)
            }
            bytes.append(0x5D)
            out.append((kind, first, bytes))
        }
        // History indices count from the job's first record (the oldest may be in the store only).
        let h = job.state.executionHistory
        let dropped = job.historyDropped
        row(.history, from: job.logged.history, to: dropped + h.count) { i, bytes in
            let r = h[i - dropped]
            var w = JSONObjectWriter()
            w.string("routine_id", r.routineId)
            w.string("event_name", r.eventName)
            w.value("t", .double(r.timestamp.seconds))
            w.raw("data", r.data.bytes)
            bytes += w.finish()
        }
        let o = job.state.outputs
        row(.outputs, from: job.logged.outputs, to: o.count) { i, bytes in
            // routilux's shape, the data spliced in as it came (checked when its RESULT was accepted)
            var w = JSONObjectWriter()
            w.string("routine_id", o[i].routineId)
            w.string("output_type", o[i].outputType)
            w.raw("data", o[i].data.bytes)
            w.string("timestamp", o[i].timestamp.iso)
            bytes += w.finish()
        }
        let l = job.state.sharedLog
        row(.sharedLog, from: job.logged.shared, to: l.count) { i, bytes in bytes += l[i].serialized() }
        job.logged = (dropped + h.count, o.count, l.count)
        return out
    }

    /// Keeps the last `historyInMemory` records of a job in memory (journalled ones only); the
    /// rest are in the store, and a JobState sent to a client gets them back from there.
    /// (A flow's `execution.history: N` caps it at N too.)
    func trimHistory(_ job: JobRecord) {
        var cap = config.historyInMemory
        if let n = job.flow.definition.execution.history.limit, n > 0 { cap = cap > 0 ? min(cap, n) : n }
        let h = job.state.executionHistory.count
        guard cap > 0, h - cap >= cap / 2, job.logged.history >= job.historyDropped + h else { return }
        dropOldestHistory(job, keeping: cap)
    }

    /// Drops a job's oldest history records from memory, keeping the newest `n`.
    func dropOldestHistory(_ job: JobRecord, keeping n: Int) {
        let drop = job.state.executionHistory.count - n
        guard drop > 0 else { return }
        job.recordedBytes -= job.state.executionHistory.prefix(drop).reduce(0) { $0 + Self.recordCost($1.data.bytes.count) }
        job.state.executionHistory.removeFirst(drop)
        job.historyDropped += drop
    }

    /// Replies carrying a JobState of a job whose oldest history is in the store only say so
    /// (the shell reads it back before sending), unless the client asked for a tail memory holds.
    func markHistoryInStore() {
        for (i, a) in actions.enumerated() {
            guard case .reply(let target, var r) = a, let st = r.jobState, let id = r.jobId, let job = jobs[id], job.historyDropped > 0 else { continue }
            var tail = replyTails[target]
            // A flow keeping its last N records gives no more than those.
            if let n = job.flow.definition.execution.history.limit { tail = min(tail ?? n, n) }
            if let tail, tail <= st.executionHistory.count { continue }
            r.historyInStore = job.historyDropped
            r.historyTail = tail
            replyTails.removeValue(forKey: target)
            actions[i] = .reply(target, r)
        }
    }

    /// The first `count` history records of a job, from its journalled log rows.
    public static func historyRecords(_ rows: [[UInt8]], count: Int) throws -> [ExecutionRecord] {
        try entries(rows).prefix(count).map(record)
    }

    /// One journalled history entry as a record.
    static func record(_ e: JSONValue) -> ExecutionRecord {
        ExecutionRecord(
            routineId: e["routine_id"].stringValue ?? "", eventName: e["event_name"].stringValue ?? "", data: RawJSON(e["data"]),
            timestamp: Timestamp(seconds: e["t"].doubleValue ?? 0))
    }

    /// The entries of a log's rows, in order.
    static func entries(_ rows: [[UInt8]]?) throws -> [JSONValue] {
        var out: [JSONValue] = []
        for r in rows ?? [] {
            guard let a = try JSONValue.parse(r).arrayValue else { throw RoutineError("a journal log row is not a JSON array") }
            out += a
        }
        return out
    }

    static func taskBody(_ t: PendingTask) -> [UInt8] {
        var w = JSONObjectWriter(capacity: 96 + t.payload.bytes.count)
        w.string("routine", t.routineId)
        w.string("slot", t.slot)
        w.raw("payload", t.payload.bytes)
        if let m = t.mapping { w.value("mapping", .array(m.map { .array($0.map { .string($0) }) })) }
        if let s = t.source { w.value("source", ["routine": .string(s.routine), "event": .string(s.event)]) }
        w.value("created", .double(t.createdAt))
        return w.finish()
    }

    static func taskState(_ t: PendingTask, _ extra: JournalRecorder.TaskExtra) -> [UInt8] {
        var o: JSONObject = ["attempt": .int(t.attempt), "retries": .int(t.retries), "expiries": .int(t.expiries)]
        if let a = t.avoid { o["avoid"] = .string(a) }
        if let k = extra.timerKey { o["timer"] = .string(k) }
        return JSONValue.object(o).serialized()
    }

    // MARK: - Restoring

    /// Rebuilds what a previous coordinator journalled: its flows (flows already
    /// added here, from files, win) and every unfinished job. Tasks that were in
    /// flight go back to the front of their queues with their attempt raised, so a
    /// late answer to the old attempt is stale; timers, retries and job deadlines
    /// keep their times. Returns what to do (logs, among them one per job or
    /// flow that could not be restored); feed a `.tick` next.
    public func restore(_ stored: StoredState, now: Double) -> [CoordinatorAction] {
        actions = []
        var problems: [String] = []
        for (id, doc) in stored.flows where flows[id] == nil {
            do {
                flows[id] = try FlowLoader.build(try JSONValue.parse(doc), file: nil, defaultFlowId: id, catalogue: nil)
            } catch {
                problems.append("flow \(id): \(error)")
            }
        }
        if let seq = stored.values["next_job_seq"], seq > 0 { nextJobSeq = max(nextJobSeq, UInt64(seq)) }
        for s in stored.jobs {
            do { try restoreJob(s, now: now) } catch {
                problems.append("job \(s.jobId): \(error)")
            }
        }
        journalledJobSeq = nextJobSeq
        for p in problems { log(.error, "not restored: \(p)") }
        return actions
    }

    /// A stored job's JobState as clients see it (a finished one, read back from the store).
    public static func jobState(_ s: StoredJob) throws -> JobState {
        let meta = try JSONValue.parse(s.meta)
        var state = try stateWithLogs(s, meta: meta).state
        // A flow keeping its last N records gives no more than those.
        if let h = ExecutionSettings.History(json: try JSONValue.parse(s.flow)["definition"]["execution"]["history"]), let n = h.limit,
            state.executionHistory.count > n
        {
            state.executionHistory = Array(state.executionHistory.suffix(n))
        }
        for (k, v) in meta["slot_states"].objectValue ?? [:] { state.slotStates[k] = v }
        for (k, v) in meta["routine_memory"].objectValue ?? [:] { state.routineData[k] = v }
        return state
    }

    /// With `historyTail`, only the newest that many history records are read (when the meta says how
    /// many there are in all); returns the state and how many older records were left in the store.
    static func stateWithLogs(_ s: StoredJob, meta: JSONValue, historyTail: Int? = nil) throws -> (state: JobState, olderInStore: Int) {
        var state = try JobState(json: meta["state"])
        let logs = s.logs
        var older = 0
        let rows = logs[.history] ?? []
        if let tail = historyTail, let total = meta["history_total"].intValue {
            // From the last row back, until the tail is covered: the older rows stay unparsed.
            var newest: [[JSONValue]] = []
            var count = 0
            for row in rows.reversed() where count < tail {
                guard let entries = try JSONValue.parse(row).arrayValue else { throw RoutineError("a journal log row is not a JSON array") }
                newest.append(entries)
                count += entries.count
            }
            let records = newest.reversed().joined().suffix(tail).map(Self.record)
            older = max(0, total - records.count)
            state.executionHistory = records
        } else {
            state.executionHistory = try historyRecords(rows, count: .max)
        }
        state.outputs += try entries(logs[.outputs]).map(OutputEntry.init(json:))
        state.sharedLog += try entries(logs[.sharedLog])
        return (state, older)
    }

    private func restoreJob(_ s: StoredJob, now: Double) throws {
        let flowDoc = try JSONValue.parse(s.flow)
        let def = try FlowLoader.build(flowDoc["definition"], file: nil, defaultFlowId: "flow", catalogue: nil)
        var ports: [String: RoutinePorts] = [:]
        for (id, p) in flowDoc["ports"].objectValue ?? [:] { ports[id] = try RoutinePorts(json: p, path: "ports.\(id)") }
        let meta = try JSONValue.parse(s.meta)
        // Only the newest history records memory would keep are read (the rest stay in the store).
        let limit = ExecutionSettings.History(json: flowDoc["definition"]["execution"]["history"])?.limit
        var tail: Int? = config.historyInMemory > 0 ? config.historyInMemory : nil
        if let n = limit { tail = min(tail ?? n, n) }
        let (state, olderInStore) = try Self.stateWithLogs(s, meta: meta, historyTail: recorder == nil ? nil : tail)
        let compiled = CompiledFlow(def, ports: ports)
        let job = JobRecord(
            id: s.jobId, run: s.run, flow: compiled, state: state, maxWorkers: max(1, meta["max_workers"].intValue ?? compiled.definition.execution.maxWorkers))
        nextJobSeq = max(nextJobSeq, s.run + 1)
        job.entryParams = RawJSON(flowDoc["entry_params"].objectValue == nil ? .object([:]) : flowDoc["entry_params"])
        job.deadline = meta["deadline"].doubleValue
        for (k, v) in meta["slot_states"].objectValue ?? [:] { job.slotStates[k] = RawJSON(v) }
        for (k, v) in meta["routine_memory"].objectValue ?? [:] { job.routineMemory[k] = RawJSON(v) }
        job.nextBack = meta["next_back"].doubleValue ?? 0
        job.nextFront = meta["next_front"].doubleValue ?? -1
        job.routing = try Self.routing(from: meta["routing"])
        job.journalled = true
        job.flowJournalled = true
        job.historyDropped = olderInStore
        job.logged = (olderInStore + state.executionHistory.count, state.outputs.count, state.sharedLog.count)
        job.recordedBytes = job.entryParams.bytes.count + state.executionHistory.reduce(0) { $0 + Self.recordCost($1.data.bytes.count) }
            + state.outputs.reduce(0) { $0 + Self.outputCost($1.data.bytes.count) }
        // What the store holds need not all be in memory (every record read back was journalled).
        trimHistory(job)
        // Built aside first: a job that cannot be read whole changes nothing.
        var queued: [PendingTask] = []
        var requeued: [PendingTask] = []
        var wakeups: [Double] = []
        var unstaged: [TaskAttempt] = []
        let inFlight = Set((meta["in_flight"].arrayValue ?? []).compactMap { $0.intValue.map { UInt64(max(0, $0)) } })
        for row in s.tasks {
            var (t, timerKey) = try Self.decodeTask(row, now: now)
            let rid = t.routineId
            switch row.place {
            case .queued where !inFlight.contains(row.taskId):
                queued.append(t)
            case .queued, .inFlight:
                // Its worker's answer, if it ever comes, belongs to the old coordinator's session: run it again.
                // (So do the parts of its emissions that old attempt streamed.)
                unstaged.append(TaskAttempt(taskId: t.taskId, attempt: t.attempt))
                t.attempt = min(t.attempt + 1, WireLimits.maxAttempt)
                requeued.append(t)
            case .retry:
                job.retrying.append(ScheduledRetry(due: row.position, task: t))
                wakeups.append(row.position)
            case .timer:
                job.timers[timerKey ?? "\(rid)/\(row.taskId)"] = ScheduledTimer(due: row.position, task: t)
                wakeups.append(row.position)
            }
        }
        queued.sort { $0.position < $1.position }
        if let first = queued.first { job.nextFront = min(job.nextFront, first.position - 1) }
        if let last = queued.last { job.nextBack = max(job.nextBack, last.position + 1) }
        // Tasks that were in flight go first, in their old order.
        for i in requeued.indices.sorted(by: { requeued[$0].position > requeued[$1].position }) {
            requeued[i].position = job.nextFront
            job.nextFront -= 1
        }
        requeued.sort { $0.position < $1.position }
        // Up to the bound in memory; the rest stays in the store, read back as the job runs.
        for t in requeued {
            job.queue.append(t, depth: compiled.depths[t.routineId] ?? 0)
            queuedInMemory += 1
        }
        for t in queued {
            let spill = recorder != nil && queuedInMemory >= config.maxQueuedInMemory
            if job.queue.append(t, depth: compiled.depths[t.routineId] ?? 0, spill: spill) { queuedInMemory += 1 }
        }
        for t in job.queue { recentTaskIds.append(t.taskId) }
        for t in requeued { recorder?.put(t, of: job, at: .queued, position: t.position, new: false, lane: compiled.depths[t.routineId] ?? 0) }
        for a in unstaged { recorder?.unstage(a) }
        counters.tasksRequeued += requeued.count
        for w in wakeups { actions.append(.wakeAt(w)) }
        job.retrying.sort { $0.due < $1.due }
        jobs[job.id] = job
        if let d = job.deadline { actions.append(.wakeAt(d)) }
        if !job.queue.isEmpty { markRunnable(job.id) }
        requestReadBack(job)
        continueRouting(job, now: now)
        // Its last result was journalled, its completion was not: it completes now.
        if job.state.status == .running && job.outstanding == 0 { complete(job.id, now: now) }
        log(.info, "job \(job.id) restored (\(state.status.rawValue)): \(job.queue.count) queued, \(job.retrying.count) waiting to retry, \(job.timers.count) timer(s)")
    }
}
