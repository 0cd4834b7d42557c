import RoutiluxCore

/// routilux 0.10's DataFlattener: nested objects and lists to one flat object.
///
/// Slot `input`; event `output(flattened_data, original_type, depth)`. Config:
/// `separator` ("."), `preserve_lists` (true: list items get their index in the
/// key; false: they share the list's key and the last wins), `max_depth` (100:
/// deeper values are turned into their JSON text).
/// Example: `{"a": {"b": 1, "c": [2, 3]}}` → `{"a.b": 1, "a.c.0": 2, "a.c.1": 3}`; `42` → `{"value": 42}`.
public let dataFlattenerType = RoutineType("DataFlattener", summary: "flattens nested data into dotted keys") { config in
    try Config.allowOnly(config, ["separator", "preserve_lists", "max_depth"])
    let sep = try Config.string(config, "separator", default: ".") ?? "."
    let preserveLists = try Config.bool(config, "preserve_lists", default: true)
    let maxDepth = config["max_depth"]?.intValue ?? 100
    guard maxDepth >= 1 else { throw RoutineConfigError(key: "max_depth", "must be at least 1") }
    var r = RoutineDefinition(config: config)
    r.event("output")
    r.inlineSlot("input") { data, ctx in
        let value = data["data"] ?? extractInputData(data)
        var out = JSONObject()
        var deepest = 0
        func walk(_ v: JSONValue, _ prefix: String, _ depth: Int) {
            deepest = max(deepest, depth)
            func key(_ k: String) -> String { prefix.isEmpty ? k : prefix + sep + k }
            if depth >= maxDepth {
                out[prefix.isEmpty ? "value" : prefix] = .string(v.jsonString())
                return
            }
            switch v {
            case .object(let o) where !o.isEmpty:
                for (k, x) in o { walk(x, key(k), depth + 1) }
            case .array(let a) where !a.isEmpty:
                for (i, x) in a.enumerated() { walk(x, preserveLists ? key(String(i)) : (prefix.isEmpty ? "value" : prefix), depth + 1) }
            default:
                out[prefix.isEmpty ? "value" : prefix] = v
            }
        }
        walk(value, "", 0)
        let type = pythonTypeName(value)
        try ctx.emit("output", ["flattened_data": .object(out), "original_type": .string(type), "depth": .int(deepest)])
    }
    return r
}
