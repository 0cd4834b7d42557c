import RoutiluxCore
import RoutiluxWire

/// The operator's view: workers and counters (`routilux cluster status`).
extension CoordinatorCore {
    func onStatus(reply: ReplyTarget, now: Double) {
        var r = ControlReply(ok: true, error: nil, jobId: nil, status: nil, jobState: nil)
        r.clusterStatus = clusterStatus(now: now)
        actions.append(.reply(reply, r))
    }

    /// Workers in join order, jobs by status, and every counter, rejections by reason.
    public func clusterStatus(now: Double) -> JSONValue {
        var list: [JSONValue] = []
        for id in workerOrder {
            guard let w = workers[id] else { continue }
            var o: JSONObject = [
                "worker_id": .string(w.id), "endpoint": .string(w.endpoint), "routine_types": .array(w.types.sorted().map { .string($0) }),
                "capacity": .int(w.capacity), "credit": .int(w.credit), "in_flight": .int(w.inFlight.count),
                "heartbeat_age_ms": .int(Int(max(0, now - w.lastSeen) * 1000)), "joined_at": .string(Timestamp(seconds: w.joinedAt).iso),
            ]
            if let h = w.host { o["host"] = .string(h) }
            if let p = w.pid { o["pid"] = .int(p) }
            if let f = w.fingerprint { o["key_fingerprint"] = .string(f) }
            if let u = w.unresponsive, now < w.unresponsiveUntil { o["unresponsive"] = .string(u) }
            if w.draining { o["draining"] = true }
            list.append(.object(o))
        }
        var byStatus = JSONObject()
        for job in jobsInRunOrder { byStatus[job.state.status.rawValue] = .int((byStatus[job.state.status.rawValue]?.intValue ?? 0) + 1) }
        let c = counters
        var dropped = JSONObject()
        for reason in DropReason.allCases { dropped[reason.rawValue] = .int(c.dropped[reason] ?? 0) }
        let countersJSON: JSONObject = [
            "tasks_dispatched": .int(c.tasksDispatched), "results_accepted": .int(c.resultsAccepted), "emissions_routed": .int(c.emissionsRouted),
            "deliveries": .int(c.deliveries), "workers_lost": .int(c.workersLost), "tasks_requeued": .int(c.tasksRequeued),
            "retries_scheduled": .int(c.retriesScheduled), "leases_expired": .int(c.leasesExpired), "tasks_lost": .int(c.tasksLost),
            "joins_refused": .int(c.joinsRefused), "describes_sent": .int(c.describesSent), "describe_timeouts": .int(c.describeTimeouts),
            "parts_staged": .int(c.partsStaged), "streamed_results_routed": .int(c.streamedResultsRouted),
        ]
        return [
            "coordinator_id": .string(config.coordinatorId), "authenticated": .bool(config.authenticated),
            "workers": .array(list), "jobs": .object(byStatus), "ledger": .int(ledger.count),
            "queued_in_memory": .int(queuedInMemory), "queued_in_store": .int(jobs.values.reduce(0) { $0 + $1.queue.spilled }),
            "streamed_results_routing": .int(jobs.values.reduce(0) { $0 + $1.routing.count }),
            "waiting_clients": .int(jobs.values.reduce(0) { $0 + $1.waiters.count }),
            "counters": .object(countersJSON), "dropped": .object(dropped),
            "limits": [
                "max_credit": .int(config.maxCredit), "max_workers_joined": .int(config.maxWorkersJoined),
                "max_message_bytes": .int(config.maxMessageBytes),
            ],
        ]
    }
}
