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
        /// Nobody here can say: no compiled type, no description, no worker hosting it.
        case noHost
    }

    let base: RoutineCatalogue
    /// Descriptions from the workers' JOINs, by type name (aliases too).
    private(set) var learned: [String: TypeDescription] = [:]
    private var cache: [DescribeKey: PortsOrConfigError] = [:]
    private var cacheOrder: Deque<DescribeKey> = []
    /// Bound on cached describe answers (oldest dropped first).
    static let cacheLimit = 10_000

    init(base: RoutineCatalogue) { self.base = base }

    /// Known by any source.
    func knows(_ type: String) -> Bool { base.knows(type) || learned[type] != nil }

    /// The description a type is known by here: compiled or from a file first, then learned.
    func description(of type: String) -> TypeDescription? { base.describe(type) ?? learned[type] }

    /// How `type` is built from `config`. `hosted` says whether a live worker can
    /// describe the type for this key (one that has not failed to already).
    func resolve(_ type: String, config: JSONObject, hosted: (DescribeKey) -> Bool) -> Resolution {
        if base.isCompiled(type) {
            do { return .ports(try base.ports(of: type, config: config)!) } catch let e as RoutineConfigError {
                return .configError(key: e.key, message: e.message)
            } catch {
                return .configError(key: nil, message: "\(error)")
            }
        }
        let key = DescribeKey(type: type, config: canonicalJSON(.object(config)))
        switch cache[key] {
        case .ports(let p)?: return .ports(p)
        case .configError(let k, let m)?: return .configError(key: k, message: m)
        case nil: break
        }
        if hosted(key) { return .describe(key) }
        if base.knows(type), config.isEmpty {
            do { if let p = try base.ports(of: type, config: config) { return .ports(p) } } catch let e as RoutineConfigError {
                return .configError(key: e.key, message: e.message)
            } catch {}
        }
        return .noHost
    }

    /// Records a worker's answer for `key`.
    mutating func remember(_ key: DescribeKey, _ answer: PortsOrConfigError) {
        if cache.updateValue(answer, forKey: key) == nil { cacheOrder.append(key) }
        while cacheOrder.count > Self.cacheLimit { cache.removeValue(forKey: cacheOrder.removeFirst()) }
    }

    /// Learns (or, when `replacing`, re-learns) a joined worker's description; its
    /// empty-config ports seed the cache. Replacing drops every cached answer of the type.
    mutating func learn(_ d: TypeDescription, replacing: Bool) {
        if replacing {
            cache = cache.filter { $0.key.type != d.name }
            cacheOrder.removeAll { $0.type == d.name }
        }
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
