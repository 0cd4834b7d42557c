import Hummingbird
import RoutiluxCoordinator
import RoutiluxCore

extension CoordinatorAPI {
    /// `/health/live` (the process answers) and `/health/ready` (its loop runs: 503 otherwise).
    func addHealthRoutes(to router: Router<BasicRequestContext>) {
        router.get("health/live") { _, _ in JSONResponse.make(["status": "live"]) }
        router.get("health/ready") { _, _ in
            guard let n = await service.inspect({ core, _ in core.counts }) else {
                return JSONResponse.make(["status": "not_ready", "reason": "the coordinator is not running"], status: .serviceUnavailable)
            }
            return JSONResponse.make(["status": "ready", "workers": .int(n.workers), "flow_count": .int(n.flows), "jobs": .int(n.jobs)])
        }
    }

    /// Workers: the cluster status view, one worker, 404 for an unknown id.
    func addWorkerRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get { request, _ in
            try reader(request).onlyQuery([])
            let list = try await inspect { core, now in core.workerList(now: now) }
            return JSONResponse.make(["workers": .array(list), "total": .int(list.count)])
        }
        group.get(":id") { request, context in
            try reader(request).onlyQuery([])
            let id = try context.parameters.require("id")
            let list = try await inspect { core, now in core.workerList(now: now) }
            guard let w = list.first(where: { $0["worker_id"].stringValue == id }) else { throw APIError.notFound("worker", id, code: "WORKER_NOT_FOUND") }
            return JSONResponse.make(w)
        }
    }
}
