import OrderedCollections
/// Maps routine type names (and aliases) to their factories.
public struct RoutineRegistry: Sendable {
    private var types: [String: RoutineType] = [:]
    private var order: [String] = []
    private var merges: [String: MergeFunction] = [:]

    public init(_ types: [RoutineType] = []) {
        for t in types { register(t) }
    }

    /// Adds a type; a later registration of the same name replaces the earlier one.
    public mutating func register(_ type: RoutineType) {
        if types[type.name] == nil { order.append(type.name) }
        types[type.name] = type
        for a in type.aliases { types[a] = type }
    }

    /// Registers a custom merge strategy, used by slots declared with `.custom(name)`.
    public mutating func registerMerge(_ name: String, _ function: @escaping MergeFunction) {
        merges[name] = function
    }

    /// The custom merge registered under `name`.
    public func merge(_ name: String) -> MergeFunction? { merges[name] }

    /// The type registered under `name` or one of its aliases.
    public func lookup(_ name: String) -> RoutineType? { types[name] }

    /// Every name this registry answers to, canonical names first.
    public var names: [String] {
        order + types.keys.filter { !order.contains($0) }.sorted()
    }

    /// Canonical type names in registration order.
    public var typeNames: [String] { order }

    /// The registry as a catalogue, for flow validation.
    public var catalogue: RoutineCatalogue {
        var c = RoutineCatalogue()
        for name in names { c.add(name, .registry(types[name]!)) }
        return c
    }

    /// How the type registered under `name` is built for `config`: its ports, or
    /// the config error (`WORKER describe`, and the answer to a coordinator's DESCRIBE).
    public func describe(_ name: String, config: JSONObject) -> PortsOrConfigError? {
        types[name].map { PortsOrConfigError(building: $0, config: config) }
    }
}

/// What flow validation knows about routine types: their ports, computed from
/// a registry (config-aware: the type is compiled into this process) or taken
/// from a description another process made (`WORKER types --json`), which is
/// exact only for an empty config.
public struct RoutineCatalogue: Sendable {
    public enum Entry: Sendable {
        case registry(RoutineType)
        case fixed(TypeDescription)
    }
    public private(set) var entries: [String: Entry] = [:]

    public init() {}

    public mutating func add(_ name: String, _ entry: Entry) { entries[name] = entry }

    /// Adds `other`'s entries. A compiled-in (registry) entry is never replaced by
    /// a description: the compiled type knows its ports for every config.
    public mutating func merge(_ other: RoutineCatalogue) {
        for (k, v) in other.entries {
            if case .registry = entries[k], case .fixed = v { continue }
            entries[k] = v
        }
    }

    public var typeNames: [String] { entries.keys.sorted() }

    public func knows(_ type: String) -> Bool { entries[type] != nil }

    /// True when `type` is compiled in (its ports are known for any config).
    public func isCompiled(_ type: String) -> Bool {
        if case .registry = entries[type] { return true }
        return false
    }

    /// Ports of `type` configured with `config`; nil if the type is unknown, or
    /// known only by a description and `config` is not empty (the description
    /// says nothing of other configs). Config problems throw `RoutineConfigError`.
    public func ports(of type: String, config: JSONObject) throws -> RoutinePorts? {
        switch entries[type] {
        case nil: return nil
        case .fixed(let d):
            guard config.isEmpty else { return nil }
            if let e = d.configError { throw RoutineConfigError(key: e.key, e.message) }
            return d.ports
        case .registry(let t): return try t.make(config: config).ports
        }
    }

    /// The description of `name` (for a compiled type: as built from an empty config).
    public func describe(_ name: String) -> TypeDescription? {
        switch entries[name] {
        case nil: return nil
        case .fixed(let d): return d
        case .registry(let t): return TypeDescription(t, as: name)
        }
    }

    /// The catalogue as JSON: one description per type name (aliases too), sorted.
    public func json() -> JSONValue { .array(typeNames.compactMap { describe($0)?.json }) }

    /// Reads the JSON produced by `json()` (a worker's `types --json`).
    public static func fromJSON(_ v: JSONValue) throws -> RoutineCatalogue {
        guard let arr = v.arrayValue else { throw RoutineError("catalogue must be a JSON array") }
        var c = RoutineCatalogue()
        for (i, e) in arr.enumerated() {
            let d = try TypeDescription(json: e, path: "catalogue[\(i)]")
            c.add(d.name, .fixed(d))
        }
        return c
    }
}
