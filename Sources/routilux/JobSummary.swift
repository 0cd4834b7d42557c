import RoutiluxCore

/// A readable account of a finished job, for people.
func summarize(_ state: JobState, elapsed: Double?, maxOutputs: Int = 10) -> String {
    var lines: [String] = []
    let took = elapsed.map { String(format: " in %.3f s", $0) } ?? ""
    lines.append("job \(state.jobId) on flow \(state.flowId): \(state.status.rawValue)\(took)")
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
    if !state.outputLog.isEmpty {
        lines.append("output (\(state.outputLog.count) record\(state.outputLog.count == 1 ? "" : "s")):")
        for o in state.outputLog.prefix(maxOutputs) {
            lines.append("  [\(o["routine_id"].stringValue ?? "?")/\(o["output_type"].stringValue ?? "?")] \(o["data"].jsonString())")
        }
        if state.outputLog.count > maxOutputs { lines.append("  … \(state.outputLog.count - maxOutputs) more (see --output or --json)") }
    }
    return lines.joined(separator: "\n")
}
