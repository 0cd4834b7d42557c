import RoutiluxWire
import RoutiluxCore

/// One routine's executions in one job (routilux's ExecutionTracker, but for
/// every routine, with handler times measured on the workers).
struct RoutinePerformance: Sendable {
    var executions = 0
    var completed = 0
    var failed = 0
    var totalUs = 0
    var minUs = Int.max
    var maxUs = 0

    mutating func record(ok: Bool, handlerUs: Int) {
        executions += 1
        if ok { completed += 1 } else { failed += 1 }
        // A worker's number: clamped, and the sum saturates rather than traps.
        let us = min(max(0, handlerUs), WireLimits.maxHandlerUs)
        let (sum, overflow) = totalUs.addingReportingOverflow(us)
        totalUs = overflow ? Int.max : sum
        minUs = min(minUs, us)
        maxUs = max(maxUs, us)
    }

    var averageSeconds: Double { executions == 0 ? 0 : Double(totalUs) / Double(executions) / 1e6 }

    /// routilux `get_routine_performance` keys (times in seconds).
    var json: JSONValue {
        [
            "total_executions": .int(executions), "completed": .int(completed), "failed": .int(failed),
            "success_rate": .double(executions == 0 ? 0 : Double(completed) / Double(executions)),
            "avg_execution_time": .double(averageSeconds),
            "min_execution_time": .double(executions == 0 ? 0 : Double(minUs) / 1e6),
            "max_execution_time": .double(Double(maxUs) / 1e6),
        ]
    }
}

/// A job's tracker: per-routine performance in first-execution order, and the flow summary.
struct JobTracker: Sendable {
    private(set) var routines: JSONObjectOrder = JSONObjectOrder()
    private(set) var events = 0

    mutating func record(_ routine: String, ok: Bool, handlerUs: Int, emissions: Int) {
        routines.update(routine) { $0.record(ok: ok, handlerUs: handlerUs) }
        events = events.addingReportingOverflow(emissions).overflow ? Int.max : events + emissions
    }

    var isEmpty: Bool { routines.isEmpty }

    /// `execution_tracker` in the JobState: routilux's names, computed as
    /// `get_routine_performance` / `get_flow_performance` define them.
    func json(flowId: String) -> JSONValue {
        var perf = JSONObject()
        var total = 0.0
        var counted = 0
        for (id, p) in routines.items {
            perf[id] = p.json
            if p.averageSeconds > 0 {
                total += p.averageSeconds
                counted += 1
            }
        }
        return [
            "_type": "ExecutionTracker", "flow_id": .string(flowId), "routine_performance": .object(perf),
            "flow_performance": [
                "total_routines": .int(routines.count), "total_events": .int(events),
                "total_execution_time": .double(total), "avg_routine_time": .double(counted == 0 ? 0 : total / Double(counted)),
            ],
        ]
    }
}

/// Performance records by routine id, in first-seen order.
struct JSONObjectOrder: Sendable {
    private(set) var items: [(String, RoutinePerformance)] = []
    private var index: [String: Int] = [:]
    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    mutating func update(_ id: String, _ change: (inout RoutinePerformance) -> Void) {
        if let i = index[id] { change(&items[i].1) } else {
            var p = RoutinePerformance()
            change(&p)
            index[id] = items.count
            items.append((id, p))
        }
    }
}
