import RoutiluxCore

/// Splits a list into one `item` emission per element.
///
/// Slots: `input` and `trigger` (so it can start a flow). Events:
/// `item(item, index, count)`, `empty(data)` when there is nothing to split.
/// Config: `field` (a dot path to the list inside the input; default: the
/// extracted input itself), `split_strings` (split a string into characters, default false).
public let splitterType = RoutineType(
    "Splitter", summary: "emits one `item` per element of a list"
) { config in
    try Config.allowOnly(config, ["field", "split_strings"])
    let field = try Config.string(config, "field")
    let splitStrings = try Config.bool(config, "split_strings", default: false)
    var r = RoutineDefinition(config: config)
    let handler: SlotHandler = { data, ctx in
        let source: JSONValue
        if let field {
            guard let v = lookupPath(field, in: .object(data)) ?? lookupPath(field, in: extractInputData(data)) else {
                throw RoutineError("Splitter: field '\(field)' not found in input (keys: \(data.keys.joined(separator: ", ")))")
            }
            source = v
        } else {
            source = extractInputData(data)
        }
        let items: [JSONValue]
        switch source {
        case .array(let a): items = a
        case .string(let s) where splitStrings: items = s.map { .string(String($0)) }
        case .null: items = []
        default: items = [source]
        }
        if items.isEmpty {
            try ctx.emit("empty", ["data": source])
            return
        }
        for (i, item) in items.enumerated() {
            try ctx.emit("item", ["item": item, "index": .int(i), "count": .int(items.count)])
            // Its items leave in parts as they are made; the worker holds a few parts at most.
            try await ctx.waitForRoom()
        }
    }
    r.slot("input", handler)
    r.slot("trigger", handler)
    r.event("item")
    r.event("empty")
    return r
}
