import RoutiluxCore

/// Sends each input to the event named by one of its fields: a routine whose
/// events follow its config, so the coordinator asks a worker hosting it to
/// describe it for each config a flow uses.
///
/// Slot `input`; one event per name in `classes`, plus `other`. Config:
/// `classes` (required, a list of names), `field` (default "kind").
let classifyType = RoutineType("Classify", summary: "emits each input on the event its field names") { config in
    for key in config.keys where key != "classes" && key != "field" {
        throw RoutineConfigError(key: key, "unknown config key (expected: classes, field)")
    }
    guard let classes = config["classes"]?.arrayValue?.compactMap(\.stringValue), !classes.isEmpty else {
        throw RoutineConfigError(key: "classes", "is required: a non-empty list of event names")
    }
    let field = config["field"]?.stringValue ?? "kind"
    var routine = RoutineDefinition(config: config)
    for name in classes where !routine.events.contains(name) && name != "other" { routine.event(name) }
    routine.event("other")
    routine.slot("input") { data, ctx in
        let item = data["item"]?.objectValue ?? data
        let value = item[field]?.stringValue ?? ""
        try ctx.emit(classes.contains(value) ? value : "other", item)
    }
    return routine
}
