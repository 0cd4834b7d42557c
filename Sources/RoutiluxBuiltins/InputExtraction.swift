import RoutiluxCore

/// routilux's `_extract_input_data`: the `data` key if present; the single
/// value if there is exactly one key; the whole object if there are more; `{}` if empty.
public func extractInputData(_ data: JSONObject) -> JSONValue {
    if let d = data["data"] { return d }
    if data.count == 1 { return data.values[0] }
    if data.isEmpty { return .object([:]) }
    return .object(data)
}

/// Reads a dot path (`a.b.0.c`, optionally prefixed `$.`) from a JSON value.
public func lookupPath(_ path: String, in value: JSONValue) -> JSONValue? {
    var p = Substring(path)
    if p.hasPrefix("$.") { p = p.dropFirst(2) } else if p == "$" { return value }
    var cur = value
    for part in p.split(separator: ".", omittingEmptySubsequences: false) {
        switch cur {
        case .object(let o):
            guard let next = o[String(part)] else { return nil }
            cur = next
        case .array(let a):
            guard let i = Int(part), i >= 0, i < a.count else { return nil }
            cur = a[i]
        default:
            return nil
        }
    }
    return cur
}

/// Config helpers that report the key on a type mismatch.
enum Config {
    static func string(_ c: JSONObject, _ key: String, default d: String? = nil) throws -> String? {
        guard let v = c[key], v != .null else { return d }
        guard let s = v.stringValue else { throw RoutineConfigError(key: key, "must be a string, not \(v.typeName)") }
        return s
    }
    static func bool(_ c: JSONObject, _ key: String, default d: Bool) throws -> Bool {
        guard let v = c[key], v != .null else { return d }
        guard let b = v.boolValue else { throw RoutineConfigError(key: key, "must be true or false, not \(v.typeName)") }
        return b
    }
    static func object(_ c: JSONObject, _ key: String) throws -> JSONObject? {
        guard let v = c[key], v != .null else { return nil }
        guard let o = v.objectValue else { throw RoutineConfigError(key: key, "must be a mapping, not \(v.typeName)") }
        return o
    }
    static func allowOnly(_ c: JSONObject, _ keys: Set<String>) throws {
        for k in c.keys where !keys.contains(k) {
            throw RoutineConfigError(key: k, "unknown config key (expected: \(keys.sorted().joined(separator: ", ")))")
        }
    }

    /// For routines whose conditions read `config`: besides the routine's own
    /// `keys`, the config may hold user keys, but only ones a condition reads
    /// (so a typo of an own key is still caught). A condition that reads a key
    /// the config does not set is an error too (it would always be null).
    static func allowOnly(_ c: JSONObject, _ keys: Set<String>, readBy conditions: [(key: String, keys: Set<String>?)]) throws {
        if conditions.contains(where: { $0.keys == nil }) { return }  // a computed config key: any may be read
        let read = conditions.reduce(into: Set<String>()) { $0.formUnion($1.keys ?? []) }
        for k in c.keys where !keys.contains(k) && !read.contains(k) {
            throw RoutineConfigError(
                key: k,
                "unknown config key (expected: \(keys.sorted().joined(separator: ", ")); a user key is allowed only when a condition reads it as config.\(k))")
        }
        for cond in conditions {
            for k in (cond.keys ?? []).sorted() where c[k] == nil && !keys.contains(k) {
                throw RoutineConfigError(key: cond.key, "the condition reads config.\(k), which this routine's config does not set")
            }
        }
    }
}
