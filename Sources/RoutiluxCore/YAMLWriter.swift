import Foundation
import Yams

extension JSONValue {
    /// YAML text keeping key order; strings that YAML would read as something
    /// else (`"true"`, `"12"`, `"null"`) are quoted, so the text reads back equal.
    public func yamlString() throws -> String {
        try Yams.serialize(node: yamlNode(), allowUnicode: true)
    }

    func yamlNode() -> Node {
        switch self {
        case .null: return Node("null")
        case .bool(let b): return Node(b ? "true" : "false")
        case .int(let i): return Node(String(i))
        case .double(let d): return Node(d.rounded() == d && abs(d) < 1e15 ? String(format: "%.1f", d) : "\(d)")
        case .string(let s):
            let plain = Node(s)
            let ambiguous = plain.null != nil || plain.bool != nil || plain.int != nil || plain.float != nil
            return ambiguous || s.isEmpty ? Node(s, .implicit, .doubleQuoted) : plain
        case .array(let a): return Node(a.map { $0.yamlNode() })
        case .object(let o): return Node(o.map { (Node($0.key), $0.value.yamlNode()) })
        }
    }
}
