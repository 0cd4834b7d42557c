import Foundation
import RoutiluxCore

/// Validates its input against a JSON Schema (a subset, see `JSONSchema`).
///
/// Slot `input`; events `valid(validated_data, schema_type)` and
/// `invalid(errors, original_data, schema_type)`. Config: `schema` (required),
/// `schema_type` (`json_schema`; `auto` means the same), `strict_mode` (report
/// only the first error), `coerce_types` (turn "12" into 12, "true" into true
/// where the schema wants a number or boolean; `validated_data` is the coerced value).
public let schemaValidatorType = RoutineType("SchemaValidator", summary: "validates input against a JSON Schema subset") { config in
    try Config.allowOnly(config, ["schema", "schema_type", "strict_mode", "coerce_types"])
    guard let raw = config["schema"], raw != .null else { throw RoutineConfigError(key: "schema", "is required") }
    let schema: JSONSchema
    do { schema = try JSONSchema(raw) } catch let e as JSONSchema.SchemaError {
        throw RoutineConfigError(key: e.path.isEmpty ? "schema" : "schema.\(e.path)", e.message)
    }
    let kind = try Config.string(config, "schema_type", default: "auto") ?? "auto"
    guard kind == "auto" || kind == "json_schema" else { throw RoutineConfigError(key: "schema_type", "must be auto or json_schema") }
    let strict = try Config.bool(config, "strict_mode", default: false)
    let coerce = try Config.bool(config, "coerce_types", default: false)
    var r = RoutineDefinition(config: config)
    r.event("valid")
    r.event("invalid")
    r.slot("input") { data, ctx in
        let input = extractInputData(data)
        var errors: [String] = []
        let value = schema.validate(input, coerce: coerce, errors: &errors)
        if errors.isEmpty {
            try ctx.emit("valid", ["validated_data": value, "schema_type": "json_schema"])
        } else {
            let shown = strict ? Array(errors.prefix(1)) : errors
            try ctx.emit("invalid", ["errors": .array(shown.map { .string($0) }), "original_data": input, "schema_type": "json_schema"])
        }
    }
    return r
}

/// A JSON Schema subset: `type` (one or a list of object, array, string,
/// number, integer, boolean, null), `properties`, `required`,
/// `additionalProperties` (boolean or schema), `minProperties`,
/// `maxProperties`, `items`, `minItems`, `maxItems`, `uniqueItems`, `enum`,
/// `const`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
/// `multipleOf`, `minLength`, `maxLength`, `pattern`, `allOf`, `anyOf`,
/// `oneOf`, `not`; `title`, `description`, `default`, `$schema`, `$id` and
/// `examples` are ignored. Any other keyword is refused at load, so nothing is
/// silently left unchecked.
final class JSONSchema: Sendable {
    struct SchemaError: Error {
        var path: String
        var message: String
    }

    let o: JSONObject
    let properties: [(String, JSONSchema)]
    let additional: JSONSchema?
    let additionalAllowed: Bool
    let items: JSONSchema?
    let allOf: [JSONSchema]
    let anyOf: [JSONSchema]
    let oneOf: [JSONSchema]
    let not: [JSONSchema]
    let pattern: NSRegularExpressionBox?

    static let keywords: Set<String> = [
        "type", "properties", "required", "additionalProperties", "minProperties", "maxProperties", "items", "minItems",
        "maxItems", "uniqueItems", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
        "minLength", "maxLength", "pattern", "allOf", "anyOf", "oneOf", "not",
        "title", "description", "default", "$schema", "$id", "examples",
    ]

    init(_ v: JSONValue, path: String = "") throws(SchemaError) {
        func sub(_ p: String) -> String { path.isEmpty ? p : "\(path).\(p)" }
        guard let o = v == .bool(true) ? [:] : v.objectValue else { throw SchemaError(path: path, message: "must be a schema object") }
        for k in o.keys where !Self.keywords.contains(k) {
            throw SchemaError(path: sub(k), message: "unsupported keyword (supported: \(Self.keywords.filter { !$0.hasPrefix("$") }.sorted().joined(separator: ", ")))")
        }
        self.o = o
        var props: [(String, JSONSchema)] = []
        for (k, s) in o["properties"]?.objectValue ?? [:] { props.append((k, try JSONSchema(s, path: sub("properties.\(k)")))) }
        properties = props
        switch o["additionalProperties"] {
        case .bool(let b)?: additional = nil; additionalAllowed = b
        case let s? where s.objectValue != nil: additional = try JSONSchema(s, path: sub("additionalProperties")); additionalAllowed = true
        default: additional = nil; additionalAllowed = true
        }
        items = try o["items"].map { v throws(SchemaError) in try JSONSchema(v, path: sub("items")) }
        func list(_ k: String) throws(SchemaError) -> [JSONSchema] {
            var out: [JSONSchema] = []
            for (i, s) in (o[k]?.arrayValue ?? []).enumerated() { out.append(try JSONSchema(s, path: sub("\(k)[\(i)]"))) }
            return out
        }
        allOf = try list("allOf")
        anyOf = try list("anyOf")
        oneOf = try list("oneOf")
        not = try o["not"].map { v throws(SchemaError) in [try JSONSchema(v, path: sub("not"))] } ?? []
        if let p = o["pattern"]?.stringValue {
            guard let re = try? NSRegularExpression(pattern: p) else { throw SchemaError(path: sub("pattern"), message: "is not a valid regular expression") }
            pattern = NSRegularExpressionBox(re)
        } else {
            pattern = nil
        }
    }

