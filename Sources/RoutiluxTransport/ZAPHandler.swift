import CZMQ
import Foundation
import Logging
import Synchronization

/// The process's ZAP handler (ZeroMQ's authentication protocol, RFC 27): every
/// CURVE server socket's handshake asks it whether the client's key may in. Its
/// own thread owns the REP socket on `inproc://zeromq.zap.01`.
///
/// Domains:
/// - a named policy (`setPolicy`): the key must be in it; the message's User-Id
///   becomes the policy's text for it (the coordinator uses `ROLE:KEY`);
/// - `peer:KEY`: only KEY may in (a link that must reach one known peer).
///
/// Anything else is refused. Each refused key is logged once (with its
/// fingerprint and address) and every refusal is counted.
public final class ZAPHandler: Sendable {
    public static let shared = ZAPHandler()

    private let policies = Mutex<[String: [String: String]]>([:])
    private let refusedKeys = Mutex<Set<String>>([])
    private let refusalCount = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let stopped = DispatchSemaphore(value: 0)

    private init() {
        _ = ZMQRuntime.initialized
        let started = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in self.serve(started) }
        thread.name = "routilux-zap"
        thread.stackSize = 1 << 20
        thread.start()
        started.wait()
        // At exit the socket is closed first, so CZMQ's own clean-up finds nothing dangling.
        atexit { ZAPHandler.shared.stop() }
    }

    private func stop() {
        stopping.store(true, ordering: .releasing)
        _ = stopped.wait(timeout: .now() + .milliseconds(500))
    }

    /// Connections refused so far.
    public var refusals: Int { refusalCount.load(ordering: .relaxed) }

    /// Sets (replaces) the keys a domain lets in: key (Z85) → User-Id text.
    public func setPolicy(domain: String, allow: [String: String]) {
        policies.withLock { $0[domain] = allow }
    }

    /// The domain of a link that only `key` may take.
    public static func peerDomain(_ key: String) -> String { "peer:" + key }

    private func decide(domain: String, key: String) -> String? {
        if domain.hasPrefix("peer:") { return domain.dropFirst(5) == key ? key : nil }
        return policies.withLock { $0[domain]?[key] }
    }

    private func serve(_ started: DispatchSemaphore) {
        let logger = Logger(label: "routilux.zap")
        let socket = zsock_new(ZMQ_REP)
        let raw = UnsafeMutableRawPointer(socket)
        if socket == nil || zmq_bind(zsock_resolve(raw), "inproc://zeromq.zap.01") != 0 {
            // Without a handler libzmq would let every key in; servers enforce the domain, so they refuse all instead.
            logger.critical("cannot start the ZAP handler: \(ZMQRuntime.lastError); every CURVE connection will be refused")
            started.signal()
            return
        }
        started.signal()
        var s: OpaquePointer? = socket
        defer {
            zsock_destroy(&s)
            stopped.signal()
        }
        zsock_set_rcvtimeo(raw, 100)
        // Once per key, and at most 5 lines every 10 s: fresh keys cannot flood the log.
        var lines = RateLimitedLog<Int>()
        let summary = { (_: Int, n: Int) in logger.warning("refused \(n) more key(s) in the last 10 s (not logged one by one)") }
        while !stopping.load(ordering: .acquiring) {
            // The summary of a window with unlogged refusals comes when the window ends, not with the next refusal.
            lines.flush(now: Date().timeIntervalSince1970, summary)
            var request: OpaquePointer? = zmsg_recv(raw)
            guard request != nil else { continue }
            defer { zmsg_destroy(&request) }
            var parts: [[UInt8]] = []
            var f = zmsg_first(request)
            while let frame = f {
                let n = zframe_size(frame)
                parts.append(n > 0 ? Array(UnsafeBufferPointer(start: zframe_data(frame), count: n)) : [])
                f = zmsg_next(request)
            }
            // version, request id, domain, address, identity, mechanism, credentials...
            guard parts.count >= 6 else { continue }
            let text = { (i: Int) in String(decoding: parts[i], as: UTF8.self) }
            let requestId = parts[1]
            let domain = text(2)
            let address = text(3)
            let mechanism = text(5)
            var key = ""
            var userId: String?
            if mechanism == "CURVE", parts.count >= 7, parts[6].count == 32 {
                var z85 = [CChar](repeating: 0, count: 41)
                parts[6].withUnsafeBufferPointer { _ = zmq_z85_encode(&z85, $0.baseAddress, 32) }
                key = String(decoding: z85.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                userId = decide(domain: domain, key: key)
            }
            if userId == nil {
                refusalCount.add(1, ordering: .relaxed)
                let first = refusedKeys.withLock { set -> Bool in
                    if set.count > 10_000 { set.removeAll() }
                    return set.insert(key + "|" + domain).inserted
                }
                if first, lines.shouldLog(0, now: Date().timeIntervalSince1970, summary: summary) {
                    let who = key.isEmpty ? "a \(mechanism) peer without a CURVE key" : "key \(CurveCertificates.fingerprint(key))"
                    logger.warning("refused \(who) from \(address) (\(domain.hasPrefix("peer:") ? "not the expected peer" : "not in --authorized-keys"))")
                }
            }
            guard let reply = zmsg_new() else { continue }
            var r: OpaquePointer? = reply
            zmsg_addstr(reply, "1.0")
            requestId.withUnsafeBufferPointer { _ = zmsg_addmem(reply, $0.baseAddress, $0.count) }
            zmsg_addstr(reply, userId == nil ? "400" : "200")
            zmsg_addstr(reply, userId == nil ? "key not authorized" : "OK")
            zmsg_addstr(reply, userId ?? "")
            _ = zmsg_addmem(reply, nil, 0)
            zmsg_send(&r, raw)
        }
    }
}
