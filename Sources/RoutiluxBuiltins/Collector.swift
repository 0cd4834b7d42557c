import RoutiluxCore

/// A sink that puts what it receives into the job's output log.
///
/// Slot `input`; no events. Config: `output_type` (default `"item"`), `field`
/// (a dot path to collect; default: the extracted input), `merge` (`override`,
/// the default: each delivery on its own; or `append`: routilux's append
/// strategy, so each record holds every value received so far for the keys of
/// this delivery, as lists; the state is the job's own).
public let collectorType = RoutineType(
    "Collector", aliases: ["Sink"], summary: "appends each delivery to the job's output log"
) { config in
    try Config.allowOnly(config, ["output_type", "field", "merge"])
    let outputType = try Config.string(config, "output_type", default: "item") ?? "item"
    let field = try Config.string(config, "field")
    let merge = try Config.string(config, "merge", default: "override") ?? "override"
    guard merge == "override" || merge == "append" else {
        throw RoutineConfigError(key: "merge", "must be override or append, not '\(merge)'")
    }
    var r = RoutineDefinition(config: config)
    r.inlineSlot("input", merge: MergeStrategy(name: merge)) { data, ctx in
        let value: JSONValue
        if let field {
            guard let v = lookupPath(field, in: .object(data)) ?? lookupPath(field, in: extractInputData(data)) else {
                throw RoutineError("Collector: field '\(field)' not found in input (keys: \(data.keys.joined(separator: ", ")))")
            }
            value = v
        } else if merge == "append" {
            value = .object(data)
        } else {
            value = extractInputData(data)
        }
        ctx.sendOutput(outputType, value)
    }
    return r
}
