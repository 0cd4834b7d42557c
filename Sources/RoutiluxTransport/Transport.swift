import CZMQ
import DequeModule
import Foundation
import Logging
import Synchronization

/// One received message: its frames, the sending peer's address when known,
/// and with CURVE the User-Id the ZAP handler gave its key.
public struct InboundMessage: Sendable {
    public var frames: [[UInt8]]
    public var peerAddress: String?
    public var userId: String?
    /// Set when the message was over the size limit: its size. `frames` then
    /// holds only its tag and (when small) its header, for a clear answer.
    public var oversizeBytes: Int?
    public init(frames: [[UInt8]], peerAddress: String? = nil, userId: String? = nil, oversizeBytes: Int? = nil) {
        self.frames = frames
        self.peerAddress = peerAddress
        self.userId = userId
        self.oversizeBytes = oversizeBytes
    }
}

/// The Swift face of CZMQ. One dedicated I/O thread creates, uses and closes
/// every ZeroMQ socket of this transport; other code talks to it through a
/// command queue that wakes the thread, and receives through `inbound`.
/// Nothing here blocks a Swift concurrency thread.
///
/// Sockets: PULL inboxes (bound) and one PUSH per named peer (connected).
/// Sends never block the I/O thread: a message a full pipe refuses waits in a
/// per-peer queue, in order, until the pipe drains.
public final class Transport: Sendable {
    enum Command: @unchecked Sendable {
        case bind(String, SocketOptions, CheckedContinuation<String, any Error>)
        case connect(peer: String, endpoint: String, SocketOptions, replace: Bool)
        case disconnect(peer: String, lingerMs: Int32?)
        case batch(peer: String, Batching?)
        case call(@Sendable () -> Void)
        case send(peer: String, frames: [[UInt8]])
        case stop(CheckedContinuation<Void, Never>?, drainFor: Double)
    }

    /// Received messages, in batches (everything one wake-up of the I/O thread
    /// found). Empty when the transport was made with a `sink`.
    public let inbound: AsyncStream<[InboundMessage]>
    private let inboundContinuation: AsyncStream<[InboundMessage]>.Continuation
    private let sink: (@Sendable ([InboundMessage]) -> Void)?
    /// Commands for the I/O thread, and whether it has ended (then nothing reads them any more).
    private let queue = Mutex<(commands: Deque<Command>, ended: Bool)>(([], false))
    private let signalled = Atomic<Bool>(false)
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let stopped = Atomic<Bool>(false)
    private let name: String
    public let limits: TransportLimits
    private let failedHandshakes = Atomic<Int>(0)
    /// Bytes handed to the owner and not yet marked `consumed`: while over
    /// `limits.maxInboundBacklogBytes` the inboxes are not read, so libzmq's
    /// receive high-water mark pushes back on the senders (only when the owner
    /// reports what it consumed; a transport whose owner never does is unbounded).
    private let backlog = Atomic<Int>(0)
    private let tracksBacklog: Bool

    /// CURVE handshakes that failed on this transport's inboxes (plaintext peers,
    /// unknown or refused keys): libzmq reports them without the peer's address.
    public var handshakesFailed: Int { failedHandshakes.load(ordering: .relaxed) }
    fileprivate func countHandshakeFailure() { failedHandshakes.add(1, ordering: .relaxed) }

