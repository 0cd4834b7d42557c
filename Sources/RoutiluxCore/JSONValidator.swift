/// Checks that bytes are one JSON value (RFC 8259) without building it: what
/// the coordinator journals from a worker must read back, and a parse per
/// emission would cost a tree of allocations.
public enum JSONValidator {
    /// True when `bytes` hold exactly one JSON value (surrounding whitespace allowed), nested at most `maxDepth`.
    public static func isValid(_ bytes: [UInt8], maxDepth: Int = 512) -> Bool {
        bytes.withUnsafeBufferPointer { buf in
            var s = Scanner(b: buf, i: 0, maxDepth: maxDepth)
            s.space()
            guard s.value(depth: 0) else { return false }
            s.space()
            return s.i == buf.count
        }
    }

    struct Scanner {
        let b: UnsafeBufferPointer<UInt8>
        var i: Int
        let maxDepth: Int

        mutating func space() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        mutating func value(depth: Int) -> Bool {
            guard i < b.count, depth <= maxDepth else { return false }
            switch b[i] {
            case 0x7B: return object(depth: depth + 1)
            case 0x5B: return array(depth: depth + 1)
            case 0x22: return string()
            case 0x74: return word([0x74, 0x72, 0x75, 0x65])
            case 0x66: return word([0x66, 0x61, 0x6C, 0x73, 0x65])
            case 0x6E: return word([0x6E, 0x75, 0x6C, 0x6C])
            default: return number()
            }
        }

        mutating func word(_ w: [UInt8]) -> Bool {
            guard i + w.count <= b.count else { return false }
            for (k, c) in w.enumerated() where b[i + k] != c { return false }
            i += w.count
            return true
        }

        mutating func object(depth: Int) -> Bool {
            i += 1
            space()
            if i < b.count, b[i] == 0x7D {
                i += 1
                return true
            }
            while true {
                space()
                guard i < b.count, b[i] == 0x22, string() else { return false }
                space()
                guard i < b.count, b[i] == 0x3A else { return false }
                i += 1
                space()
                guard value(depth: depth) else { return false }
                space()
                guard i < b.count else { return false }
                if b[i] == 0x2C {
                    i += 1
                    continue
                }
                if b[i] == 0x7D {
                    i += 1
                    return true
                }
                return false
            }
        }

        mutating func array(depth: Int) -> Bool {
            i += 1
            space()
            if i < b.count, b[i] == 0x5D {
                i += 1
                return true
            }
            while true {
                space()
                guard value(depth: depth) else { return false }
                space()
                guard i < b.count else { return false }
                if b[i] == 0x2C {
                    i += 1
                    continue
                }
                if b[i] == 0x5D {
                    i += 1
                    return true
                }
                return false
            }
        }

        /// A string, its escapes and its UTF-8 (well-formed, no surrogates, no control characters).
        mutating func string() -> Bool {
            i += 1
            while i < b.count {
                let c = b[i]
                switch c {
                case 0x22:
                    i += 1
                    return true
                case 0x5C:
                    guard i + 1 < b.count else { return false }
                    let e = b[i + 1]
                    if e == 0x75 {
                        guard i + 5 < b.count, (2...5).allSatisfy({ Self.isHex(b[i + $0]) }) else { return false }
                        i += 6
                    } else if [0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74].contains(e) {
                        i += 2
                    } else {
                        return false
                    }
                case 0..<0x20:
                    return false
                case 0x20..<0x80:
                    i += 1
                default:
                    guard utf8() else { return false }
                }
            }
            return false
        }

        mutating func utf8() -> Bool {
            let c = b[i]
            let n: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch c {
            case 0xC2...0xDF: n = 1
            case 0xE0: n = 2; low = 0xA0
            case 0xE1...0xEC, 0xEE, 0xEF: n = 2
            case 0xED: n = 2; high = 0x9F
            case 0xF0: n = 3; low = 0x90
            case 0xF1...0xF3: n = 3
            case 0xF4: n = 3; high = 0x8F
            default: return false
            }
            guard i + n < b.count else { return false }
            guard (low...high).contains(b[i + 1]) else { return false }
            for k in stride(from: 2, through: n, by: 1) where !(0x80...0xBF).contains(b[i + k]) { return false }
            i += n + 1
            return true
        }

        static func isHex(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || (0x41...0x46).contains(c) || (0x61...0x66).contains(c) }

        mutating func number() -> Bool {
            let start = i
            if i < b.count, b[i] == 0x2D { i += 1 }
            guard i < b.count else { return false }
            if b[i] == 0x30 {
                i += 1
            } else if (0x31...0x39).contains(b[i]) {
                while i < b.count, (0x30...0x39).contains(b[i]) { i += 1 }
            } else {
                return false
            }
            if i < b.count, b[i] == 0x2E {
                i += 1
                guard i < b.count, (0x30...0x39).contains(b[i]) else { return false }
                while i < b.count, (0x30...0x39).contains(b[i]) { i += 1 }
            }
            if i < b.count, b[i] == 0x65 || b[i] == 0x45 {
                i += 1
                if i < b.count, b[i] == 0x2B || b[i] == 0x2D { i += 1 }
                guard i < b.count, (0x30...0x39).contains(b[i]) else { return false }
                while i < b.count, (0x30...0x39).contains(b[i]) { i += 1 }
            }
            return i > start
        }
    }
}
