import HTTPTypes
import Hummingbird
import NIOCore
import RoutiluxCoordinator
import RoutiluxCore

extension CoordinatorAPI {
    /// Jobs: submit (with an idempotency key), list (filters, paging), get, state, wait, pause,
    /// resume, cancel, history and output (paged).
    func addJobRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.post { request, _ in try await submit(request) }
        group.get { request, _ in
            let r = reader(request)
            try r.onlyQuery(["status", "flow_id", "offset", "limit"])
            let (offset, limit) = try r.paging()
            var status: JobStatus?
            if let s = r.query("status") {
                guard let st = JobStatus(rawValue: s) else {
                    throw APIError.invalid("status must be one of pending, running, paused, completed, failed, cancelled; not '\(s.prefix(20))'", field: "status")
                }
                status = st
            }
            let filter = CoordinatorCore.JobFilter(status: status, flowId: r.query("flow_id"), offset: offset, limit: limit)
            let (total, jobs) = try await inspect { core, _ in core.jobList(filter) }
            return JSONResponse.make(["jobs": .array(jobs), "total": .int(total), "offset": .int(offset), "limit": .int(limit)])
        }
        group.get(":id") { request, context in
            try reader(request).onlyQuery([])
            let id = try context.parameters.require("id")
            if let s = try await inspect({ core, _ in core.jobSummary(id) }) { return JSONResponse.make(s) }
            // Finished and no longer held in memory: the journal may have it.
            let state = try await jobState(id)
            return JSONResponse.make(CoordinatorCore.summary(of: state))
        }
        group.get(":id/state") { request, context in
            try reader(request).onlyQuery([])
            return JSONResponse.make(try await jobState(try context.parameters.require("id")).json)
        }
        group.get(":id/status") { request, context in
            try reader(request).onlyQuery([])
            let id = try context.parameters.require("id")
            if let s = try await inspect({ core, _ in core.jobSummary(id) }) {
                return JSONResponse.make(["job_id": .string(id), "status": s["status"]])
            }
            let state = try await jobState(id)
            return JSONResponse.make(["job_id": .string(id), "status": .string(state.status.rawValue)])
        }
        group.post(":id/wait") { request, context in
            let r = reader(request)
            try r.onlyQuery(["timeout"])
            let id = try context.parameters.require("id")
            let timeout = try r.int("timeout", default: 30, in: 1...3600)
            let reply = await service.query(jobId: id, waitMs: timeout * 1000, historyTail: 0)
            // At the timeout the core answers with the status only (no state).
            guard reply.ok, let status = reply.status ?? reply.jobState?.status else { _ = try Self.state(of: reply, id); throw APIError(.serviceUnavailable, "UNAVAILABLE", "no answer for job \(id)") }
            return JSONResponse.make(["job_id": .string(id), "status": .string(status.rawValue), "result": .string(status.isTerminal ? "completed" : "timeout")])
        }
        for op in ["pause", "resume", "cancel"] {
            group.post(":id/\(op)") { request, context in
                let id = try context.parameters.require("id")
                let body = try BodyFields(try await reader(request).jsonObject(), allowed: op == "resume" ? [] : ["reason"])
                let reason = try body.string("reason", maxLength: 1000) ?? "requested over HTTP"
                let operation: JobControl.Operation =
                    switch op {
                    case "pause": .pause(reason: reason, checkpoint: nil)
                    case "resume": .resume
                    default: .cancel(reason: reason)
                    }
                let reply = await service.control(JobControl(jobId: id, operation: operation))
                guard reply.ok else { _ = try Self.state(of: reply, id, conflict: true); throw APIError(.conflict, "CONFLICT", reply.error ?? op) }
                let status = reply.status ?? reply.jobState?.status
                return JSONResponse.make(["job_id": .string(id), "status": status.map { .string($0.rawValue) } ?? .null])
            }
        }
        // History and output, paged: from memory when the page is there; else (not held, or the
        // page is in the journal only) from the whole state, read from the store.
        addPagedLog(to: group, path: ":id/history", key: "records", inMemory: { core, id, offset, limit in
            core.historyPage(id, offset: offset, limit: limit)
        }, fromState: { $0.executionHistory.map(\.json) })
        addPagedLog(to: group, path: ":id/output", key: "outputs", inMemory: { core, id, offset, limit in
            core.outputPage(id, offset: offset, limit: limit)
        }, fromState: { $0.outputLog })
    }

    /// A GET route answering a page of one of a job's logs as `{KEY: [...], total, offset, limit}`.
    private func addPagedLog(
        to group: RouterGroup<BasicRequestContext>, path: RouterPath, key: String,
        inMemory: @escaping @Sendable (CoordinatorCore, String, Int, Int) -> (total: Int, records: [JSONValue])?,
        fromState: @escaping @Sendable (JobState) -> [JSONValue]
    ) {
        group.get(path) { request, context in
            let r = reader(request)
            try r.onlyQuery(["offset", "limit"])
            let id = try context.parameters.require("id")
            let (offset, limit) = try r.paging()
            let page: (total: Int, records: [JSONValue])
            if let held = try await inspect({ core, _ in inMemory(core, id, offset, limit) }) {
                page = held
            } else {
                let all = fromState(try await jobState(id))
                page = (all.count, Array(CoordinatorCore.page(all, offset: offset, limit: limit)))
            }
            return JSONResponse.make([key: .array(page.records), "total": .int(page.total), "offset": .int(offset), "limit": .int(limit)])
        }
    }

    /// POST /api/v1/jobs: `{flow_id | dsl | dsl_dict, data?, routine_id?, slot_name?, max_workers?,
    /// idempotency_key?}` (or the `Idempotency-Key` header): 201 with the job, or 200 with the job
    /// an earlier request with the same key started.
    func submit(_ request: Request) async throws -> Response {
        let object = try await reader(request).jsonObject()
        let body = try BodyFields(object, allowed: ["flow_id", "dsl", "dsl_dict", "data", "routine_id", "slot_name", "max_workers", "idempotency_key"])
        let flow: FlowReference
        if let id = try body.string("flow_id", maxLength: 256), object["dsl"] == nil, object["dsl_dict"] == nil {
            flow = .id(id)
        } else if object["dsl"] != nil || object["dsl_dict"] != nil {
            flow = .document(try Self.flowDocument(body), name: "request body")
        } else {
            throw APIError.invalid("give flow_id (a flow loaded here), or the flow itself as dsl or dsl_dict", field: "flow_id")
        }
        let data = try body.object("data") ?? [:]
        var entry: EntryPoint?
        if let routine = try body.string("routine_id", maxLength: 256) {
            entry = EntryPoint(routine: routine, slot: try body.string("slot_name", maxLength: 256) ?? "trigger")
        } else if object["slot_name"] != nil {
            throw APIError.invalid("slot_name needs routine_id", field: "slot_name")
        }
        let maxWorkers = try body.int("max_workers", in: 1...10_000)
        let key = try body.string("idempotency_key", maxLength: 256) ?? request.headers[HTTPField.Name("Idempotency-Key")!]
        let submission = SubmitRequest(flow: flow, params: RawJSON(.object(data)), entry: entry, maxWorkers: maxWorkers)
        if let key {
            var fingerprint = object
            fingerprint.removeValue(forKey: "idempotency_key")
            switch await idempotency.claim(key, fingerprint: JSONValue.object(fingerprint).serialized()) {
            case .done(let job, true):
                return JSONResponse.make(["job_id": .string(job), "idempotent_replay": true], status: .ok)
            case .done(let job, false):
                throw APIError(.conflict, "CONFLICT", "idempotency key '\(key.prefix(60))' was used for another request (job \(job))", field: "idempotency_key")
            case .submit:
                break
            }
        }
        let reply = await service.submit(submission)
        guard reply.ok, let id = reply.jobId else {
            if let key { idempotency.abandon(key) }
            if reply.stopping { throw APIError(.serviceUnavailable, "RUNTIME_SHUTDOWN", reply.error ?? "the coordinator is stopping") }
            throw APIError(.unprocessableContent, "VALIDATION_ERROR", reply.error ?? "the job was refused")
        }
        if let key { idempotency.finish(key, jobId: id) }
        var answer: JSONObject = ["job_id": .string(id), "status": .string((reply.status ?? .pending).rawValue)]
        if let st = reply.jobState { answer["flow_id"] = .string(st.flowId) }
        return JSONResponse.make(.object(answer), status: .created)
    }

    /// A job's whole state (from memory or the journal), or 404.
    func jobState(_ id: String) async throws -> JobState {
        try Self.state(of: await service.query(jobId: id, wait: false), id)
    }

    /// The state in a reply, or the error it says: 404 for an unknown job, 503 when stopping,
    /// else 409 (`conflict`: a control the job's status does not allow) or 500.
    static func state(of reply: ControlReply, _ id: String, conflict: Bool = false) throws -> JobState {
        if reply.ok, let st = reply.jobState { return st }
        let message = reply.error ?? "no answer for job \(id)"
        if reply.unknownJob { throw APIError.notFound("job", id, code: "JOB_NOT_FOUND") }
        if reply.stopping || message == "coordinator stopped" { throw APIError(.serviceUnavailable, "RUNTIME_SHUTDOWN", message) }
        if conflict || reply.ok { throw APIError(.conflict, "CONFLICT", message) }
        throw APIError(.serviceUnavailable, "UNAVAILABLE", message)
    }
}