    /// `sink`, if given, receives every batch directly on the I/O thread (it
    /// must not block: typically it yields into the owner's own stream, saving a hop).
    /// `tracksBacklog`: the owner calls `consumed(_:)` for every batch it has handled.
    public init(
        name: String, limits: TransportLimits = .standard, tracksBacklog: Bool = false, sink: (@Sendable ([InboundMessage]) -> Void)? = nil
    ) {
        _ = ZMQRuntime.initialized
        self.name = name
        self.limits = limits
        self.tracksBacklog = tracksBacklog
        self.sink = sink
        var fds: [Int32] = [0, 0]
        if pipe(&fds) != 0 { fatalError("pipe() failed: \(errno)") }
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        wakeRead = fds[0]
        wakeWrite = fds[1]
        (inbound, inboundContinuation) = AsyncStream.makeStream(of: [InboundMessage].self, bufferingPolicy: .unbounded)
        let loop = IOLoop(transport: self)
        let thread = Thread { loop.run() }
        thread.name = "routilux-io-\(name)"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Binds a PULL inbox; returns the actual endpoint (ports resolved for `tcp://host:*`).
    public func bindInbox(_ endpoint: String, options: SocketOptions = .standard) async throws -> String {
        try await withCheckedThrowingContinuation { c in post(.bind(endpoint, options, c)) }
    }

    /// Opens (or, with `replace`, replaces) the PUSH link named `peer`, connected
    /// to `endpoint`. Without `replace` an existing link to the same endpoint is
    /// kept as it is, with what is queued on it.
    public func connect(peer: String, endpoint: String, options: SocketOptions = .standard, replace: Bool = true) {
        post(.connect(peer: peer, endpoint: endpoint, options, replace: replace))
    }

    /// Runs `work` on the I/O thread, in order with the other commands (what it sends is queued
    /// there and leaves at the next wake-up). It must not block: the I/O thread serves every socket.
    public func call(_ work: @escaping @Sendable () -> Void) { post(.call(work)) }

    /// Changes how the link to `peer` batches (from its next message on).
    public func setBatching(peer: String, _ batching: Batching?) { post(.batch(peer: peer, batching)) }

    /// Closes the link to `peer`. With `lingerMs`, messages already queued get
    /// that long to leave; otherwise the link's own linger applies.
    public func disconnect(peer: String, lingerMs: Int32? = nil) { post(.disconnect(peer: peer, lingerMs: lingerMs)) }

    /// Queues a message for `peer`. Returns at once.
    public func send(to peer: String, frames: [[UInt8]]) { post(.send(peer: peer, frames: frames)) }

    /// Queues several messages, in order, with one wake-up of the I/O thread (so that a
    /// batching link sends them together).
    public func send(_ messages: [(peer: String, frames: [[UInt8]])]) {
        guard !messages.isEmpty else { return }
        let accepted = queue.withLock { q -> Bool in
            if q.ended { return false }  // nothing is sent any more
            for m in messages { q.commands.append(.send(peer: m.peer, frames: m.frames)) }
            return true
        }
        if accepted { wake() }
    }

    /// Closes every socket and ends the I/O thread (lingering sockets get their linger time).
    /// `drainingFor`: first, up to that many seconds for messages still waiting for their link to connect.
    public func shutdown(drainingFor seconds: Double = 0) async {
        if stopped.exchange(true, ordering: .acquiringAndReleasing) { return }
        await withCheckedContinuation { c in post(.stop(c, drainFor: seconds)) }
    }

    private func post(_ c: Command) {
        // Once the I/O thread has ended, a call runs here (what it sends goes nowhere) and a
        // bind fails, so nobody waits for a thread that is gone.
        let accepted = queue.withLock { q -> Bool in
            if q.ended { return false }
            q.commands.append(c)
            return true
        }
        if accepted { wake() } else { refuse(c) }
    }

    /// A command that came after the I/O thread ended.
    fileprivate func refuse(_ c: Command) {
        switch c {
        case .call(let work): work()
        case .bind(let ep, _, let cont): cont.resume(throwing: TransportError(endpoint: ep, reason: "the transport is shut down"))
        case .stop(let cont, _): cont?.resume()
        default: break
        }
    }

    /// The I/O thread is ending: from now on commands are refused at once; those still queued are returned.
    fileprivate func endCommands() -> Deque<Command> {
        queue.withLock { q in
            q.ended = true
            let out = q.commands
            q.commands.removeAll()
            return out
        }
    }

    private func wake() {
        if !signalled.exchange(true, ordering: .acquiringAndReleasing) {
            var b: UInt8 = 1
            _ = write(wakeWrite, &b, 1)
        }
    }

    fileprivate func takeCommands() -> Deque<Command> {
        var drained: [UInt8] = Array(repeating: 0, count: 64)
        while read(wakeRead, &drained, 64) > 0 {}
        signalled.store(false, ordering: .releasing)
        return queue.withLock { q in
            let out = q.commands
            q.commands.removeAll()
            return out
        }
    }

    /// The owner has handled `batch`: its bytes leave the backlog (reading resumes below the bound).
    public func consumed(_ batch: [InboundMessage]) {
        guard tracksBacklog else { return }
        let n = Self.size(of: batch)
        let before = backlog.subtract(n, ordering: .acquiringAndReleasing).oldValue
        if before > limits.maxInboundBacklogBytes && before - n <= limits.maxInboundBacklogBytes { wake() }
    }

    static func size(of batch: [InboundMessage]) -> Int {
        batch.reduce(0) { total, m in m.frames.reduce(total) { $0 + $1.count } }
    }

    /// Whether the inboxes should be read now (with `adding` bytes read but not yet handed over).
    fileprivate func readingInboxes(adding pending: Int = 0) -> Bool {
        !tracksBacklog || backlog.load(ordering: .acquiring) + pending <= limits.maxInboundBacklogBytes
    }

    fileprivate func deliver(_ batch: [InboundMessage]) {
        if tracksBacklog { backlog.add(Self.size(of: batch), ordering: .acquiringAndReleasing) }
        if let sink { sink(batch) } else { inboundContinuation.yield(batch) }
    }
    fileprivate func finish() {
        inboundContinuation.finish()
        close(wakeRead)
        close(wakeWrite)
    }
    fileprivate var wakeFD: Int32 { wakeRead }
    fileprivate var logName: String { name }
}

/// State owned by the I/O thread alone.
private final class IOLoop: @unchecked Sendable {
    struct Peer {
        var socket: OpaquePointer?
        var endpoint: String
        var pending: Deque<[[UInt8]]> = []
        var pendingBytes = 0
        /// Whether libzmq ever took a message for it (else closing it leaves nothing to linger for).
        var sentAny = false
        var essential = true
        var batching: Batching?
        /// Messages of this wake-up not yet sent (batching links only).
        var unbatched: [[[UInt8]]] = []
    }

