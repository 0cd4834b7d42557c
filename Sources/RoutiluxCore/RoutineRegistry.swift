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
}

/// What flow validation knows about routine types: their ports, computed from
/// a registry (config-aware) or taken from a static description (e.g. another
/// worker binary's `types --json`).
public struct RoutineCatalogue: Sendable {
    public enum Entry: Sendable {
        case registry(RoutineType)
        case fixed(RoutinePorts)
    }
    public private(set) var entries: [String: Entry] = [:]

    public init() {}

    public mutating func add(_ name: String, _ entry: Entry) { entries[name] = entry }

    public mutating func merge(_ other: RoutineCatalogue) {
        for (k, v) in other.entries { entries[k] = v }
    }

    public var typeNames: [String] { entries.keys.sorted() }

    public func knows(_ type: String) -> Bool { entries[type] != nil }

    /// Ports of `type` configured with `config`; nil if the type is unknown.
    public func ports(of type: String, config: JSONObject) throws -> RoutinePorts? {
        switch entries[type] {
        case nil: return nil
        case .fixed(let p): return p
        case .registry(let t): return try t.make(config: config).ports
        }
    }

    /// The catalogue as JSON: `[{type, slots, events}]` (nil ports as null).
    public func json(registry: RoutineRegistry? = nil) -> JSONValue {
        var out: [JSONValue] = []
        for name in typeNames {
            var o: JSONObject = ["type": .string(name)]
            var ports: RoutinePorts?
            switch entries[name]! {
            case .fixed(let p): ports = p
            case .registry(let t): ports = try? t.make(config: [:]).ports
            }
            o["slots"] = ports?.slots.map { .array($0.map { .string($0) }) } ?? .null
            o["events"] = ports?.events.map { .array($0.map { .string($0) }) } ?? .null
            if ports?.stateful == true { o["stateful"] = true }
            if let p = ports?.errorPolicy { o["error_handler"] = p.json }
            if let m = ports?.merges, !m.isEmpty {
                o["merges"] = .object(JSONObject(uniqueKeysWithValues: m.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
            }
            out.append(.object(o))
        }
        return .array(out)
    }

    /// Reads the JSON produced by `json()` (a worker's `types --json`).
    public static func fromJSON(_ v: JSONValue) throws -> RoutineCatalogue {
        guard let arr = v.arrayValue else { throw RoutineError("catalogue must be a JSON array") }
        var c = RoutineCatalogue()
        for (i, e) in arr.enumerated() {
            guard let name = e["type"].stringValue else { throw RoutineError("catalogue[\(i)].type missing") }
            let slots = e["slots"].arrayValue?.compactMap(\.stringValue)
            let events = e["events"].arrayValue?.compactMap(\.stringValue)
            var merges: [String: String] = [:]
            for (slot, strategy) in e["merges"].objectValue ?? [:] { merges[slot] = strategy.stringValue }
            var policy: ErrorPolicy?
            if let h = e.objectValue?["error_handler"], h != .null {
                do { policy = try ErrorPolicy.parse(h, path: "catalogue[\(i)].error_handler", file: nil) } catch { throw RoutineError("\(error)") }
            }
            c.add(name, .fixed(RoutinePorts(
                slots: slots, events: events, merges: merges, stateful: e["stateful"].boolValue ?? false, errorPolicy: policy)))
        }
        return c
    }
}
