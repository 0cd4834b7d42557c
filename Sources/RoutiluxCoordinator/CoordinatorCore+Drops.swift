import RoutiluxCore
import RoutiluxWire
import RoutiluxTransport

/// Dropping what cannot be accepted: counted by reason, logged with the sender (rate-limited).
extension CoordinatorCore {
    /// Counts (unless `counted` is false: already counted elsewhere) and logs a
    /// dropped message. No job is touched.
    func drop(
        _ reason: DropReason, _ type: MessageType?, peer: Sender?, now: Double, why: String, level: LogLevel = .warning,
        counted: Bool = true
    ) {
        if counted { counters.dropped[reason, default: 0] += 1 }
        var summaries: [(DropReason, Int)] = []
        let show = dropLog.shouldLog(reason, now: now) { summaries.append(($0, $1)) }
        for (r, n) in summaries { log(.warning, dropSummary(r, n)) }
        guard show else { return }
        log(level, "dropped \(type?.rawValue ?? "a message") from \(peer?.description ?? "unknown peer") (\(reason.rawValue)): \(why)")
    }

    func dropSummary(_ reason: DropReason, _ n: Int) -> String {
        "\(n) more message(s) dropped as \(reason.rawValue) in the last \(Int(dropLog.window)) s (not logged one by one)"
    }

    /// A message over `--max-message-bytes`: dropped; a request whose header
    /// could be read is told why (a SUBMIT that big never waits for "no reply").
    func onOversize(bytes: Int, type: MessageType?, reply: ReplyTarget?, peer: Sender?, now: Double) {
        let why = "\(type?.rawValue ?? "a message") of \(bytes) bytes is over the coordinator's limit of \(config.maxMessageBytes) bytes (--max-message-bytes)"
        drop(.oversize, type, peer: peer, now: now, why: why)
        // Answered only where a request would be: from a client key still authorized, with CURVE.
        if config.authenticated {
            guard peer?.role == .client, let key = peer?.key, authorizedKeys?.clients.contains(key) ?? true else { return }
        }
        if let reply, type?.isRequest == true { actions.append(.reply(reply, .failure(why))) }
    }
}

extension MessageType {
    /// Client requests, answered with a REPLY.
    var isRequest: Bool { self == .submit || self == .query || self == .control || self == .status }
}
