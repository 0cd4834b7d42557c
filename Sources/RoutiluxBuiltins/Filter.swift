import RoutiluxCore

/// Passes or rejects each input by a condition (routilux's later Filter).
///
/// Slot `input`; events `passed(data)` and `rejected(data, reason)`. Config:
/// `condition` (an expression over `data` and `config`, a field-match
/// mapping, or a list of allowed values for the input), `invert` (false),
/// `include_reason` (true), and any user key the condition reads as `config.KEY`.
public let filterType = RoutineType("Filter", summary: "emits passed or rejected by a condition") { config in
    guard let raw = config["condition"], raw != .null else { throw RoutineConfigError(key: "condition", "is required") }
    let allowList = raw.arrayValue
    let condition = allowList == nil ? try Condition(raw, key: "condition") : nil
    try Config.allowOnly(
        config, ["condition", "invert", "include_reason"], readBy: condition.map { [(key: "condition", keys: $0.configKeys)] } ?? [])
    let invert = try Config.bool(config, "invert", default: false)
    let includeReason = try Config.bool(config, "include_reason", default: true)
    var r = RoutineDefinition(config: config)
    r.event("passed")
    r.event("rejected")
    r.inlineSlot("input") { data, ctx in
        let input = extractInputData(data)
        var ok = allowList.map { $0.contains(input) } ?? condition!.holds(input, config: ctx.config)
        if invert { ok.toggle() }
        if ok {
            try ctx.emit("passed", ["data": input])
        } else {
            var out: JSONObject = ["data": input]
            if includeReason {
                let what = allowList != nil ? "not in the allowed values" : "condition \(raw.stringValue.map { "'\($0)'" } ?? "\(raw)") is \(invert ? "true" : "false")"
                out["reason"] = .string(what)
            }
            try ctx.emit("rejected", out)
        }
    }
    return r
}
