import RoutiluxCore

/// routilux 0.10's DataValidator: checks fields against rules.
///
/// Slot `input` (`data`, optional `rules` overriding the config); events
/// `valid(validated_data)` and `invalid(errors, data)`. Config: `rules`
/// (`{field: RULE}`; for a list input `items`, for a scalar `value`), where a
/// RULE is a validator name (not_empty, is_string, is_int, is_float,
/// is_number, is_dict, is_list, is_positive, is_non_negative) or a safe
/// expression in which `data` is the field's value; `required_fields`,
/// `allow_extra_fields` (true), `strict_mode` (stop at the first error), and
/// any user key an expression rule reads as `config.KEY`.
/// Differences from 0.10: is_int rejects booleans, and strict mode stops at the
/// first error of any kind (0.10 only left the inner loop).
public let dataValidatorType = RoutineType(
    "DataValidator", summary: "validates fields against named or expression rules"
) { config in
    let rules = try parseRules(config["rules"], key: "rules")
    try Config.allowOnly(
        config, ["rules", "strict_mode", "required_fields", "allow_extra_fields"],
        readBy: rules.sorted { $0.key < $1.key }.map { (key: "rules.\($0.key)", keys: $0.value.configKeys) })
    guard config["required_fields"] == nil || config["required_fields"]?.arrayValue?.allSatisfy({ $0.stringValue != nil }) == true else {
        throw RoutineConfigError(key: "required_fields", "must be a list of field names")
    }
    let required = config["required_fields"]?.arrayValue?.compactMap(\.stringValue) ?? []
    let strict = try Config.bool(config, "strict_mode", default: false)
    let allowExtra = try Config.bool(config, "allow_extra_fields", default: true)
    var r = RoutineDefinition(config: config)
    r.event("valid")
    r.event("invalid")
    r.inlineSlot("input") { data, ctx in
        let value = data["data"] ?? extractInputData(data)
        let activeRules = try data["rules"].map { try parseRules($0, key: "input rules") } ?? rules
        var errors: [String] = []
        func check(_ field: String, _ v: JSONValue, _ rule: Rule) {
            if !rule.accepts(v, config: ctx.config) { errors.append("Field '\(field)' failed validation") }
        }
        switch value {
        case .object(let o):
            for f in required where o[f] == nil {
                errors.append("Required field '\(f)' is missing")
                if strict { break }
            }
            if !(strict && !errors.isEmpty) {
                for (field, v) in o {
                    if let rule = activeRules[field] {
                        check(field, v, rule)
                    } else if !allowExtra {
                        errors.append("Unexpected field '\(field)'")
                    }
                    if strict && !errors.isEmpty { break }
                }
            }
        case .array(let items):
            if let rule = activeRules["items"] {
                for (i, v) in items.enumerated() {
                    check("items[\(i)]", v, rule)
                    if strict && !errors.isEmpty { break }
                }
            }
        default:
            if let rule = activeRules["value"] { check("value", value, rule) }
        }
        if errors.isEmpty {
            try ctx.emit("valid", ["validated_data": value])
        } else {
            try ctx.emit("invalid", ["errors": .array(errors.map { .string($0) }), "data": value])
        }
    }
    return r
}

private func parseRules(_ v: JSONValue?, key: String) throws -> [String: Rule] {
    guard let v, v != .null else { return [:] }
    guard let o = v.objectValue else { throw RoutineConfigError(key: key, "must be a mapping of field to rule") }
    var out: [String: Rule] = [:]
    for (field, spec) in o {
        guard let s = spec.stringValue else { throw RoutineConfigError(key: "\(key).\(field)", "must be a validator name or an expression") }
        out[field] = try Rule(s, key: "\(key).\(field)")
    }
    return out
}

/// A validator name, or an expression over the field's value as `data`.
enum Rule: Sendable {
    case named(String)
    case expression(Expression)

    static let names: Set<String> = ["not_empty", "is_string", "is_int", "is_float", "is_number", "is_dict", "is_list", "is_positive", "is_non_negative"]

    init(_ s: String, key: String) throws {
        if Self.names.contains(s) { self = .named(s); return }
        do { self = .expression(try Expression(s)) } catch {
            throw RoutineConfigError(key: key, "'\(s)' is not a validator (\(Self.names.sorted().joined(separator: ", "))) nor a valid expression: \(error)")
        }
    }

    /// The config keys an expression rule reads.
    var configKeys: Set<String>? {
        if case .expression(let e) = self { return e.configKeys }
        return []
    }

    func accepts(_ v: JSONValue, config: JSONObject) -> Bool {
        switch self {
        case .expression(let e): return e.isTrue(data: v, config: .object(config))
        case .named(let n):
            let isNumber = v.doubleValue != nil && v.boolValue == nil
            switch n {
            case "not_empty": return v != .null && v != .string("")
            case "is_string": return v.stringValue != nil
            case "is_int": if case .int = v { return true } else { return false }
            case "is_float": if case .double = v { return true } else { return false }
            case "is_number": return isNumber
            case "is_dict": return v.objectValue != nil
            case "is_list": return v.arrayValue != nil
            case "is_positive": return isNumber && v.doubleValue! > 0
            default: return isNumber && v.doubleValue! >= 0
            }
        }
    }
}
