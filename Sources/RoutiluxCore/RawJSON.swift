import OrderedCollections
/// JSON text kept as bytes, for payloads that pass through a process
/// without being looked at (the coordinator routes them untouched).
/// It is decoded only when someone asks for the value.
public struct RawJSON: Sendable, Hashable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ value: JSONValue) { self.bytes = value.serialized() }

    /// The decoded value; invalid bytes give a JSON error.
    public func value() throws(JSONParseError) -> JSONValue { try JSONValue.parse(bytes) }

    /// The decoded value, or a string describing why it could not be decoded.
    public var valueOrError: JSONValue {
        do { return try value() } catch { return .string("<invalid JSON: \(error)>") }
    }
}
