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

    /// An object of raw JSON values, keys in the order given.
    public mutating func rawObject(_ k: String, _ fields: [(String, [UInt8])]) {
        var inner = JSONObjectWriter()
        for (name, bytes) in fields { inner.raw(name, bytes) }
        raw(k, inner.finish())
    }

    public func finish() -> [UInt8] { out + [0x7D] }
}
