/// Where a running activation's emissions and outputs go in parts, while its
/// handler runs (the worker gives one to each `HandlerContext`): a handler that
/// emits a great many items never holds them all.
public protocol PartSink: Sendable {
    /// Entries (emissions plus outputs) and body bytes at which a part is sent.
    var maxEntries: Int { get }
    var maxBytes: Int { get }
    /// Takes the next part, in order: event names with their payloads, output types with their data.
    /// Called under the context's lock, so it must not block or call back into the context.
    func send(_ part: EmissionPart)
    /// Returns once the coordinator has taken in enough of the parts sent; throws when the attempt was stopped.
    func waitForRoom() async throws
}

/// One part of an activation's emissions and outputs, as serialized payloads.
public struct EmissionPart: Sendable {
    public var emissions: [(event: String, payload: RawJSON)] = []
    public var outputs: [(type: String, data: RawJSON)] = []
    /// Bytes held: bodies and names.
    public var bytes = 0
    public init() {}
    public var count: Int { emissions.count + outputs.count }
    public var isEmpty: Bool { count == 0 }
}
