import Foundation
import RoutiluxCore

/// A readable account of a finished job, for people.
func summarize(_ state: JobState, elapsed: Double?, maxOutputs: Int = 10) -> String {
    var lines: [String] = []
    let took = elapsed.map { String(format: " in %.3f s", $0) } ?? ""
    lines.append("job \(state.jobId) on flow \(state.flowId): \(state.status.rawValue)\(took)")
    if let w = state.waitingFor { lines.append(w) }
    if !state.routineStates.isEmpty {
        let parts = state.routineStates.map { (id, s) -> String in
            var t = "\(id) \(s["status"].stringValue ?? "?")"
            if let e = s["error"].stringValue { t += " (\(e))" }
            return t
        }
        lines.append("routines: " + parts.joined(separator: ", "))
    }
    var emits: [String: Int] = [:]
    for r in state.executionHistory { emits["\(r.routineId).\(r.eventName)", default: 0] += 1 }
    lines.append("history: \(state.executionHistory.count) records (" + emits.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ") + ")")
    if let perf = state.executionTracker?["routine_performance"].objectValue, !perf.isEmpty {
        lines.append("performance (handler time on workers):")
        for (id, p) in perf {
            let ms = { (k: String) in String(format: "%.2f", (p[k].doubleValue ?? 0) * 1000) }
            lines.append("  \(id): \(p["total_executions"].intValue ?? 0) run(s), \(p["completed"].intValue ?? 0) ok, \(p["failed"].intValue ?? 0) failed, "
                + String(format: "%.0f%%", (p["success_rate"].doubleValue ?? 0) * 100)
                + "; avg \(ms("avg_execution_time")) ms (min \(ms("min_execution_time")), max \(ms("max_execution_time")))")
        }
        if let f = state.executionTracker?["flow_performance"] {
            lines.append("  flow: \(f["total_routines"].intValue ?? 0) routines, \(f["total_events"].intValue ?? 0) events")
        }
    }
    if !state.outputs.isEmpty {
        lines.append("output (\(state.outputs.count) record\(state.outputs.count == 1 ? "" : "s")):")
        for o in state.outputs.prefix(maxOutputs).map(\.json) {
            lines.append("  [\(o["routine_id"].stringValue ?? "?")/\(o["output_type"].stringValue ?? "?")] \(o["data"].jsonString())")
        }
        if state.outputs.count > maxOutputs { lines.append("  … \(state.outputs.count - maxOutputs) more (see --output or --json)") }
    }
    return lines.joined(separator: "\n")
}
