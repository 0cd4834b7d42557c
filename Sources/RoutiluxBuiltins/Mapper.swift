import Foundation
import RoutiluxCore

/// Builds a new object from its input by field rules.
///
/// Slot `input`; event `output(mapped_data, fields_mapped)`.
/// Config:
/// - `mappings`: `{target_field: RULE}` where RULE is a source path string
///   (`a.b` or `$.a.b`), or `{path, default, transform}`, or `{value}` for a constant.
///   `transform` is one of upper, lower, strip, length, string, int, float.
/// - `keep_unmapped` (default true): copy the input's other fields through.
/// - `drop_missing` (default false): leave out targets whose source is absent
///   (otherwise they are set to `default_value`, default null).
public let mapperType = RoutineType(
    "Mapper", summary: "maps and transforms fields"
) { config in
    try Config.allowOnly(config, ["mappings", "keep_unmapped", "drop_missing", "default_value"])
    let keep = try Config.bool(config, "keep_unmapped", default: true)
    let dropMissing = try Config.bool(config, "drop_missing", default: false)
    let defaultValue = config["default_value"] ?? .null
    let rules = try (Config.object(config, "mappings") ?? [:]).map { try MapRule(target: $0.key, spec: $0.value) }
    var r = RoutineDefinition(config: config)
    r.inlineSlot("input") { data, ctx in
        let input = extractInputData(data)
        var out = JSONObject()
        if keep, let o = input.objectValue { out = o }
        var mapped: [JSONValue] = []
        for rule in rules {
            if let v = try rule.apply(to: input) {
                out[rule.target] = v
                mapped.append(.string(rule.target))
            } else if !dropMissing {
                out[rule.target] = defaultValue
            }
        }
        try ctx.emit("output", ["mapped_data": .object(out), "fields_mapped": .array(mapped)])
    }
    r.event("output")
    return r
}

struct MapRule: Sendable {
    enum Transform: String, Sendable { case upper, lower, strip, length, string, int, float }
    let target: String
    let path: String?
    let constant: JSONValue?
    let defaultValue: JSONValue?
    let transform: Transform?

    init(target: String, spec: JSONValue) throws {
        self.target = target
        let key = "mappings.\(target)"
        if let s = spec.stringValue {
            path = s
            constant = nil
            defaultValue = nil
            transform = nil
            return
        }
        guard let o = spec.objectValue else {
            throw RoutineConfigError(key: key, "must be a source path or {path, default, transform} or {value}")
        }
        for k in o.keys where !["path", "default", "transform", "value"].contains(k) {
            throw RoutineConfigError(key: "\(key).\(k)", "unknown key (expected path, default, transform, value)")
        }
        path = o["path"]?.stringValue
        constant = o["value"]
        defaultValue = o["default"]
        if path == nil && constant == nil { throw RoutineConfigError(key: key, "needs 'path' or 'value'") }
        if let t = o["transform"] {
            guard let name = t.stringValue, let tr = Transform(rawValue: name) else {
                throw RoutineConfigError(key: "\(key).transform", "unknown transform \(t) (expected upper, lower, strip, length, string, int, float)")
            }
            transform = tr
        } else {
            transform = nil
        }
    }

    func apply(to input: JSONValue) throws -> JSONValue? {
        if let constant { return constant }
        guard let path, let v = lookupPath(path, in: input) ?? defaultValue else { return nil }
        guard let transform else { return v }
        switch (transform, v) {
        case (.upper, .string(let s)): return .string(s.uppercased())
        case (.lower, .string(let s)): return .string(s.lowercased())
        case (.strip, .string(let s)): return .string(s.trimmingCharacters(in: .whitespacesAndNewlines))
        case (.length, .string(let s)): return .int(s.count)
        case (.length, .array(let a)): return .int(a.count)
        case (.length, .object(let o)): return .int(o.count)
        case (.string, .string): return v
        case (.string, _): return .string(v.jsonString())
        case (.int, .int): return v
        case (.int, .double(let d)): return .int(Int(d))
        case (.int, .string(let s)):
            guard let i = Int(s) else { throw RoutineError("Mapper: '\(s)' (field \(target)) is not an integer") }
            return .int(i)
        case (.float, _) where v.doubleValue != nil: return .double(v.doubleValue!)
        case (.float, .string(let s)):
            guard let d = Double(s) else { throw RoutineError("Mapper: '\(s)' (field \(target)) is not a number") }
            return .double(d)
        default:
            throw RoutineError("Mapper: cannot apply '\(transform.rawValue)' to a \(v.typeName) (field \(target))")
        }
    }
}
