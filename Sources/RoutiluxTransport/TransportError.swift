/// A socket operation that failed, with the endpoint and libzmq's reason.
public struct TransportError: Error, CustomStringConvertible, Sendable {
    public var endpoint: String
    public var reason: String
    public init(endpoint: String, reason: String) {
        self.endpoint = endpoint
        self.reason = reason
    }
    public var description: String { "\(endpoint): \(reason)" }
}