    /// Strong: the loop runs until `.stop`, even if every other reference is gone.
    let transport: Transport
    var inboxes: [OpaquePointer?] = []
    /// Monitors of CURVE inboxes (PAIR sockets receiving libzmq's socket events).
    var monitors: [OpaquePointer?] = []
    var lastHandshakeWarning = -Double.infinity
    var handshakesSinceWarning = 0
    var peers: [String: Peer] = [:]
    var logger: Logger
    /// When each closed socket's linger ends (it holds its slot until then).
    var lingeringUntil: [Double] = []
    /// Bytes waiting in the queues of links that are not essential (bounded as a whole, so
    /// requesters cannot use up memory; worker links have only their own bound).
    var pendingBytesTotal = 0
    var refusedLinks = 0
    var droppedSends = 0
    var lastWarning = -Double.infinity
    /// Batching links with messages of this wake-up waiting (sent once the commands are read).
    var withUnbatched: [String] = []

    init(transport: Transport) {
        self.transport = transport
        logger = Logger(label: "routilux.transport")
    }

    var now: Double { Date().timeIntervalSince1970 }

    /// Whether one more socket fits under `maxSockets` (lingering closed ones count); a
    /// link that is not `essential` leaves the last `reservedSockets` to those that are.
    func roomForSocket(essential: Bool = true) -> Bool {
        let t = now
        lingeringUntil.removeAll { $0 <= t }
        let cap = transport.limits.maxSockets - (essential ? 0 : transport.limits.reservedSockets)
        return inboxes.count + monitors.count + peers.count + lingeringUntil.count < cap
    }

    /// Logs at most once every 10 s how many links were refused and sends dropped.
    func warnRateLimited(_ text: @autoclosure () -> String) {
        let t = now
        guard t - lastWarning >= 10 else { return }
        lastWarning = t
        logger.warning("\(text()) (\(refusedLinks) link(s) refused at the socket cap of \(transport.limits.maxSockets), \(droppedSends) message(s) dropped for want of a link so far)")
    }

