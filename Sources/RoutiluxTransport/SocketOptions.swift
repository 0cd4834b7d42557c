/// Options set on every socket the transport creates. Linger is always explicit.
public struct SocketOptions: Sendable {
    /// Milliseconds pending messages survive a close.
    public var lingerMs: Int32
    public var sendHighWaterMark: Int32
    public var receiveHighWaterMark: Int32
    /// ZMTP heartbeats on TCP links (0 = off).
    public var heartbeatIntervalMs: Int32
    public var heartbeatTimeoutMs: Int32
    /// CURVE on this socket (nil: plaintext).
    public var curve: CurveSetting?
    /// Queue messages only to completed connections (ZMQ_IMMEDIATE): nothing piles
    /// up inside libzmq for a peer that never answers the connect.
    public var immediate: Bool
    /// Whether this link may use the transport's last reserved sockets (worker
    /// links may; reply links, which strangers can make us open, may not).
    public var essential: Bool
    /// Messages queued to this link at one wake-up of the I/O thread go as batches (nil: one by one).
    public var batching: Batching?

    public init(
        lingerMs: Int32 = 0, sendHighWaterMark: Int32 = 10_000, receiveHighWaterMark: Int32 = 100_000,
        heartbeatIntervalMs: Int32 = 1000, heartbeatTimeoutMs: Int32 = 3000, curve: CurveSetting? = nil,
        immediate: Bool = false, essential: Bool = true
    ) {
        self.immediate = immediate
        self.essential = essential
        self.lingerMs = lingerMs
        self.sendHighWaterMark = sendHighWaterMark
        self.receiveHighWaterMark = receiveHighWaterMark
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.heartbeatTimeoutMs = heartbeatTimeoutMs
        self.curve = curve
    }
    /// For inboxes and task links.
    public static let standard = SocketOptions()
    /// For links whose last message must arrive after close (replies, results on shutdown).
    public static let lingering = SocketOptions(lingerMs: 2000)
    /// For the coordinator's links to reply inboxes: lingering, a small queue,
    /// nothing queued before the connection completes, not essential.
    public static let reply = SocketOptions(lingerMs: 2000, sendHighWaterMark: 4, immediate: true, essential: false)

    /// The same options with batching.
    public func batched(_ b: Batching?) -> SocketOptions {
        var o = self
        o.batching = b
        return o
    }

    /// The same options with CURVE.
    public func with(_ curve: CurveSetting?) -> SocketOptions {
        var o = self
        o.curve = curve
        return o
    }
}

/// How a link batches: messages queued to it at one wake-up of the I/O thread are
/// packed, in order, into batches of at most `maxMessages` messages and `maxBytes`
/// bytes (`pack` makes one message of several; the wire's framing); a lone message,
/// or one bigger than `maxBytes`, goes as itself.
public struct Batching: Sendable {
    public var maxBytes: Int
    public var maxMessages: Int
    public var pack: @Sendable ([[[UInt8]]]) -> [[UInt8]]
    public init(maxBytes: Int, maxMessages: Int, pack: @escaping @Sendable ([[[UInt8]]]) -> [[UInt8]]) {
        self.maxBytes = maxBytes
        self.maxMessages = max(1, maxMessages)
        self.pack = pack
    }
}

/// How a socket uses CURVE. The mechanism's roles are independent of bind and
/// connect: a bound inbox can be a CURVE client, so that only the holder of
/// `serverKey`'s secret can complete a handshake with it and put a message in.
public enum CurveSetting: Sendable, Hashable {
    /// This socket authenticates its peers: the ZAP handler's `domain` decides which keys get in.
    case server(CurveKeyPair, domain: String)
    /// This socket proves its own key and talks only to the peer holding `serverKey`.
    case client(CurveKeyPair, serverKey: String)
}

/// Bounds on what peers can make a transport allocate.
public struct TransportLimits: Sendable {
    /// The largest message accepted (all frames): a bigger one is dropped and
    /// reported; one frame over twice this makes libzmq drop the connection.
    public var maxMessageBytes: Int
    /// Sockets open at once, lingering closed ones included; a link beyond is refused (logged), never an abort.
    public var maxSockets: Int
    /// Of those, the last this many only for essential links (worker links).
    public var reservedSockets: Int
    /// Messages and bytes that may wait for one slow peer before more are dropped (counted, logged).
    public var maxPendingMessages: Int
    public var maxPendingBytes: Int
    /// Received bytes that may wait for the owner before the inboxes stop being read.
    public var maxInboundBacklogBytes: Int
    /// Bytes that may wait for all links that are not essential together.
    public var maxPendingBytesTotal: Int
    public init(maxMessageBytes: Int = 64 << 20, maxSockets: Int = 2048) {
        self.maxMessageBytes = max(1024, maxMessageBytes)
        self.maxSockets = max(8, maxSockets)
        reservedSockets = self.maxSockets / 4
        maxPendingMessages = 100_000
        maxPendingBytes = max(256 << 20, 4 * self.maxMessageBytes)
        maxInboundBacklogBytes = max(256 << 20, 4 * self.maxMessageBytes)
        maxPendingBytesTotal = max(256 << 20, 4 * self.maxMessageBytes)
    }
    public static let standard = TransportLimits()
}
