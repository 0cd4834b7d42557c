import RoutiluxCore

/// A condition in a builtin's config: an expression string over `data` and
/// `config`, or a mapping of field → expected value (every field present and equal).
enum Condition: Sendable {
    case expression(Expression)
    case fields(JSONObject)

    /// Parses `v` (found at config `key`); a bad expression is a config error
    /// naming the key and the position.
    init(_ v: JSONValue, key: String) throws {
        switch v {
        case .string(let s):
            do { self = .expression(try Expression(s)) } catch {
                throw RoutineConfigError(key: key, "bad condition \(s.debugDescription): \(error)")
            }
        case .object(let o): self = .fields(o)
        default: throw RoutineConfigError(key: key, "must be an expression string or a mapping of field to value, not \(v.typeName)")
        }
    }

    /// The config keys the condition reads (nil: possibly any).
    var configKeys: Set<String>? {
        switch self {
        case .expression(let e): return e.configKeys
        case .fields: return []
        }
    }

    func holds(_ data: JSONValue, config: JSONObject) -> Bool {
        switch self {
        case .expression(let e): return e.isTrue(data: data, config: .object(config))
        case .fields(let want):
            guard let o = data.objectValue else { return false }
            return want.allSatisfy { k, v in o[k].map { $0 == v } ?? false }
        }
    }
}
