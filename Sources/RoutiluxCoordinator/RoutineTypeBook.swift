import DequeModule
import RoutiluxCore

/// A routine type with one config: the key of a description's cache entry.
struct DescribeKey: Hashable, Sendable, CustomStringConvertible {
    var type: String
    /// The config as canonical JSON (keys sorted at every level).
    var config: String
    var description: String { "\(type) \(config)" }
}

/// What the coordinator knows about routine types, and from where: compiled in
/// (ports for any config), a catalogue file (exact for an empty config only),
/// and the workers that joined (their JOIN's descriptions, and their answers to
/// DESCRIBE for each config a flow uses, cached).
struct RoutineTypeBook {
    /// How a routine's ports are known, or what is missing.
    enum Resolution {
        case ports(RoutinePorts)
        case configError(key: String?, message: String)
        /// A joined worker must describe the type for this config.
        case describe(DescribeKey)
        /// Every joined worker hosting the type failed to describe it for this config, lately.
        case undescribed(DescribeKey)
        /// Nobody here can say: no compiled type, no description, no worker hosting it.
        case noHost
    }

    /// Who could describe a key: a live host that has not failed it lately, only
    /// hosts that have, or nobody.
    enum Describers { case available, allFailed, none }

    let base: RoutineCatalogue
    /// Descriptions from the workers' JOINs, by type name (aliases too).
    private(set) var learned: [String: TypeDescription] = [:]
    private var cache: [DescribeKey: PortsOrConfigError] = [:]
    private var cacheOrder: Deque<DescribeKey> = []
    private var cacheBytes = 0
    /// Bounds on cached describe answers (oldest dropped first): entries, and bytes of their configs.
    static let cacheLimit = 10_000
    static let cacheByteLimit = 64 << 20
    /// A config larger than this is described every time, never cached.
    static let cacheableConfigBytes = 1 << 20
    /// The answer just received, while the requests waiting on it are handled
    /// (so an answer too large to cache still reaches them).
    var fresh: (key: DescribeKey, answer: PortsOrConfigError)?

    init(base: RoutineCatalogue) { self.base = base }

    /// Known by any source.
    func knows(_ type: String) -> Bool { base.knows(type) || learned[type] != nil }

    /// The description a type is known by here: compiled or from a file first, then learned.
    func description(of type: String) -> TypeDescription? { base.describe(type) ?? learned[type] }

    /// How `type` is built from `config`. `hosted` says whether a live worker can
    /// describe the type for this key (one that has not failed to already).
    func resolve(_ type: String, config: JSONObject, describers: (DescribeKey) -> Describers) -> Resolution {
        if case .registry(let t) = base.entries[type] {
            switch PortsOrConfigError(building: t, config: config) {
            case .ports(let p): return .ports(p)
            case .configError(let k, let m): return .configError(key: k, message: m)
            }
        }
        let key = DescribeKey(type: type, config: canonicalJSON(.object(config)))
        switch cache[key] ?? (fresh?.key == key ? fresh?.answer : nil) {
        case .ports(let p)?: return .ports(p)
        case .configError(let k, let m)?: return .configError(key: k, message: m)
        case nil: break
        }
        let who = describers(key)
        if who == .available { return .describe(key) }
        if who == .allFailed { return .undescribed(key) }
        if base.knows(type), config.isEmpty {
            do { if let p = try base.ports(of: type, config: config) { return .ports(p) } } catch let e as RoutineConfigError {
                return .configError(key: e.key, message: e.message)
            } catch {}
        }
        return .noHost
    }

    /// Records a worker's answer for `key`.
    mutating func remember(_ key: DescribeKey, _ answer: PortsOrConfigError) {
        guard key.config.utf8.count <= Self.cacheableConfigBytes else { return }
        if cache.updateValue(answer, forKey: key) == nil {
            cacheOrder.append(key)
            cacheBytes += key.config.utf8.count
        }
        while cacheOrder.count > Self.cacheLimit || cacheBytes > Self.cacheByteLimit, let old = cacheOrder.popFirst() {
            cache.removeValue(forKey: old)
            cacheBytes -= old.config.utf8.count
        }
    }

    /// Forgets a learned type (its last host left): its description and cached answers.
    mutating func forget(_ type: String) {
        guard learned.removeValue(forKey: type) != nil else { return }
        dropCache(of: type)
    }

    private mutating func dropCache(of type: String) {
        cache = cache.filter { $0.key.type != type }
        cacheOrder.removeAll { $0.type == type }
        cacheBytes = cacheOrder.reduce(0) { $0 + $1.config.utf8.count }
    }

    /// Learns a joined worker's description; its empty-config ports seed the cache.
    mutating func learn(_ d: TypeDescription) {
        learned[d.name] = d
        let empty = DescribeKey(type: d.name, config: "{}")
        if let p = d.ports {
            remember(empty, .ports(p))
        } else if let e = d.configError {
            remember(empty, .configError(key: e.key, message: e.message))
        }
    }
}

/// JSON text with object keys sorted at every level: equal values, equal text.
func canonicalJSON(_ v: JSONValue) -> String {
    func sorted(_ v: JSONValue) -> JSONValue {
        switch v {
        case .object(let o):
            var out = JSONObject()
            for k in o.keys.sorted() { out[k] = sorted(o[k]!) }
            return .object(out)
        case .array(let a): return .array(a.map(sorted))
        default: return v
        }
    }
    return sorted(v).jsonString()
}
