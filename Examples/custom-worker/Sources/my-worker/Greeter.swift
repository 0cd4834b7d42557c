import RoutiluxCore

/// Typed payloads: the input is decoded into a Codable struct, the output encoded from one.
struct Counted: Codable {
    var text: String
    var words: Int
}

struct Greeting: Codable {
    var message: String
    var words: Int
}

/// Slot `input` (a `Counted`); event `greeting` (a `Greeting`). Config: `salutation`.
let greeterType = RoutineType("Greeter", summary: "turns a count into a greeting") { config in
    let salutation = config["salutation"]?.stringValue ?? "Hello"
    var routine = RoutineDefinition(config: config)
    routine.event("greeting")
    routine.slot("input") { data, ctx in
        let counted = try data.decode(Counted.self)
        try ctx.emit("greeting", value: Greeting(message: "\(salutation), \(counted.text)!", words: counted.words))
    }
    return routine
}
