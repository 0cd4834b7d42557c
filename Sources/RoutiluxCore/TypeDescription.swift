/// A routine's ports as built from one config, or why that config is refused.
public enum PortsOrConfigError: Sendable, Hashable {
    case ports(RoutinePorts)
    case configError(key: String?, message: String)

    /// Builds `type` from `config` to see.
    public init(building type: RoutineType, config: JSONObject) {
        do { self = .ports(try type.make(config: config).ports) } catch let e as RoutineConfigError {
            self = .configError(key: e.key, message: e.message)
        } catch {
            self = .configError(key: nil, message: "\(error)")
        }
    }
}

extension FlowValidationError {
    /// A routine's config refused by its type, at `routines.ID.config[.KEY]`.
    public static func config(file: String?, routine: String, key: String?, _ message: String) -> FlowValidationError {
        FlowValidationError(file: file, path: "routines.\(routine).config" + (key.map { ".\($0)" } ?? ""), message: message)
    }
}

/// What a process hosting a routine type says about it: names, summary, and
/// its ports as built from an empty config (or the error an empty config gets).
/// Workers send one per type in their JOIN; `WORKER types --json` prints them.
public struct TypeDescription: Sendable, Hashable {
    public var name: String
    /// The canonical name when `name` is an alias.
    public var aliasOf: String?
    public var summary: String
    /// Ports for an empty config; nil when an empty config is refused (`configError`).
    public var ports: RoutinePorts?
    public var configError: ConfigProblem?

    public struct ConfigProblem: Sendable, Hashable {
        public var key: String?
        public var message: String
        public init(key: String?, message: String) {
            self.key = key
            self.message = message
        }
    }

    public init(name: String, aliasOf: String? = nil, summary: String = "", ports: RoutinePorts?, configError: ConfigProblem? = nil) {
        self.name = name
        self.aliasOf = aliasOf
        self.summary = summary
        self.ports = ports
        self.configError = configError
    }

    /// Describes a compiled type under `name` (its own name or an alias).
    public init(_ type: RoutineType, as name: String) {
        self.name = name
        aliasOf = name == type.name ? nil : type.name
        summary = type.summary
        switch PortsOrConfigError(building: type, config: [:]) {
        case .ports(let p): ports = p
        case .configError(let key, let message): configError = ConfigProblem(key: key, message: message)
        }
    }

    /// Same ports, names and config verdict (the summary is documentation and may differ).
    public func agrees(with other: TypeDescription) -> Bool {
        name == other.name && aliasOf == other.aliasOf && ports == other.ports && configError == other.configError
    }

    /// What differs from `other`, in a few words (for refusals).
    public func difference(from other: TypeDescription) -> String {
        var parts: [String] = []
        if aliasOf != other.aliasOf { parts.append("alias of \(other.aliasOf ?? "nothing") vs \(aliasOf ?? "nothing")") }
        let a = other.ports, b = ports
        if a?.slots != b?.slots { parts.append("slots \(list(a?.slots)) vs \(list(b?.slots))") }
        if a?.events != b?.events { parts.append("events \(list(a?.events)) vs \(list(b?.events))") }
        if a?.merges != b?.merges { parts.append("merges \(a?.merges.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" } ?? []) vs \(b?.merges.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" } ?? [])") }
        if a?.stateful != b?.stateful { parts.append("stateful \(a?.stateful ?? false) vs \(b?.stateful ?? false)") }
        if a?.errorPolicy != b?.errorPolicy { parts.append("error policy \(a?.errorPolicy?.json.jsonString() ?? "none") vs \(b?.errorPolicy?.json.jsonString() ?? "none")") }
        if configError != other.configError {
            parts.append("empty config \(other.configError.map { "refused (\($0.message))" } ?? "accepted") vs \(configError.map { "refused (\($0.message))" } ?? "accepted")")
        }
        return parts.isEmpty ? "the same" : parts.joined(separator: "; ")
    }

    private func list(_ names: [String]?) -> String { names.map { "[\($0.joined(separator: ", "))]" } ?? "any" }

    /// The catalogue entry: `{type, alias_of?, summary, slots, events, merges?, stateful?, error_handler?, config_error?}`.
    public var json: JSONValue {
        var o: JSONObject = ["type": .string(name)]
        if let a = aliasOf { o["alias_of"] = .string(a) }
        if !summary.isEmpty { o["summary"] = .string(summary) }
        if let p = ports {
            for (k, v) in p.json { o[k] = v }
        } else {
            o["slots"] = .null
            o["events"] = .null
        }
        if let e = configError {
            var c: JSONObject = ["message": .string(e.message)]
            if let k = e.key { c["key"] = .string(k) }
            o["config_error"] = .object(c)
        }
        return .object(o)
    }

    /// Reads a catalogue entry; errors name `path` and the field.
    public init(json e: JSONValue, path: String) throws {
        guard e.objectValue != nil else { throw RoutineError("\(path) must be an object") }
        guard let name = e["type"].stringValue, !name.isEmpty else { throw RoutineError("\(path).type missing") }
        self.name = name
        aliasOf = e["alias_of"].stringValue
        summary = e["summary"].stringValue ?? ""
        if let c = e["config_error"].objectValue {
            configError = ConfigProblem(key: c["key"]?.stringValue, message: c["message"]?.stringValue ?? "refused")
            ports = nil
        } else {
            ports = try RoutinePorts(json: e, path: path)
        }
    }
}

extension RoutinePorts {
    /// `{slots, events, merges?, stateful?, error_handler?}` (nil slots or events: any).
    public var json: JSONObject {
        var o: JSONObject = [:]
        o["slots"] = slots.map { .array($0.map { .string($0) }) } ?? .null
        o["events"] = events.map { .array($0.map { .string($0) }) } ?? .null
        if !merges.isEmpty {
            o["merges"] = .object(JSONObject(uniqueKeysWithValues: merges.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
        }
        if stateful { o["stateful"] = true }
        if let p = errorPolicy { o["error_handler"] = p.json }
        return o
    }

    /// Reads `json`'s form; errors name `path` and the field.
    public init(json e: JSONValue, path: String) throws {
        func names(_ key: String) throws -> [String]? {
            guard let v = e.objectValue?[key], v != .null else { return nil }
            guard let a = v.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else {
                throw RoutineError("\(path).\(key) must be a list of names or null")
            }
            return a.compactMap(\.stringValue)
        }
        var merges: [String: String] = [:]
        if let m = e.objectValue?["merges"], m != .null {
            guard let mo = m.objectValue else { throw RoutineError("\(path).merges must be an object") }
            for (slot, strategy) in mo {
                guard let s = strategy.stringValue else { throw RoutineError("\(path).merges.\(slot) must be a string") }
                merges[slot] = s
            }
        }
        var policy: ErrorPolicy?
        if let h = e.objectValue?["error_handler"], h != .null {
            do { policy = try ErrorPolicy.parse(h, path: "\(path).error_handler", file: nil) } catch { throw RoutineError("\(error)") }
        }
        self.init(slots: try names("slots"), events: try names("events"), merges: merges, stateful: e["stateful"].boolValue ?? false, errorPolicy: policy)
    }
}
