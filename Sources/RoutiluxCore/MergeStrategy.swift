import OrderedCollections
/// How a slot combines a new delivery with what it has received before.
public enum MergeStrategy: Sendable, Hashable, CustomStringConvertible {
    /// The handler gets exactly the new data (routilux's default).
    case override
    /// Each key accumulates a list; the handler gets only this delivery's keys.
    case append
    /// A merge function registered under this name in the worker.
    case custom(String)

    public init(name: String) {
        switch name {
        case "override": self = .override
        case "append": self = .append
        default: self = .custom(name)
        }
    }

    public var description: String {
        switch self {
        case .override: return "override"
        case .append: return "append"
        case .custom(let n): return n
        }
    }
}

/// A custom merge, registered by name in a worker: given the slot's state and a
/// new delivery, returns what the handler gets, which is also the new state
/// (routilux's callable merge strategy).
public typealias MergeFunction = @Sendable (_ state: JSONObject, _ new: JSONObject) throws -> JSONObject

extension MergeStrategy {
    /// True when deliveries depend on the slot's earlier ones.
    public var isStateful: Bool { self != .override }

    /// Merges `new` into `state` (which becomes the slot's new state) and returns
    /// the handler's data, which shares nothing with the state.
    ///
    /// - `append`: routilux 0.10's exact shape: each key of `new` accumulates a
    ///   list (an earlier scalar is wrapped); the result holds only this
    ///   delivery's keys, each as its accumulated list.
    /// - custom: `custom(name)` looks the function up; its result is both.
    public func merge(
        state: inout JSONObject, new: JSONObject, custom: (String) -> MergeFunction?
    ) throws(RoutineError) -> JSONObject {
        switch self {
        case .override:
            state = new
            return new
        case .append:
            var merged = JSONObject()
            for (k, v) in new {
                var list: [JSONValue]
                switch state[k] {
                case nil: list = []
                case .array(let a)?: list = a
                case let other?: list = [other]
                }
                list.append(v)
                state[k] = .array(list)
                merged[k] = .array(list)
            }
            return merged
        case .custom(let name):
            guard let f = custom(name) else {
                throw RoutineError("merge strategy '\(name)' is not registered in this worker")
            }
            do {
                let result = try f(state, new)
                state = result
                return result
            } catch {
                throw RoutineError("merge strategy '\(name)' failed: \(error)", type: "MergeError")
            }
        }
    }
}
