import RoutiluxCore

/// The routines the stock `routilux-worker` hosts.
public enum Builtins {
    public static let types: [RoutineType] = [
        splitterType, mapperType, collectorType, filterType, conditionalRouterType, dataTransformerType, dataValidatorType,
        dataFlattenerType, textClipperType, textRendererType, timeProviderType, batcherType, debouncerType, aggregatorType,
        retryHandlerType, schemaValidatorType, resultExtractorType, delayType, failerType, execType, spinType,
    ]

    /// A registry holding every builtin.
    public static var registry: RoutineRegistry { RoutineRegistry(types) }
}

/// A routine that fails on purpose, for tests and demos.
///
/// Slots `input` and `trigger`; event `output` (passes the input through).
/// Config:
/// - `fail_when` (default `fail`): a field name; if the input, or its extracted
///   `data`, has it set to true, the handler raises.
/// - `fail_attempts` (default 0): raise on delivery attempts 1…N whatever the
///   input says, then succeed (scripted retries).
/// - `message` (default "scripted failure"), `error_type` (default "RoutineError").
public let failerType = RoutineType(
    "Failer", summary: "passes input through, or raises when told to"
) { config in
    try Config.allowOnly(config, ["fail_when", "fail_attempts", "message", "error_type"])
    let field = try Config.string(config, "fail_when", default: "fail") ?? "fail"
    let message = try Config.string(config, "message", default: "scripted failure") ?? "scripted failure"
    let errorType = try Config.string(config, "error_type", default: "RoutineError") ?? "RoutineError"
    let failAttempts = config["fail_attempts"].map { $0 == .null ? 0 : ($0.intValue ?? -1) } ?? 0
    guard failAttempts >= 0 else { throw RoutineConfigError(key: "fail_attempts", "must be a non-negative integer") }
    var r = RoutineDefinition(config: config)
    let h: InlineSlotHandler = { data, ctx in
        if ctx.attempt <= failAttempts {
            throw RoutineError("\(message) (attempt \(ctx.attempt))", type: errorType)
        }
        if data[field]?.boolValue == true || extractInputData(data)[field].boolValue == true {
            throw RoutineError(message, type: errorType)
        }
        try ctx.emit("output", data)
    }
    r.inlineSlot("input", h)
    r.inlineSlot("trigger", h)
    r.event("output")
    return r
}
