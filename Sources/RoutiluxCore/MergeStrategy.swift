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
