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
        guard let job = jobs[id] else { return nil }
        let inMemory = job.state.executionHistory
        let total = job.historyDropped + inMemory.count
        guard offset >= job.historyDropped else { return nil }
        let start = min(inMemory.count, offset - job.historyDropped)
        let end = min(inMemory.count, start + max(0, limit))
        return (total, inMemory[start..<end].map(\.json))
    }

    /// A page of a job's output log (nil: not held here).
    public func outputPage(_ id: String, offset: Int, limit: Int) -> (total: Int, records: [JSONValue])? {
        guard let job = jobs[id] else { return nil }
        let all = job.state.outputs
        let start = min(all.count, max(0, offset))
        let end = min(all.count, start + max(0, limit))
        return (all.count, all[start..<end].map(\.json))
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

    /// What a list shows of a job: its status and where it stands (what is queued, running,
    /// waiting to retry), with the per-routine counts of the execution tracker.
    func summary(of job: JobRecord) -> JSONValue {
        let s = job.state
        var o: JSONObject = [
            "job_id": .string(job.id), "flow_id": .string(s.flowId), "status": .string(s.status.rawValue),
            "created_at": .string(s.createdAt.iso), "updated_at": .string(s.updatedAt.iso),
            "progress": .object([
                "queued": .int(job.queue.total), "in_flight": .int(job.inFlight), "retrying": .int(job.retrying.count),
                "timers": .int(job.timers.count), "routing": .int(job.routing.count),
            ]),
            "history_count": .int(job.historyDropped + s.executionHistory.count), "outputs_count": .int(s.outputs.count),
            "max_workers": .int(job.maxWorkers),
        ]
        if let r = s.currentRoutineId { o["current_routine_id"] = .string(r) }
        if let w = s.waitingFor { o["waiting_for"] = .string(w) }
        if !job.tracker.isEmpty { o["execution_tracker"] = job.tracker.json(flowId: s.flowId) }
        return .object(o)
    }
}