    func configure(_ s: OpaquePointer?, _ o: SocketOptions) {
        let raw = UnsafeMutableRawPointer(s)
        zsock_set_linger(raw, o.lingerMs)
        zsock_set_sndhwm(raw, o.sendHighWaterMark)
        zsock_set_rcvhwm(raw, o.receiveHighWaterMark)
        // The hard bound per frame (libzmq drops the connection of a peer that sends a bigger
        // one); the limit on a whole message is checked on receipt, loudly, and a request up to
        // twice over it still gets its answer. (libzmq bounds frames, not their number: an
        // unterminated multipart message from a connected peer is buffered whole; see PROTOCOL.md §9.)
        var max = Int64(transport.limits.maxMessageBytes) * 2 + (1 << 20)
        _ = zmq_setsockopt(zsock_resolve(raw), ZMQ_MAXMSGSIZE, &max, MemoryLayout<Int64>.size)
        switch o.curve {
        case .server(let keys, let domain)?:
            _ = ZAPHandler.shared  // running before the first handshake
            var enforce: Int32 = 1
            _ = zmq_setsockopt(zsock_resolve(raw), 93 /* ZMQ_ZAP_ENFORCE_DOMAIN */, &enforce, MemoryLayout<Int32>.size)
            zsock_set_zap_domain(raw, domain)
            zsock_set_curve_server(raw, 1)
            zsock_set_curve_publickey(raw, keys.publicKey)
            zsock_set_curve_secretkey(raw, keys.secretKey)
        case .client(let keys, let serverKey)?:
            zsock_set_curve_publickey(raw, keys.publicKey)
            zsock_set_curve_secretkey(raw, keys.secretKey)
            zsock_set_curve_serverkey(raw, serverKey)
        case nil:
            break
        }
        if o.immediate {
            var on: Int32 = 1
            _ = zmq_setsockopt(zsock_resolve(raw), ZMQ_IMMEDIATE, &on, MemoryLayout<Int32>.size)
        }
        if o.heartbeatIntervalMs > 0 {
            zsock_set_heartbeat_ivl(raw, o.heartbeatIntervalMs)
            zsock_set_heartbeat_timeout(raw, o.heartbeatTimeoutMs)
            zsock_set_heartbeat_ttl(raw, o.heartbeatTimeoutMs)
        }
        zsock_set_rcvtimeo(raw, 0)
        zsock_set_sndtimeo(raw, 0)
    }

