import Foundation
import RoutiluxCore

/// routilux 0.10's DataTransformer: applies named transformations in order.
///
/// Slot `input` (`data`, optional `transformations` overriding the config);
/// event `output(transformed_data, transformation_applied, errors)`; `errors`
/// is null when there are none. Config: `transformations` (a list of names:
/// lowercase, uppercase, strip_whitespace, to_string, to_int, to_float, remove_none).
/// Unknown names and failures are reported in `errors`, not raised.
public let dataTransformerType = RoutineType(
    "DataTransformer", summary: "applies named transformations (lowercase, to_int, remove_none, ...)"
) { config in
    try Config.allowOnly(config, ["transformations", "chain_transformations"])
    let configured = try names(config["transformations"], key: "transformations")
    var r = RoutineDefinition(config: config)
    r.event("output")
    r.inlineSlot("input") { data, ctx in
        let list = data["transformations"].flatMap { v -> [String]? in
            guard let a = v.arrayValue, !a.isEmpty else { return nil }
            return a.compactMap(\.stringValue)
        } ?? configured
        var value = data["data"] ?? (data.count == 1 ? data.values[0] : .object(data.filter { $0.key != "transformations" }))
        var applied: [JSONValue] = []
        var errors: [JSONValue] = []
        for name in list {
            guard let t = Transformation(rawValue: name) else {
                errors.append(.string("Unknown transformation: \(name)"))
                continue
            }
            do {
                value = try t.apply(value)
                applied.append(.string(name))
            } catch {
                errors.append(.string("Error applying \(name): \(error)"))
            }
        }
        try ctx.emit("output", [
            "transformed_data": value, "transformation_applied": .array(applied), "errors": errors.isEmpty ? .null : .array(errors),
        ])
    }
    return r
}

private func names(_ v: JSONValue?, key: String) throws -> [String] {
    guard let v, v != .null else { return [] }
    guard let a = v.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else {
        throw RoutineConfigError(key: key, "must be a list of transformation names")
    }
    return a.map { $0.stringValue! }
}

enum Transformation: String {
    case lowercase, uppercase
    case stripWhitespace = "strip_whitespace"
    case toString = "to_string"
    case toInt = "to_int"
    case toFloat = "to_float"
    case removeNone = "remove_none"

    func apply(_ v: JSONValue) throws -> JSONValue {
        switch (self, v) {
        case (.lowercase, .string(let s)): return .string(s.lowercased())
        case (.uppercase, .string(let s)): return .string(s.uppercased())
        case (.stripWhitespace, .string(let s)): return .string(s.trimmingCharacters(in: .whitespacesAndNewlines))
        case (.lowercase, _), (.uppercase, _), (.stripWhitespace, _): return v
        case (.toString, .string): return v
        case (.toString, _): return .string(pythonString(v))
        case (.toInt, .int): return v
        case (.toInt, .double(let d)): return .int(Int(d))
        case (.toInt, .bool(let b)): return .int(b ? 1 : 0)
        case (.toInt, .string(let s)):
            guard let i = Int(s.trimmingCharacters(in: .whitespaces)) else {
                throw RoutineError("invalid literal for int() with base 10: '\(s)'")
            }
            return .int(i)
        case (.toFloat, .int(let i)): return .double(Double(i))
        case (.toFloat, .double): return v
        case (.toFloat, .string(let s)):
            guard let d = Double(s.trimmingCharacters(in: .whitespaces)) else { throw RoutineError("could not convert string to float: '\(s)'") }
            return .double(d)
        case (.toInt, _), (.toFloat, _): return v
        case (.removeNone, .object(let o)): return .object(o.filter { $0.value != .null })
        case (.removeNone, _): return v
        }
    }
}

/// Python's str() of a JSON value, for to_string and text rendering.
func pythonString(_ v: JSONValue) -> String {
    switch v {
    case .null: return "None"
    case .bool(let b): return b ? "True" : "False"
    case .int(let i): return String(i)
    case .double(let d): return d.rounded() == d && abs(d) < 1e16 ? String(format: "%.1f", d) : "\(d)"
    case .string(let s): return s
    default: return v.jsonString()
    }
}
