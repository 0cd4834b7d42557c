import RoutiluxCore

/// The routines the stock `routilux-worker` hosts.
public enum Builtins {
    public static let types: [RoutineType] = [splitterType, mapperType, collectorType, failerType, delayType]

    /// A registry holding every builtin.
    public static var registry: RoutineRegistry { RoutineRegistry(types) }
}

/// A routine that fails on purpose when its input says so, for tests and demos.
/// Slot `input`; event `output` (passes input through). Config: `fail_when`
/// (a field name, default `fail`; if the input, or its extracted `data`, has it
/// set to true, the handler raises `message`).
public let failerType = RoutineType(
    "Failer", summary: "passes input through, or raises when `fail_when` is true in it"
) { config in
    try Config.allowOnly(config, ["fail_when", "message"])
    let field = try Config.string(config, "fail_when", default: "fail") ?? "fail"
    let message = try Config.string(config, "message", default: "scripted failure") ?? "scripted failure"
    var r = RoutineDefinition(config: config)
    let h: SlotHandler = { data, ctx in
        if data[field]?.boolValue == true || extractInputData(data)[field].boolValue == true {
            throw RoutineError(message)
        }
        try ctx.emit("output", data)
    }
    r.slot("input", h)
    r.slot("trigger", h)
    r.event("output")
    return r
}