    func run() {
        var running = true
        var stopWaiter: CheckedContinuation<Void, Never>?
        var drainUntil = Date.distantPast
        // Ends at a stop, once nothing waits for its link or the drain time is over.
        while true {
            for c in transport.takeCommands() {
                switch c {
                case .bind(let ep, let opts, let cont):
                    guard roomForSocket() else {
                        cont.resume(throwing: TransportError(endpoint: ep, reason: "cannot create socket: \(transport.limits.maxSockets) sockets are open"))
                        continue
                    }
                    let s = zsock_new(ZMQ_PULL)
                    guard s != nil else {
                        cont.resume(throwing: TransportError(endpoint: ep, reason: "cannot create socket: \(ZMQRuntime.lastError)"))
                        continue
                    }
                    configure(s, opts)
                    if zmq_bind(zsock_resolve(UnsafeMutableRawPointer(s)), ep) != 0 {
                        let reason = ZMQRuntime.lastError
                        var sp = s
                        zsock_destroy(&sp)
                        cont.resume(throwing: TransportError(endpoint: ep, reason: "cannot bind: \(reason)"))
                        continue
                    }
                    var actual = ep
                    if let p = zsock_last_endpoint(UnsafeMutableRawPointer(s)) {
                        actual = String(cString: p)
                        free(p)
                    }
                    inboxes.append(s)
                    if case .server? = opts.curve { watchHandshakes(s) }
                    cont.resume(returning: actual)
                case .connect(let peer, let ep, let opts, let replace):
                    if !replace, peers[peer]?.endpoint == ep { continue }
                    sendUnbatched(peer)  // what was queued before the new link goes on the old one
                    closePeer(peer)
                    guard roomForSocket(essential: opts.essential) else {
                        refusedLinks += 1
                        warnRateLimited("cannot open a link to \(peer) at \(ep): the socket cap is reached")
                        continue
                    }
                    let s = zsock_new(ZMQ_PUSH)
                    guard s != nil else {
                        logger.error("cannot create PUSH socket for \(peer): \(ZMQRuntime.lastError)")
                        continue
                    }
                    configure(s, opts)
                    if zmq_connect(zsock_resolve(UnsafeMutableRawPointer(s)), ep) != 0 {
                        logger.error("cannot connect to \(peer) at \(ep): \(ZMQRuntime.lastError)")
                        var sp = s
                        zsock_destroy(&sp)
                        continue
                    }
                    peers[peer] = Peer(socket: s, endpoint: ep, essential: opts.essential, batching: opts.batching)
                case .call(let work):
                    work()
                case .batch(let peer, let b):
                    sendUnbatched(peer)
                    peers[peer]?.batching = b
                case .disconnect(let peer, let lingerMs):
                    sendUnbatched(peer)
                    if let lingerMs, let s = peers[peer]?.socket {
                        flushPending()
                        zsock_set_linger(UnsafeMutableRawPointer(s), lingerMs)
                    }
                    closePeer(peer)
                case .send(let peer, let frames):
                    if peers[peer]?.batching != nil {
                        // Held until every command of this wake-up is read, then sent in batches.
                        peers[peer]!.unbatched.append(frames)
                        if peers[peer]!.unbatched.count == 1 { withUnbatched.append(peer) }
                        continue
                    }
                    enqueue(frames, to: peer)
                case .stop(let w, let drainFor):
                    for p in withUnbatched { sendUnbatched(p) }
                    withUnbatched.removeAll()
                    running = false
                    stopWaiter = w
                    drainUntil = Date().addingTimeInterval(drainFor)
                    flushPending()  // what the pipes take now still leaves (lingering links keep it)
                }
            }
            for p in withUnbatched { sendUnbatched(p) }
            withUnbatched.removeAll()
            if !running && (Date() >= drainUntil || !peers.values.contains { !$0.pending.isEmpty }) { break }
            flushPending()
            poll()
        }
        for k in Array(peers.keys) { closePeer(k) }
        for var s in inboxes { zsock_destroy(&s) }
        inboxes.removeAll()
        for var m in monitors { zsock_destroy(&m) }
        monitors.removeAll()
        // What was posted after the last drain: calls still run (their continuations resume), the rest is refused.
        for c in transport.endCommands() { transport.refuse(c) }
        transport.finish()
        stopWaiter?.resume()
    }

