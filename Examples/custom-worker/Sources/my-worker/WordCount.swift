import RoutiluxCore

/// Counts the words of a text field.
///
/// Slot `input`; event `counted(text, words)`. Config: `field` (default "text").
let wordCountType = RoutineType("WordCount", summary: "counts the words of a text field") { config in
    let field = config["field"]?.stringValue ?? "text"
    var routine = RoutineDefinition(config: config)
    routine.event("counted")
    routine.slot("input") { data, ctx in
        // After `param_mapping: {item: data}` the item is under "data".
        let source = data["data"]?.objectValue ?? data
        guard let text = source[field]?.stringValue else {
            throw RoutineError("WordCount: no string field '\(field)' in the input")
        }
        let words = text.split(whereSeparator: { $0 == " " }).count
        try ctx.emit("counted", ["text": .string(text), "words": .int(words)])
    }
    return routine
}
