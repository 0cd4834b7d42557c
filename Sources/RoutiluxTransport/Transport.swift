import CZMQ
import DequeModule
import Foundation
import Logging
import Synchronization

/// One received message: its frames, and the sending peer's address when known.
public struct InboundMessage: Sendable {
    public var frames: [[UInt8]]
    public var peerAddress: String?
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
        case connect(peer: String, endpoint: String, SocketOptions)
        case disconnect(peer: String, lingerMs: Int32?)
        case send(peer: String, frames: [[UInt8]])
        case stop(CheckedContinuation<Void, Never>?)
    }

    /// Received messages, in batches (everything one wake-up of the I/O thread
    /// found). Empty when the transport was made with a `sink`.
    public let inbound: AsyncStream<[InboundMessage]>
    private let inboundContinuation: AsyncStream<[InboundMessage]>.Continuation
    private let sink: (@Sendable ([InboundMessage]) -> Void)?
    private let queue = Mutex<Deque<Command>>([])
    private let signalled = Atomic<Bool>(false)
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let stopped = Atomic<Bool>(false)
    private let name: String

    /// `sink`, if given, receives every batch directly on the I/O thread (it
    /// must not block: typically it yields into the owner's own stream, saving a hop).
    public init(name: String, sink: (@Sendable ([InboundMessage]) -> Void)? = nil) {
        _ = ZMQRuntime.initialized
        self.name = name
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

    /// Opens (or replaces) the PUSH link named `peer`, connected to `endpoint`.
    public func connect(peer: String, endpoint: String, options: SocketOptions = .standard) {
        post(.connect(peer: peer, endpoint: endpoint, options))
    }

    /// Closes the link to `peer`. With `lingerMs`, messages already queued get
    /// that long to leave; otherwise the link's own linger applies.
    public func disconnect(peer: String, lingerMs: Int32? = nil) { post(.disconnect(peer: peer, lingerMs: lingerMs)) }

    /// Queues a message for `peer`. Returns at once.
    public func send(to peer: String, frames: [[UInt8]]) { post(.send(peer: peer, frames: frames)) }

    /// Closes every socket and ends the I/O thread (lingering sockets get their linger time).
    public func shutdown() async {
        if stopped.exchange(true, ordering: .acquiringAndReleasing) { return }
        await withCheckedContinuation { c in post(.stop(c)) }
    }

    private func post(_ c: Command) {
        queue.withLock { $0.append(c) }
        wake()
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
            let out = q
            q.removeAll()
            return out
        }
    }

    fileprivate func deliver(_ batch: [InboundMessage]) {
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
    }

    /// Strong: the loop runs until `.stop`, even if every other reference is gone.
    let transport: Transport
    var inboxes: [OpaquePointer?] = []
    var peers: [String: Peer] = [:]
    var logger: Logger

    init(transport: Transport) {
        self.transport = transport
        logger = Logger(label: "routilux.transport")
    }

    func configure(_ s: OpaquePointer?, _ o: SocketOptions) {
        let raw = UnsafeMutableRawPointer(s)
        zsock_set_linger(raw, o.lingerMs)
        zsock_set_sndhwm(raw, o.sendHighWaterMark)
        zsock_set_rcvhwm(raw, o.receiveHighWaterMark)
        var max = o.maxMessageBytes
        _ = zmq_setsockopt(zsock_resolve(raw), ZMQ_MAXMSGSIZE, &max, MemoryLayout<Int64>.size)
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
        while running {
            for c in transport.takeCommands() {
                switch c {
                case .bind(let ep, let opts, let cont):
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
                    cont.resume(returning: actual)
                case .connect(let peer, let ep, let opts):
                    closePeer(peer)
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
                    peers[peer] = Peer(socket: s, endpoint: ep)
                case .disconnect(let peer, let lingerMs):
                    if let lingerMs, let s = peers[peer]?.socket {
                        flushPending()
                        zsock_set_linger(UnsafeMutableRawPointer(s), lingerMs)
                    }
                    closePeer(peer)
                case .send(let peer, let frames):
                    guard peers[peer] != nil else {
                        logger.warning("dropping a message for unknown peer \(peer)")
                        continue
                    }
                    if peers[peer]!.pending.isEmpty, trySend(peers[peer]!.socket, frames) {
                        continue
                    }
                    peers[peer]!.pending.append(frames)
                case .stop(let w):
                    running = false
                    stopWaiter = w
                    flushPending()  // what the pipes take now still leaves (lingering links keep it)
                }
            }
            if !running { break }
            flushPending()
            poll()
        }
        for k in Array(peers.keys) { closePeer(k) }
        for var s in inboxes { zsock_destroy(&s) }
        inboxes.removeAll()
        transport.finish()
        stopWaiter?.resume()
    }

    func closePeer(_ peer: String) {
        guard var p = peers.removeValue(forKey: peer) else { return }
        zsock_destroy(&p.socket)
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
        for key in peers.keys where !peers[key]!.pending.isEmpty {
            while let first = peers[key]!.pending.first {
                if trySend(peers[key]!.socket, first) { peers[key]!.pending.removeFirst() } else { break }
            }
        }
    }

    func poll() {
        var items: [zmq_pollitem_t] = []
        items.append(zmq_pollitem_t(socket: nil, fd: transport.wakeFD, events: Int16(ZMQ_POLLIN), revents: 0))
        for s in inboxes {
            items.append(zmq_pollitem_t(socket: zsock_resolve(UnsafeMutableRawPointer(s)), fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
        }
        let hasPending = peers.values.contains { !$0.pending.isEmpty }
        // Pending sends are retried on a short timer rather than POLLOUT (PUSH
        // signals POLLOUT when any pipe has room, which is good enough here).
        let rc = zmq_poll(&items, Int32(items.count), hasPending ? 5 : 1000)
        if rc <= 0 { return }
        for (i, s) in inboxes.enumerated() where items[i + 1].revents & Int16(ZMQ_POLLIN) != 0 {
            receiveAll(s)
        }
    }

    func receiveAll(_ s: OpaquePointer?) {
        var batch: [InboundMessage] = []
        defer { if !batch.isEmpty { transport.deliver(batch) } }
        for _ in 0..<4096 {
            var msg: OpaquePointer? = zmsg_recv(UnsafeMutableRawPointer(s))
            guard msg != nil else { return }
            var frames: [[UInt8]] = []
            frames.reserveCapacity(Int(zmsg_size(msg)))
            var peer: String?
            var f = zmsg_first(msg)
            while let frame = f {
                let n = zframe_size(frame)
                if let d = zframe_data(frame), n > 0 {
                    frames.append(Array(UnsafeBufferPointer(start: d, count: n)))
                } else {
                    frames.append([])
                }
                if peer == nil, let a = zframe_meta(frame, "Peer-Address") { peer = String(cString: a) }
                f = zmsg_next(msg)
            }
            zmsg_destroy(&msg)
            batch.append(InboundMessage(frames: frames, peerAddress: peer))
        }
    }
}