    /// Counts (and logs, at most every 10 s) failed handshakes on a CURVE inbox.
    func watchHandshakes(_ s: OpaquePointer?) {
        let endpoint = "inproc://routilux-monitor-\(transport.logName)-\(UInt64.random(in: 0...UInt64.max))"
        let events = Int32(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        guard zmq_socket_monitor(zsock_resolve(UnsafeMutableRawPointer(s)), endpoint, events) == 0 else {
            logger.warning("cannot watch CURVE handshakes: \(ZMQRuntime.lastError)")
            return
        }
        let pair = zsock_new(ZMQ_PAIR)
        guard pair != nil, zmq_connect(zsock_resolve(UnsafeMutableRawPointer(pair)), endpoint) == 0 else { return }
        zsock_set_rcvtimeo(UnsafeMutableRawPointer(pair), 0)
        monitors.append(pair)
    }

    func readMonitor(_ m: OpaquePointer?) {
        while true {
            var msg: OpaquePointer? = zmsg_recv(UnsafeMutableRawPointer(m))
            guard msg != nil else { return }
            zmsg_destroy(&msg)
            transport.countHandshakeFailure()
            handshakesSinceWarning += 1
        }
    }

    func warnHandshakes() {
        guard handshakesSinceWarning > 0, now - lastHandshakeWarning >= 10 else { return }
        logger.warning("\(handshakesSinceWarning) CURVE handshake(s) failed on the inbox since the last report (plaintext peers, or keys that are not authorized; \(transport.handshakesFailed) in all)")
        handshakesSinceWarning = 0
        lastHandshakeWarning = now
    }

    func closePeer(_ peer: String) {
        guard var p = peers.removeValue(forKey: peer) else { return }
        if !p.essential { pendingBytesTotal -= p.pendingBytes }
        if !p.sentAny { zsock_set_linger(UnsafeMutableRawPointer(p.socket), 0) }
        let linger = zsock_linger(UnsafeMutableRawPointer(p.socket))
        if linger > 0 { lingeringUntil.append(now + Double(linger) / 1000) }
        zsock_destroy(&p.socket)
    }

    /// Sends (or queues, behind what already waits) one message to `peer`; beyond the
    /// per-link bounds it is dropped and counted.
    func enqueue(_ frames: [[UInt8]], to peer: String, messages: Int = 1) {
        guard peers[peer] != nil else {
            droppedSends += messages
            warnRateLimited("dropping a message for \(peer): no link")
            return
        }
        if peers[peer]!.pending.isEmpty, trySend(peers[peer]!.socket, frames) {
            peers[peer]!.sentAny = true
            return
        }
        // What waits for a slow or absent peer is bounded: beyond, it is dropped and counted.
        let size = frames.reduce(0) { $0 + $1.count }
        let perPeer = peers[peer]!.essential ? transport.limits.maxPendingBytes : 2 * transport.limits.maxMessageBytes
        if peers[peer]!.pending.count >= transport.limits.maxPendingMessages
            || peers[peer]!.pendingBytes + size > perPeer
            || (!peers[peer]!.essential && pendingBytesTotal + size > transport.limits.maxPendingBytesTotal)
        {
            droppedSends += messages
            warnRateLimited("dropping \(messages == 1 ? "a message" : "a batch of \(messages) messages") for \(peer): \(peers[peer]!.pending.count) message(s), \(peers[peer]!.pendingBytes) bytes already wait for it")
            return
        }
        peers[peer]!.pending.append(frames)
        peers[peer]!.pendingBytes += size
        if !peers[peer]!.essential { pendingBytesTotal += size }
    }

    /// Sends what this wake-up queued to a batching link: in order, packed into batches within
    /// its bounds (a lone message, or one over the byte bound, goes as itself).
    func sendUnbatched(_ peer: String) {
        guard let b = peers[peer]?.batching, !peers[peer]!.unbatched.isEmpty else { return }
        let messages = peers[peer]!.unbatched
        peers[peer]!.unbatched = []
        var group: [[[UInt8]]] = []
        var groupBytes = 0
        func flush() {
            if group.count == 1 { enqueue(group[0], to: peer) } else if !group.isEmpty { enqueue(b.pack(group), to: peer, messages: group.count) }
            group.removeAll(keepingCapacity: true)
            groupBytes = 0
        }
        for m in messages {
            let size = m.reduce(16) { $0 + $1.count + 8 }  // with room for its entry in the batch header
            if !group.isEmpty && (group.count >= b.maxMessages || groupBytes + size > b.maxBytes) { flush() }
            group.append(m)
            groupBytes += size
        }
        flush()
    }

    /// Sends a multipart message without blocking; false if the pipe is full.
    func trySend(_ s: OpaquePointer?, _ frames: [[UInt8]]) -> Bool {
        let raw = zsock_resolve(UnsafeMutableRawPointer(s))
        for (i, f) in frames.enumerated() {
            let more = i < frames.count - 1
            let flags = (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT
            let rc = f.withUnsafeBytes { zmq_send(raw, $0.baseAddress, $0.count, flags) }
            if rc < 0 {
                // Only the first frame can be refused: multipart messages are atomic.
                if i == 0 && zmq_errno() == EAGAIN { return false }
                if zmq_errno() == EAGAIN { continue }
                logger.error("send failed: \(ZMQRuntime.lastError)")
                return true
            }
        }
        return true
    }

    func flushPending() {
        // The keys first: changing a value while iterating the dictionary would copy it each time.
        let waiting = peers.compactMap { $0.value.pending.isEmpty ? nil : $0.key }
        for key in waiting {
            while let first = peers[key]!.pending.first {
                guard trySend(peers[key]!.socket, first) else { break }
                peers[key]!.sentAny = true
                peers[key]!.pending.removeFirst()
                let n = first.reduce(0) { $0 + $1.count }
                peers[key]!.pendingBytes -= n
                if !peers[key]!.essential { pendingBytesTotal -= n }
            }
        }
    }

    func poll() {
        if !monitors.isEmpty { warnHandshakes() }
        var items: [zmq_pollitem_t] = []
        items.append(zmq_pollitem_t(socket: nil, fd: transport.wakeFD, events: Int16(ZMQ_POLLIN), revents: 0))
        // Over the backlog bound the inboxes are left unread (poll for nothing on them): senders feel it.
        let reading = transport.readingInboxes()
        for s in inboxes {
            items.append(zmq_pollitem_t(socket: zsock_resolve(UnsafeMutableRawPointer(s)), fd: 0, events: Int16(reading ? ZMQ_POLLIN : 0), revents: 0))
        }
        for m in monitors {
            items.append(zmq_pollitem_t(socket: zsock_resolve(UnsafeMutableRawPointer(m)), fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
        }
        let hasPending = peers.values.contains { !$0.pending.isEmpty }
        // Pending sends are retried on a short timer rather than POLLOUT (PUSH
        // signals POLLOUT when any pipe has room, which is good enough here).
        let rc = zmq_poll(&items, Int32(items.count), hasPending ? 5 : 1000)
        if rc <= 0 { return }
        for (i, s) in inboxes.enumerated() where reading && items[i + 1].revents & Int16(ZMQ_POLLIN) != 0 {
            receiveAll(s)
        }
        for (i, m) in monitors.enumerated() where items[inboxes.count + i + 1].revents & Int16(ZMQ_POLLIN) != 0 {
            readMonitor(m)
        }

    }

    func receiveAll(_ s: OpaquePointer?) {
        var batch: [InboundMessage] = []
        defer { if !batch.isEmpty { transport.deliver(batch) } }
        let limit = transport.limits.maxMessageBytes
        var batchBytes = 0
        for _ in 0..<4096 {
            // Over the backlog bound, the rest stays in libzmq (its high-water mark then pushes back).
            if !transport.readingInboxes(adding: batchBytes) { return }
            var msg: OpaquePointer? = zmsg_recv(UnsafeMutableRawPointer(s))
            guard msg != nil else { return }
            defer { zmsg_destroy(&msg) }
            let total = zmsg_content_size(msg)
            batchBytes += total
            var frames: [[UInt8]] = []
            frames.reserveCapacity(Int(zmsg_size(msg)))
            var peer: String?
            var userId: String?
            var f = zmsg_first(msg)
            if let first = f {
                if let a = zframe_meta(first, "Peer-Address") { peer = String(cString: a) }
                if let u = zframe_meta(first, "User-Id"), u.pointee != 0 { userId = String(cString: u) }
            }
            if total > limit {
                // Only the tag and a small header are kept: enough to say who sent what, and to answer a request.
                while let frame = f, frames.count < 2 {
                    let n = zframe_size(frame)
                    if n > 64 << 10 { break }
                    frames.append(n > 0 ? Array(UnsafeBufferPointer(start: zframe_data(frame), count: n)) : [])
                    f = zmsg_next(msg)
                }
                batch.append(InboundMessage(frames: frames, peerAddress: peer, userId: userId, oversizeBytes: total))
                continue
            }
            while let frame = f {
                let n = zframe_size(frame)
                if let d = zframe_data(frame), n > 0 {
                    frames.append(Array(UnsafeBufferPointer(start: d, count: n)))
                } else {
                    frames.append([])
                }
                f = zmsg_next(msg)
            }
            batch.append(InboundMessage(frames: frames, peerAddress: peer, userId: userId))
        }
    }
}
