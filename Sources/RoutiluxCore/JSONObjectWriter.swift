/// Writes one JSON object field by field, splicing in raw JSON bytes as they
/// are (a payload is never parsed to be stored). Keys are written as given.
public struct JSONObjectWriter {
    private var out: [UInt8] = [0x7B]
    private var first = true

    public init(capacity: Int = 128) { out.reserveCapacity(capacity) }

    private mutating func key(_ k: String) {
        if !first { out.append(0x2C) }
        first = false
        JSONValue.writeString(k, into: &out)
        out.append(0x3A)
    }

    /// A field whose value is already JSON text (trusted: it came from a parser or a writer).
    public mutating func raw(_ k: String, _ bytes: [UInt8]) {
        key(k)
        out.append(contentsOf: bytes)
    }

    public mutating func value(_ k: String, _ v: JSONValue) {
        key(k)
        v.write(into: &out, indent: nil, level: 0)
    }

    public mutating func string(_ k: String, _ s: String) {
        key(k)
        JSONValue.writeString(s, into: &out)
    }

    public mutating func int(_ k: String, _ i: Int) {
        key(k)
        JSONValue.writeInt(i, into: &out)
    }

    public mutating func bool(_ k: String, _ b: Bool) {
        key(k)
        out.append(contentsOf: b ? JSONValue.trueBytes : JSONValue.falseBytes)
    }

    /// An array of strings.
    public mutating func strings(_ k: String, _ a: [String]) {
        key(k)
        JSONValue.writeStrings(a, into: &out)
    }

    /// An array of integers.
    public mutating func ints(_ k: String, _ a: [Int]) {
        key(k)
        out.append(0x5B)
        for (i, v) in a.enumerated() {
            if i > 0 { out.append(0x2C) }
            JSONValue.writeInt(v, into: &out)
        }
        out.append(0x5D)
    }

    /// An array of arrays of strings.
    public mutating func stringLists(_ k: String, _ a: [[String]]) {
        key(k)
        out.append(0x5B)
        for (i, v) in a.enumerated() {
            if i > 0 { out.append(0x2C) }
            JSONValue.writeStrings(v, into: &out)
        }
        out.append(0x5D)
    }

    /// An object of raw JSON values, keys in the order given.
    public mutating func rawObject(_ k: String, _ fields: [(String, [UInt8])]) {
        var inner = JSONObjectWriter()
        for (name, bytes) in fields { inner.raw(name, bytes) }
        raw(k, inner.finish())
    }

    public func finish() -> [UInt8] { out + [0x7D] }

    /// The object's text, closed (the writer is done with).
    public mutating func finished() -> [UInt8] {
        out.append(0x7D)
        return out
    }
}
