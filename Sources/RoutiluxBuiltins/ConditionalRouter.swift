import RoutiluxCore

/// routilux 0.10's ConditionalRouter: sends its input along the first (or
/// every) route whose condition holds.
///
/// Slot `input`; events `output(data, route)` (unmatched), one per route name
/// and the default route, each `(data, route)`. Config: `routes` (a list of
/// `[name, condition]` pairs, or of `{name, condition}`), `default_route`,
/// `route_priority` (`first_match` or `all_matches`), and any user key a
/// condition reads as `config.KEY`. Conditions are safe
/// expressions over `data` (the extracted input) and `config`, or field-match
/// mappings; Python callables and `eval` strings have no place here.
public let conditionalRouterType = RoutineType(
    "ConditionalRouter", summary: "routes input to the event of the first (or every) matching condition"
) { config in
    var parsed: [(String, Condition)] = []
    for (i, r) in (config["routes"]?.arrayValue ?? []).enumerated() {
        let key = "routes[\(i)]"
        let name: String?
        let cond: JSONValue?
        if let pair = r.arrayValue, pair.count == 2 {
            name = pair[0].stringValue
            cond = pair[1]
        } else {
            name = r["name"].stringValue
            cond = r.objectValue?["condition"]
        }
        guard let name, !name.isEmpty, let cond else {
            throw RoutineConfigError(key: key, "must be [name, condition] or {name, condition}")
        }
        parsed.append((name, try Condition(cond, key: "\(key).condition")))
    }
    let routes = parsed
    try Config.allowOnly(
        config, ["routes", "default_route", "route_priority"],
        readBy: routes.enumerated().map { (key: "routes[\($0.offset)].condition", keys: $0.element.1.configKeys) })
    if let r = config["routes"], r != .null, r.arrayValue == nil { throw RoutineConfigError(key: "routes", "must be a list") }
    let defaultRoute = try Config.string(config, "default_route")
    let priority = try Config.string(config, "route_priority", default: "first_match") ?? "first_match"
    guard priority == "first_match" || priority == "all_matches" else {
        throw RoutineConfigError(key: "route_priority", "must be first_match or all_matches")
    }
    var r = RoutineDefinition(config: config)
    r.event("output")
    for name in routes.map(\.0) + [defaultRoute].compactMap({ $0 }) where !r.events.contains(name) { r.event(name) }
    r.inlineSlot("input") { data, ctx in
        let input = extractInputData(data)
        var matched = false
        for (name, cond) in routes where cond.holds(input, config: ctx.config) {
            matched = true
            try ctx.emit(name, ["data": input, "route": .string(name)])
            if priority == "first_match" { break }
        }
        if !matched {
            if let d = defaultRoute {
                try ctx.emit(d, ["data": input, "route": .string(d)])
            } else {
                try ctx.emit("output", ["data": input, "route": "unmatched"])
            }
        }
    }
    return r
}
