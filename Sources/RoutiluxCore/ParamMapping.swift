import OrderedCollections
/// Renames parameters on a connection: `{event_param: slot_param}`.
///
/// The algorithm is routilux 0.10's (behaviour §2.6): mapped values first, in
/// mapping order; then every key of the data that is not a mapping target and
/// not already present. The source key is kept as well as the renamed one.
public struct ParamMapping: Sendable, Hashable {
    public var pairs: [(source: String, target: String)]

    public init(_ pairs: [(source: String, target: String)] = []) { self.pairs = pairs }

    public var isEmpty: Bool { pairs.isEmpty }

    public static func == (a: ParamMapping, b: ParamMapping) -> Bool {
        a.pairs.elementsEqual(b.pairs, by: { $0.source == $1.source && $0.target == $1.target })
    }

    public func hash(into h: inout Hasher) {
        for p in pairs { h.combine(p.source); h.combine(p.target) }
    }

    /// Applies the mapping to one delivery's data.
    public func apply(to data: JSONObject) -> JSONObject {
        if pairs.isEmpty { return data }
        var out = JSONObject()
        var targets = Set<String>()
        for p in pairs {
            targets.insert(p.target)
            if let v = data[p.source] { out[p.target] = v }
        }
        for (k, v) in data where !targets.contains(k) && out[k] == nil {
            out[k] = v
        }
        return out
    }

    /// The mapping as a JSON object (for flow export and the wire).
    public var json: JSONValue {
        var o = JSONObject()
        for p in pairs { o[p.source] = .string(p.target) }
        return .object(o)
    }
}
