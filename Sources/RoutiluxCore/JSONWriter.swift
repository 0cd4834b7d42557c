import OrderedCollections
extension JSONValue {
    /// Compact JSON text as UTF-8 bytes, keys in stored order.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        write(into: &out, indent: nil, level: 0)
        return out
    }

    /// JSON text; `pretty` indents by two spaces.
    public func jsonString(pretty: Bool = false) -> String {
        var out: [UInt8] = []
        write(into: &out, indent: pretty ? 2 : nil, level: 0)
        return String(decoding: out, as: UTF8.self)
    }

    func write(into out: inout [UInt8], indent: Int?, level: Int) {
        switch self {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b): out.append(contentsOf: b ? Array("true".utf8) : Array("false".utf8))
        case .int(let i): out.append(contentsOf: Array(String(i).utf8))
        case .double(let d):
            if d.isFinite {
                if d.rounded() == d && abs(d) < 1e15 {
                    out.append(contentsOf: Array(String(Int(d)).utf8))
                    out.append(contentsOf: [0x2E, 0x30])
                } else {
                    out.append(contentsOf: Array("\(d)".utf8))
                }
            } else {
                out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])  // JSON has no NaN/inf
            }
        case .string(let s): Self.writeString(s, into: &out)
        case .array(let a):
            if a.isEmpty { out.append(contentsOf: [0x5B, 0x5D]); return }
            out.append(0x5B)
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(0x2C) }
                Self.newline(&out, indent, level + 1)
                v.write(into: &out, indent: indent, level: level + 1)
            }
            Self.newline(&out, indent, level)
            out.append(0x5D)
        case .object(let o):
            if o.isEmpty { out.append(contentsOf: [0x7B, 0x7D]); return }
            out.append(0x7B)
            var first = true
            for (k, v) in o {
                if !first { out.append(0x2C) }
                first = false
                Self.newline(&out, indent, level + 1)
                Self.writeString(k, into: &out)
                out.append(0x3A)
                if indent != nil { out.append(0x20) }
                v.write(into: &out, indent: indent, level: level + 1)
            }
            Self.newline(&out, indent, level)
            out.append(0x7D)
        }
    }

    static func newline(_ out: inout [UInt8], _ indent: Int?, _ level: Int) {
        guard let indent else { return }
        out.append(0x0A)
        out.append(contentsOf: repeatElement(0x20, count: indent * level))
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        for c in s.utf8 {
            switch c {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hexDigits[Int(c >> 4)])
                out.append(hexDigits[Int(c & 0xF)])
            default: out.append(c)
            }
        }
        out.append(0x22)
    }
}

extension JSONValue: CustomStringConvertible {
    public var description: String { jsonString() }
}
