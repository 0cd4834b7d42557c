import RoutiluxCore

/// Passes its input through after a pause, without blocking a thread.
///
/// Slots `input` and `trigger`; event `output` (the input, unchanged).
/// Config: `seconds` (default 0.1, at most 3600). Useful for demos, rate
/// shaping and tests that need work to be in flight for a while.
public let delayType = RoutineType(
    "Delay", summary: "passes input through after `seconds`"
) { config in
    try Config.allowOnly(config, ["seconds"])
    let seconds = config["seconds"].map { $0 == .null ? 0.1 : ($0.doubleValue ?? -1) } ?? 0.1
    guard seconds >= 0, seconds <= 3600 else {
        throw RoutineConfigError(key: "seconds", "must be a number of seconds between 0 and 3600, not \(config["seconds"] ?? .null)")
    }
    var r = RoutineDefinition(config: config)
    let handler: SlotHandler = { data, ctx in
        try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        try ctx.emit("output", data)
    }
    r.slot("input", handler)
    r.slot("trigger", handler)
    r.event("output")
    return r
}
