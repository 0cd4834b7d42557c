import RoutiluxCore

/// A sink that puts what it receives into the job's output log.
///
/// Slot `input` (merge `override`); no events. Config: `output_type` (default
/// `"item"`), `field` (a dot path to collect; default: the extracted input).
public let collectorType = RoutineType(
    "Collector", aliases: ["Sink"], summary: "appends each delivery to the job's output log"
) { config in
    try Config.allowOnly(config, ["output_type", "field"])
    let outputType = try Config.string(config, "output_type", default: "item") ?? "item"
    let field = try Config.string(config, "field")
    var r = RoutineDefinition(config: config)
    r.slot("input") { data, ctx in
        let value: JSONValue
        if let field {
            guard let v = lookupPath(field, in: .object(data)) ?? lookupPath(field, in: extractInputData(data)) else {
                throw RoutineError("Collector: field '\(field)' not found in input (keys: \(data.keys.joined(separator: ", ")))")
            }
            value = v
        } else {
            value = extractInputData(data)
        }
        ctx.sendOutput(outputType, value)
    }
    return r
}
