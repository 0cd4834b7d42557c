import RoutiluxCore

/// Read-only views of the core for the HTTP API and the CLI's lists: each returns a copy,
/// bounded by its paging, so a request costs the loop little whatever the cluster holds.
extension CoordinatorCore {
    /// Which jobs a list shows.
    public struct JobFilter: Sendable {
        public var status: JobStatus?
        public var flowId: String?
        public var offset: Int
        public var limit: Int
        public init(status: JobStatus? = nil, flowId: String? = nil, offset: Int = 0, limit: Int = 100) {
            self.status = status
            self.flowId = flowId
            self.offset = offset
            self.limit = limit
        }
    }

    /// How many jobs, flows and workers are held here (no sorting: cheap enough for a health probe).
    public var counts: (jobs: Int, flows: Int, workers: Int) { (jobs.count, flows.count, workers.count) }

    /// Jobs held here (running, waiting, and the finished ones kept), newest first, filtered and
    /// paged: the page's summaries and how many match in all.
    public func jobList(_ filter: JobFilter) -> (total: Int, jobs: [JSONValue]) {
        let matching = jobs.values.filter { job in
            (filter.status == nil || job.state.status == filter.status) && (filter.flowId == nil || job.state.flowId == filter.flowId)
        }.sorted { $0.run > $1.run }
        let page = matching.dropFirst(max(0, filter.offset)).prefix(max(0, filter.limit))
        return (matching.count, page.map { summary(of: $0) })
    }

    /// One job's summary (nil: not held here).
    public func jobSummary(_ id: String) -> JSONValue? { jobs[id].map { summary(of: $0) } }

    /// A page of a job's history, when the page is in memory (nil: not held, or the page starts
    /// in the store only: the caller reads the whole history through a query instead).
    public func historyPage(_ id: String, offset: Int, limit: Int) -> (total: Int, records: [JSONValue])? {
        guard let job = jobs[id], offset >= job.historyDropped else { return nil }
        let inMemory = job.state.executionHistory
        return (job.historyDropped + inMemory.count, Self.page(inMemory, offset: offset - job.historyDropped, limit: limit).map(\.json))
    }

    /// A page of a job's output log (nil: not held here).
    public func outputPage(_ id: String, offset: Int, limit: Int) -> (total: Int, records: [JSONValue])? {
        guard let job = jobs[id] else { return nil }
        return (job.state.outputs.count, Self.page(job.state.outputs, offset: offset, limit: limit).map(\.json))
    }

    /// `limit` elements from `offset` (fewer at the end; none past it).
    public static func page<T>(_ all: [T], offset: Int, limit: Int) -> ArraySlice<T> {
        let start = min(all.count, max(0, offset))
        return all[start..<(start + min(max(0, limit), all.count - start))]
    }

    /// The flows loaded here, by id: each with its routine and connection counts.
    public func flowList() -> [JSONValue] {
        flowIds.compactMap { id in
            guard let f = flows[id] else { return nil }
            return .object([
                "flow_id": .string(id), "routines": .int(f.routines.count), "connections": .int(f.connections.count),
                "routine_types": .array(Array(Set(f.routines.map(\.type))).sorted().map { .string($0) }),
            ])
        }
    }

    /// A loaded flow, as its DSL document (every setting explicit; loads back to the same flow).
    public func flowDocument(_ id: String) -> JSONValue? { flows[id]?.dslJSON }

    /// The joined workers, as the cluster status lists them.
    public func workerList(now: Double) -> [JSONValue] { clusterStatus(now: now)["workers"].arrayValue ?? [] }

    /// What a list shows of a job held here: its summary, with where it stands now.
    func summary(of job: JobRecord) -> JSONValue {
        let progress = JobProgress(
            queued: job.queue.total, inFlight: job.inFlight, retrying: job.retrying.count, timers: job.timers.count, routing: job.routing.count)
        var s = job.state
        s.executionTracker = job.tracker.isEmpty ? nil : job.tracker.json(flowId: s.flowId)
        return Self.summary(of: s, historyCount: job.historyDropped + s.executionHistory.count, progress: progress, maxWorkers: job.maxWorkers)
    }

    /// What a job has outstanding: queued, dispatched, waiting to retry, timers set, emissions being routed.
    public struct JobProgress: Sendable {
        public var queued, inFlight, retrying, timers, routing: Int
        public init(queued: Int = 0, inFlight: Int = 0, retrying: Int = 0, timers: Int = 0, routing: Int = 0) {
            (self.queued, self.inFlight, self.retrying, self.timers, self.routing) = (queued, inFlight, retrying, timers, routing)
        }
    }

    /// What a list shows of a job: its status and where it stands (what is queued, running,
    /// waiting to retry), with the per-routine counts of the execution tracker. A job no longer
    /// held here (read from the store) has nothing outstanding.
    public static func summary(of s: JobState, historyCount: Int? = nil, progress: JobProgress = JobProgress(), maxWorkers: Int? = nil) -> JSONValue {
        var o: JSONObject = [
            "job_id": .string(s.jobId), "flow_id": .string(s.flowId), "status": .string(s.status.rawValue),
            "created_at": .string(s.createdAt.iso), "updated_at": .string(s.updatedAt.iso),
            "progress": .object([
                "queued": .int(progress.queued), "in_flight": .int(progress.inFlight), "retrying": .int(progress.retrying),
                "timers": .int(progress.timers), "routing": .int(progress.routing),
            ]),
            "history_count": .int(historyCount ?? s.executionHistory.count), "outputs_count": .int(s.outputs.count),
        ]
        if let maxWorkers { o["max_workers"] = .int(maxWorkers) }
        if let r = s.currentRoutineId { o["current_routine_id"] = .string(r) }
        if let w = s.waitingFor { o["waiting_for"] = .string(w) }
        if let t = s.executionTracker { o["execution_tracker"] = t }
        return .object(o)
    }
}
