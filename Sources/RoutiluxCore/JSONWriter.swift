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
        case .int(let i): Self.writeInt(i, into: &out)
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
    static let trueBytes = Array("true".utf8)
    static let falseBytes = Array("false".utf8)

    /// An integer's decimal digits, written without a String in between.
    static func writeInt(_ i: Int, into out: inout [UInt8]) {
        if i == Int.min {
            out.append(contentsOf: Array(String(i).utf8))
            return
        }
        if i < 0 { out.append(0x2D) }
        var n = i.magnitude
        if n < 10 {
            out.append(0x30 + UInt8(n))
            return
        }
        // At most 19 digits (Int.max), written backwards into a fixed buffer.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
            var at = 20
            while n > 0 {
                at -= 1
                buf[at] = 0x30 + UInt8(n % 10)
                n /= 10
            }
            out.append(contentsOf: buf[at..<20])
        }
    }

    static func writeStrings(_ a: [String], into out: inout [UInt8]) {
        out.append(0x5B)
        for (i, s) in a.enumerated() {
            if i > 0 { out.append(0x2C) }
            writeString(s, into: &out)
        }
        out.append(0x5D)
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        // Most strings need no escape: copied whole.
        var plain = true
        var s = s
        s.withUTF8 { u in
            for c in u where c < 0x20 || c == 0x22 || c == 0x5C {
                plain = false
                break
            }
            if plain { out.append(contentsOf: u) }
        }
        if plain {
            out.append(0x22)
            return
        }
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