    static func typeName(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double(let d): return d.rounded() == d ? "integer" : "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// Validates `v`, appending "$.path: message" errors; returns the (coerced) value.
    func validate(_ v: JSONValue, coerce: Bool, errors: inout [String], at path: String = "$") -> JSONValue {
        var v = v
        let types = o["type"].map { $0.arrayValue?.compactMap(\.stringValue) ?? [$0.stringValue ?? ""] } ?? []
        func fits(_ t: String, _ x: JSONValue) -> Bool {
            let n = Self.typeName(x)
            return t == n || (t == "number" && n == "integer")
        }
        if !types.isEmpty, !types.contains(where: { fits($0, v) }) {
            if coerce, case .string(let s) = v {
                if types.contains("integer"), let i = Int(s) { v = .int(i) }
                else if types.contains("number"), let d = Double(s) { v = .double(d) }
                else if types.contains("boolean"), s == "true" || s == "false" { v = .bool(s == "true") }
            }
            if !types.contains(where: { fits($0, v) }) {
                errors.append("\(path): expected \(types.joined(separator: " or ")), got \(Self.typeName(v))")
                return v
            }
        }
        if let e = o["enum"]?.arrayValue, !e.contains(where: { Expression.equalValues($0, v) }) {
            errors.append("\(path): must be one of \(JSONValue.array(e).jsonString())")
        }
        if let c = o["const"], !Expression.equalValues(c, v) { errors.append("\(path): must be \(c.jsonString())") }
        if let x = v.doubleValue, v.boolValue == nil {
            if let m = o["minimum"]?.doubleValue, x < m { errors.append("\(path): must be >= \(o["minimum"]!.jsonString())") }
            if let m = o["maximum"]?.doubleValue, x > m { errors.append("\(path): must be <= \(o["maximum"]!.jsonString())") }
            if let m = o["exclusiveMinimum"]?.doubleValue, x <= m { errors.append("\(path): must be > \(o["exclusiveMinimum"]!.jsonString())") }
            if let m = o["exclusiveMaximum"]?.doubleValue, x >= m { errors.append("\(path): must be < \(o["exclusiveMaximum"]!.jsonString())") }
            if let m = o["multipleOf"]?.doubleValue, m > 0, (x / m).rounded() != x / m { errors.append("\(path): must be a multiple of \(o["multipleOf"]!.jsonString())") }
        }
        if let s = v.stringValue {
            if let m = o["minLength"]?.intValue, s.count < m { errors.append("\(path): must be at least \(m) characters") }
            if let m = o["maxLength"]?.intValue, s.count > m { errors.append("\(path): must be at most \(m) characters") }
            if let re = pattern, !re.matches(s) { errors.append("\(path): must match \(o["pattern"]!.jsonString())") }
        }
        if case .array(var a) = v {
            if let m = o["minItems"]?.intValue, a.count < m { errors.append("\(path): must have at least \(m) items") }
            if let m = o["maxItems"]?.intValue, a.count > m { errors.append("\(path): must have at most \(m) items") }
            if o["uniqueItems"]?.boolValue == true, Set(a).count != a.count { errors.append("\(path): items must be unique") }
            if let items {
                for i in a.indices { a[i] = items.validate(a[i], coerce: coerce, errors: &errors, at: "\(path)[\(i)]") }
                v = .array(a)
            }
        }
        if case .object(var obj) = v {
            for r in o["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where obj[r] == nil {
                errors.append("\(path): '\(r)' is required")
            }
            if let m = o["minProperties"]?.intValue, obj.count < m { errors.append("\(path): must have at least \(m) properties") }
            if let m = o["maxProperties"]?.intValue, obj.count > m { errors.append("\(path): must have at most \(m) properties") }
            let known = Set(properties.map(\.0))
            for (k, s) in properties where obj[k] != nil {
                obj[k] = s.validate(obj[k]!, coerce: coerce, errors: &errors, at: "\(path).\(k)")
            }
            for k in obj.keys where !known.contains(k) {
                if !additionalAllowed { errors.append("\(path): property '\(k)' is not allowed") }
                if let additional { obj[k] = additional.validate(obj[k]!, coerce: coerce, errors: &errors, at: "\(path).\(k)") }
            }
            v = .object(obj)
        }
        for s in allOf { v = s.validate(v, coerce: coerce, errors: &errors, at: path) }
        func passes(_ s: JSONSchema) -> Bool {
            var e: [String] = []
            _ = s.validate(v, coerce: coerce, errors: &e, at: path)
            return e.isEmpty
        }
        if !anyOf.isEmpty, !anyOf.contains(where: passes) { errors.append("\(path): matches none of anyOf") }
        if !oneOf.isEmpty {
            let n = oneOf.filter(passes).count
            if n != 1 { errors.append("\(path): must match exactly one of oneOf (matches \(n))") }
        }
        if let n = not.first, passes(n) { errors.append("\(path): must not match the 'not' schema") }
        return v
    }
}

/// NSRegularExpression is immutable and thread-safe; this box says so to the compiler.
struct NSRegularExpressionBox: @unchecked Sendable {
    let re: NSRegularExpression
    init(_ re: NSRegularExpression) { self.re = re }
    func matches(_ s: String) -> Bool {
        re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }
}
