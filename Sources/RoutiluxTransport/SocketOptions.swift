/// Options set on every socket the transport creates. Linger is always explicit.
public struct SocketOptions: Sendable {
    /// Milliseconds pending messages survive a close.
    public var lingerMs: Int32
    public var sendHighWaterMark: Int32
    public var receiveHighWaterMark: Int32
    /// A peer sending a bigger message is disconnected.
    public var maxMessageBytes: Int64
    /// ZMTP heartbeats on TCP links (0 = off).
    public var heartbeatIntervalMs: Int32
    public var heartbeatTimeoutMs: Int32

    public init(
        lingerMs: Int32 = 0, sendHighWaterMark: Int32 = 10_000, receiveHighWaterMark: Int32 = 100_000,
        maxMessageBytes: Int64 = 256 << 20, heartbeatIntervalMs: Int32 = 1000, heartbeatTimeoutMs: Int32 = 3000
    ) {
        self.lingerMs = lingerMs
        self.sendHighWaterMark = sendHighWaterMark
        self.receiveHighWaterMark = receiveHighWaterMark
        self.maxMessageBytes = maxMessageBytes
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.heartbeatTimeoutMs = heartbeatTimeoutMs
    }

    /// For inboxes and task links.
    public static let standard = SocketOptions()
    /// For links whose last message must arrive after close (replies, results on shutdown).
    public static let lingering = SocketOptions(lingerMs: 2000)
}
