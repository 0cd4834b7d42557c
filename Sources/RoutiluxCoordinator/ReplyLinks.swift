import DequeModule
import RoutiluxTransport

/// The coordinator's links to reply inboxes (clients' and refused workers'):
/// pooled per (endpoint, key) and reused, at most `capacity` open, the least
/// recently used closed first, and any idle for `idleSeconds` closed on a tick.
/// A flood of requests with distinct reply endpoints costs sockets only up to
/// the cap (and the transport refuses links beyond its own cap, never aborting).
struct ReplyLinks {
    let capacity: Int
    let idleSeconds: Double
    private var lastUse: [String: Double] = [:]
    private var order: Deque<String> = []
    private var next = 0
    /// (endpoint|key) → peer name, and back.
    private var names: [String: String] = [:]
    private var ids: [String: String] = [:]

    init(capacity: Int = 128, idleSeconds: Double = 30) {
        self.capacity = max(1, capacity)
        self.idleSeconds = idleSeconds
    }

    /// The transport peer name for this endpoint and key, opening (and, at the cap, evicting) as needed.
    mutating func link(endpoint: String, key: String?, curve: CurveSetting?, on transport: Transport, now: Double) -> String {
        let id = endpoint + "|" + (key ?? "")
        if let name = names[id] {
            lastUse[name] = now
            if let i = order.firstIndex(of: name) { order.remove(at: i) }
            order.append(name)
            return name
        }
        while order.count >= capacity, let old = order.popFirst() { close(old, on: transport) }
        next += 1
        let name = "r:\(next)"
        names[id] = name
        ids[name] = id
        lastUse[name] = now
        order.append(name)
        transport.connect(peer: name, endpoint: endpoint, options: SocketOptions.reply.with(curve))
        return name
    }

    /// Closes links idle for longer than `idleSeconds` (their queued replies get the linger time).
    mutating func closeIdle(on transport: Transport, now: Double) {
        while let first = order.first, now - (lastUse[first] ?? 0) > idleSeconds {
            order.removeFirst()
            close(first, on: transport)
        }
    }

    var count: Int { order.count }

    private mutating func close(_ name: String, on transport: Transport) {
        lastUse.removeValue(forKey: name)
        if let id = ids.removeValue(forKey: name) { names.removeValue(forKey: id) }
        transport.disconnect(peer: name, lingerMs: SocketOptions.lingering.lingerMs)
    }
}
