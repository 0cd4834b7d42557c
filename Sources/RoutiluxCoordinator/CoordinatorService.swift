import Foundation
import Logging
import RoutiluxCore
import RoutiluxStore
import RoutiluxTransport
import RoutiluxWire
import Synchronization

/// The coordinator's CURVE set-up: its key pair and the directory of authorized keys.
public struct CoordinatorSecurity: Sendable {
    public var keys: CurveKeyPair
    public var authorizedKeysDir: String
    public init(keys: CurveKeyPair, authorizedKeysDir: String) {
        self.keys = keys
        self.authorizedKeysDir = authorizedKeysDir
    }
}

/// The thin shell around `CoordinatorCore`: it binds the inbox, decodes
/// messages, feeds the core with the time, and carries out its actions on the
/// transport. The core runs on the transport's I/O thread: received messages are
/// handled where they arrive; requests, ticks and commits reach it through one
/// stream and are handed to that thread in order.
///
/// With `security`, every link is CURVE: the inbox lets in only authorized keys
/// (the ZAP handler tags each message with its key's role), and each link to a
/// worker's or client's inbox must reach the key that asked for it.
public final class CoordinatorService: Sendable {
    enum Input: Sendable {
        case inbound([InboundMessage])
        case local(CoordinatorInput, CheckedContinuation<ControlReply, Never>?)
        /// An answer read from the store, to send from the loop.
        case answer(ReplyTarget, ControlReply)
        /// The journal commit in flight is done (nil) or failed (why).
        case committed(String?)
        case tick
        case stop
        /// Nothing: the loop's task looks whether the loop is over (decided on the I/O thread).
        case wake
    }

    public let security: CoordinatorSecurity?
    /// Longest unacknowledged changes wait to be committed (a reply or a job's end commits at once).
    static let commitInterval = 0.05
    /// This process's instance id, in every REPLY (a client tells a restart by it).
    private let instance = String(UUIDString.token().prefix(16))
    /// The ZAP domain of this coordinator's inbox.
    private let zapDomain = "routilux-coordinator-" + UUIDString.token()

    public let transport: Transport
    /// The journal (nil: memory only), and what it held when the process started.
    public let store: JobStore?
    private let restored: StoredState?
    private let failureBox = Mutex<String?>(nil)
    private let inputs: AsyncStream<Input>
    private let inputContinuation: AsyncStream<Input>.Continuation
    private let logger: Logger
    private let makeCore: @Sendable () -> CoordinatorCore
    private let started = Atomic<Bool>(false)
    private let localIds = Atomic<UInt64>(1)
    private let countersBox = Mutex(CoordinatorCounters())
    private let workerCountBox = Mutex(0)
    private let finishedHook = Mutex<(@Sendable (String, JobStatus) -> Void)?>(nil)
    /// The loop's state (nil until `run()` builds it). Once the loop has begun only the transport's
    /// I/O thread uses it (the lock proves as much to the compiler; it is not contended).
    private let loop = Mutex<LoopState?>(nil)
    private let loopOver = Atomic<Bool>(false)
    private let router: InboundRouter
    /// Who waits for a number of joined workers (`waitForWorkers`), and whether the loop has ended.
    private let workerWaiters = Mutex<(waiting: [(id: UInt64, count: Int, continuation: CheckedContinuation<Bool, Never>)], ended: Bool)>(([], false))

    /// `makeCore` builds the core when `run()` starts (the core is not shared: it then runs on the
    /// transport's I/O thread).
    /// With `security`, call `reloadKeys()` before `bind`: until then no key is let in.
    /// With `store`, the core must be made `durable`: each turn's changes are
    /// committed before its actions are carried out, and `restored` (what
    /// `store.load()` read) is handed to the core first.
    public init(
        logger: Logger = Logger(label: "routilux.coordinator"), limits: TransportLimits = .standard, security: CoordinatorSecurity? = nil,
        store: JobStore? = nil, restored: StoredState? = nil, makeCore: @escaping @Sendable () -> CoordinatorCore
    ) {
        self.store = store
        self.restored = restored
        let (inputs, inputContinuation) = AsyncStream.makeStream(of: Input.self, bufferingPolicy: .unbounded)
        self.inputs = inputs
        self.inputContinuation = inputContinuation
        // Received batches go to the loop from the I/O thread (held back until it runs).
        let router = InboundRouter()
        self.router = router
        transport = Transport(name: "coordinator", limits: limits, tracksBacklog: true) { batch in router.route(batch) }
        self.logger = logger
        self.makeCore = makeCore
        self.security = security
    }

    /// Binds the coordinator inbox; returns the actual endpoint.
    public func bind(_ endpoint: String) async throws -> String {
        try await transport.bindInbox(endpoint, options: SocketOptions.standard.with(security.map { .server($0.keys, domain: zapDomain) }))
    }

    /// Reads `--authorized-keys` again (SIGHUP): new connections are checked
    /// against it at once, and the core refuses messages from removed keys and
    /// drops workers holding one. A directory that cannot be read changes nothing.
    /// Returns how many keys of each role are authorized.
    @discardableResult
    public func reloadKeys() throws(CurveKeyError) -> (workers: Int, clients: Int) {
        guard let security else { return (0, 0) }
        let keys = try AuthorizedKeys.load(security.authorizedKeysDir)
        var allow: [String: String] = [:]
        for k in keys.workers.keys { allow[k] = "worker:" + k }
        for k in keys.clients.keys { allow[k] = "client:" + k }
        ZAPHandler.shared.setPolicy(domain: zapDomain, allow: allow)
        inputContinuation.yield(.local(.keysChanged(workers: Set(keys.workers.keys), clients: Set(keys.clients.keys)), nil))
        return (keys.workers.count, keys.clients.count)
    }

    /// Who sent `m`: its address, and with CURVE its key, fingerprint and role
    /// (fingerprints are computed once per key: `fingerprints` is the loop's cache).
    private func sender(of m: InboundMessage, fingerprints: inout [String: String]) -> Sender {
        guard let u = m.userId, let colon = u.firstIndex(of: ":") else { return Sender(address: m.peerAddress) }
        let key = String(u[u.index(after: colon)...])
        if fingerprints[key] == nil {
            if fingerprints.count > 10_000 { fingerprints.removeAll() }
            fingerprints[key] = CurveCertificates.fingerprint(key)
        }
        return Sender(address: m.peerAddress, key: key, fingerprint: fingerprints[key], role: PeerRole(rawValue: String(u[..<colon])))
    }

    /// The CURVE setting of a link to an inbox that must prove `key`.
    private func curve(toward key: String?) -> CurveSetting? {
        guard let security else { return nil }
        return .server(security.keys, domain: ZAPHandler.peerDomain(key ?? "none"))
    }

    /// Called when a job reaches a final status, on the transport's I/O thread: it must return at once.
    public func onJobFinished(_ f: @escaping @Sendable (String, JobStatus) -> Void) {
        finishedHook.withLock { $0 = f }
    }

    /// Runs until `stop()`. Call once.
    ///
    /// The core and the shell's bookkeeping live in one `LoopState`, used on the transport's I/O
    /// thread only. Received messages are handled there, where they arrive (no hop to a task and
    /// back: what they send is queued there and leaves at the next wake-up); requests, ticks,
    /// store reads and journal commits come through the input stream to this task, which hands
    /// each to that thread in order.
    public func run() async {
        if started.exchange(true, ordering: .relaxed) { return }
        let ticker = Task { [inputContinuation] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                inputContinuation.yield(.tick)
            }
        }
        var pending = inputs.makeAsyncIterator()
        // The loop runs on the transport's I/O thread, which already owns the sockets: received
        // messages are handled where they arrive, everything else is handed there from this task.
        // First its state, then what was received before it existed, in order; then every batch
        // as it arrives.
        // The core is built, and a restart's journal restored, here (nothing else uses the state yet:
        // received batches wait in the router), so that a big restore does not hold the I/O thread.
        loop.withLock { box in
            let st = LoopState(core: makeCore())
            box = st
            if let restored {
                st.uncommitted = st.core.restore(restored, now: Date().timeIntervalSince1970)
                st.uncommitted += st.core.handle(.tick, now: Date().timeIntervalSince1970)
                commitOrCarryOut(st)
            }
        }
        transport.call { [self] in
            router.begin({ early in
                loop.withLock { box in
                    guard let st = box else { return }
                    for batch in early { step(.inbound(batch), st) }
                }
            }, direct: { [weak self] batch in self?.received(batch) })
        }
        while !loopOver.load(ordering: .acquiring), let input = await pending.next() {
            if case .wake = input { continue }
            transport.call { [self] in received(input) }
        }
        router.close()
        answerWorkerWaiters(joined: 0, ended: true)
        ticker.cancel()
        // What still waits for an answer, taken on the loop's thread (which has stopped stepping).
        let waiters = await withCheckedContinuation { (c: CheckedContinuation<[CheckedContinuation<ControlReply, Never>], Never>) in
            transport.call { [self] in
                c.resume(returning: loop.withLock { box in
                    let w = Array(box?.waiting.values ?? [:].values)
                    box?.waiting = [:]
                    return w
                })
            }
        }
        for c in waiters { c.resume(returning: .failure("coordinator stopped")) }
        // Requests already queued behind the stop get an answer too; later ones are refused in `ask`.
        inputContinuation.finish()
        while let input = await pending.next() {
            if case .local(_, let c?) = input { c.resume(returning: .failure("coordinator stopped")) }
        }
        // Up to a second for the last answers (waiters told that it stops) to reach their links.
        await transport.shutdown(drainingFor: 1)
        // A clean stop checkpoints the journal into its one file.
        store?.close()
    }

    /// An input, on the I/O thread: received batches as they arrive, the rest handed there from `run()`.
    private func received(_ batch: [InboundMessage]) { received(.inbound(batch)) }

    private func received(_ input: Input) {
        let over = loop.withLock { box -> Bool? in
            guard let st = box, !st.finished else { return nil }
            step(input, st)
            return st.finished
        }
        guard let over else {
            // The loop is over: a request that came too late is answered so.
            if case .local(_, let c?) = input { c.resume(returning: .failure("coordinator stopped")) }
            if case .inbound(let batch) = input { transport.consumed(batch) }
            return
        }
        // Over: the loop's task, waiting on its stream, is told to look.
        if over {
            loopOver.store(true, ordering: .releasing)
            inputContinuation.yield(.wake)
        }
    }

    /// Carries out actions now.
    private func carryOut(_ actions: [CoordinatorAction], _ st: LoopState) {
        perform(
            actions, codec: st.codec, waiting: &st.waiting, links: &st.links, now: Date().timeIntervalSince1970,
            maxBytes: st.core.config.maxMessageBytes)
    }

    /// Group commit. What acknowledges something to a client (a reply, a job's end) is carried
    /// out only once the journal holds the turn that decided it; one commit is in flight at a
    /// time and the turns handled meanwhile are committed together next. What goes to workers
    /// leaves at once: a TASK sent before its commit is, after a crash, a task of the old
    /// session (its answer carries the old token and is dropped) and runs again from the
    /// journal, so a result is still applied at most once.
    private func commitOrCarryOut(_ st: LoopState) {
        guard !st.committing else { return }
        // Unacknowledged progress waits a little (at most a tick) to be committed with more:
        // each commit rewrites whole pages, so many small ones cost far more than a few large.
        if store != nil, st.uncommitted.isEmpty, !st.stopping, st.core.journalBacklog < 4096, Date().timeIntervalSince(st.lastCommit) < Self.commitInterval {
            return
        }
        if let store, let batch = st.core.takeJournal() {
            st.lastCommit = Date()
            st.committing = true
            st.committingActions = st.uncommitted
            st.uncommitted = []
            Task { [inputContinuation] in
                do {
                    try await store.commit(batch)
                    inputContinuation.yield(.committed(nil))
                } catch {
                    inputContinuation.yield(.committed("\(error)"))
                }
            }
        } else {
            let due = st.uncommitted
            st.uncommitted = []
            carryOut(due, st)
        }
    }

    /// One message of a received batch, decoded, for the core.
    private func handleFrames(_ frames: [[UInt8]], from: Sender, now: Double, _ st: LoopState) -> [CoordinatorAction] {
        do {
            return st.core.handle(.message(try st.codec.decode(frames), peer: from), now: now)
        } catch {
            return st.core.handle(.malformed(error, peer: from), now: now)
        }
    }

    /// One input through the core, and its actions carried out (or held for the journal).
    private func step(_ input: Input, _ st: LoopState) {
        let now = Date().timeIntervalSince1970
        var actions: [CoordinatorAction] = []
        switch input {
        case .committed(let error):
            st.committing = false
            if let error {
                let why = "\(error); stopping: what was decided since the last commit was not carried out (a restart continues from there)"
                logger.critical("\(why)")
                failureBox.withLock { $0 = why }
                st.finished = true
                return
            }
            let done = st.committingActions
            st.committingActions = []
            carryOut(done, st)
        case .inbound(let batch):
            defer { transport.consumed(batch) }
            if st.stopping { break }  // a restart re-dispatches what these answer
            for m in batch {
                let from = sender(of: m, fingerprints: &st.fingerprints)
                if let bytes = m.oversizeBytes {
                    actions += st.core.handle(oversize(m, bytes: bytes, from: from, codec: st.codec), now: now)
                    continue
                }
                if BatchFraming.isBatch(m.frames) {
                    if from.role == .client {
                        // Batches are for worker links: a client sends one request at a time.
                        actions += st.core.handle(.malformed(WireError(messageType: "BATCH", reason: "a client's key may not send batches"), peer: from), now: now)
                        continue
                    }
                    do {
                        for frames in try BatchFraming.unpack(m.frames) { actions += handleFrames(frames, from: from, now: now, st) }
                    } catch {
                        actions += st.core.handle(.malformed(error, peer: from), now: now)
                    }
                } else {
                    actions += handleFrames(m.frames, from: from, now: now, st)
                }
            }
        case .local(let i, let cont):
            if let cont, case .submit(_, .local(let id)) = i { st.waiting[id] = cont }
            if let cont, case .query(_, _, .local(let id), _, _) = i { st.waiting[id] = cont }
            if let cont, case .status(.local(let id)) = i { st.waiting[id] = cont }
            if let cont, case .control(_, .local(let id)) = i { st.waiting[id] = cont }
            actions = st.core.handle(i, now: now)
        case .tick:
            if st.stopping { break }
            actions = st.core.handle(.tick, now: now)
            st.links.closeIdle(on: transport, now: now)
            // Finished jobs dropped from memory leave free pages in the allocator's arenas: give them
            // back to the system now and then (RSS then follows the finished-jobs budget).
            if st.core.counters.jobsFinished != st.trimmed.finished, Date().timeIntervalSince(st.trimmed.at) >= 10 {
                st.trimmed = (st.core.counters.jobsFinished, Date())
                // Off the I/O thread: on a large heap it can take a while, and it needs nothing of the core.
                Task.detached(priority: .utility) { MemoryRelease.trim() }
            }
        case .answer(let target, let reply):
            actions = [.reply(target, reply)]
        case .stop:
            // Waiters are told, new jobs refused; the loop ends once the journal has the last turn.
            if !st.stopping { actions = st.core.handle(.shutdown, now: now) }
            st.stopping = true
        case .wake:
            break
        }
        if store == nil {
            carryOut(actions, st)
        } else {
            var now: [CoordinatorAction] = []
            for a in actions {
                switch a {
                // A store read waits too: it must see what this turn (and those before) changed.
                case .reply, .jobFinished, .lookUp, .readQueued, .readStaged: st.uncommitted.append(a)
                // A part is acknowledged once it is in the journal: the worker's window then bounds what
                // waits in memory for a commit.
                case .send(_, .staged(let h)) where h.stop != true: st.uncommitted.append(a)
                default: now.append(a)
                }
            }
            carryOut(now, st)
            commitOrCarryOut(st)
        }
        countersBox.withLock { $0 = st.core.counters }
        workerCountBox.withLock { $0 = st.core.workerIds.count }
        answerWorkerWaiters(joined: st.core.workerIds.count, ended: false)
        if st.stopping && !st.committing && st.uncommitted.isEmpty { st.finished = true }
    }

    /// Why the loop stopped on its own (the journal could not be written), if it did.
    public var failure: String? { failureBox.withLock { $0 } }

    /// An over-size message, for the core: its type and, for a request whose header was kept, whom to tell.
    private func oversize(_ m: InboundMessage, bytes: Int, from: Sender, codec: WireCodec) -> CoordinatorInput {
        let (type, header) = codec.peek(m.frames)
        var reply: ReplyTarget?
        if let header, let to = header["reply_to"].stringValue, let id = header["request_id"].stringValue, to.utf8.count <= WireLimits.maxEndpointLength
        {
            reply = .remote(endpoint: to, requestId: String(id.prefix(WireLimits.maxNameLength)), key: from.key)
        }
        return .oversize(bytes: bytes, type: type, reply: reply, peer: from)
    }

    private func perform(
        _ actions: [CoordinatorAction], codec: WireCodec, waiting: inout [UInt64: CheckedContinuation<ControlReply, Never>],
        links: inout ReplyLinks, now: Double, maxBytes: Int
    ) {
        // Consecutive sends to workers reach the I/O thread together (one wake-up, batched per worker).
        var sends: [(peer: String, frames: [[UInt8]])] = []
        defer { transport.send(sends) }
        for a in actions {
            if case .send(let id, let m) = a {
                sends.append(("w:" + id, codec.encode(m)))
                continue
            }
            transport.send(sends)
            sends.removeAll(keepingCapacity: true)
            switch a {
            case .connectWorker(let id, let endpoint, let key, let reopen, let limit):
                // What one turn sends a worker goes in batches within both sides' message limits.
                let batching = Batching(
                    maxBytes: BatchFraming.maxBytes(forLimit: min(maxBytes, limit ?? maxBytes)), maxMessages: BatchFraming.maxMessages,
                    pack: BatchFraming.pack)
                transport.connect(
                    peer: "w:" + id, endpoint: endpoint, options: SocketOptions.standard.with(curve(toward: key)).batched(batching), replace: reopen)
            case .disconnectWorker(let id, let flush):
                transport.disconnect(peer: "w:" + id, lingerMs: flush ? SocketOptions.lingering.lingerMs : 0)
            case .send:
                break  // above
            case .reply(let target, let r) where r.historyInStore > 0 && store != nil:
                // Its oldest history is in the store only: read it back, then send the whole JobState.
                Task { [inputContinuation, store] in
                    var whole = r
                    do {
                        let rows = try await store!.historyRows(jobId: r.jobId ?? "", before: r.historyInStore)
                        var st = r.jobState!
                        st.executionHistory = try CoordinatorCore.historyRecords(rows, count: r.historyInStore) + st.executionHistory
                        if let tail = r.historyTail, st.executionHistory.count > tail { st.executionHistory = Array(st.executionHistory.suffix(tail)) }
                        whole.jobState = st
                    } catch {
                        whole = .failure("job \(r.jobId ?? "?"): \(error)")
                    }
                    whole.historyInStore = 0
                    inputContinuation.yield(.answer(target, whole))
                }
            case .reply(.local(let id), let r):
                waiting.removeValue(forKey: id)?.resume(returning: r)
            case .reply(.remote(let endpoint, let requestId, let key), let r):
                if CoordinatorCore.endpointProblem(endpoint) != nil { continue }  // nowhere to answer (counted as the request was handled)
                var header = ReplyMessage(
                    requestId: requestId, ok: r.ok, error: r.error, jobId: r.jobId, status: r.status?.rawValue, kind: r.stopping ? "stopping" : nil,
                    instance: instance)
                var body: RawJSON?
                if var status = r.clusterStatus.flatMap(\.objectValue) {
                    header.kind = "cluster_status"
                    // What the transport saw before any message: handshakes that failed, keys the ZAP handler refused.
                    status["handshakes_failed"] = .int(transport.handshakesFailed)
                    status["keys_refused"] = .int(security == nil ? 0 : ZAPHandler.shared.refusals)
                    body = RawJSON(.object(status))
                } else if let st = r.jobState {
                    body = RawJSON(st.json)
                }
                if let b = body, b.bytes.count > maxBytes - CoordinatorCore.headerAllowance {
                    // Never silence: say how big, and how to get it.
                    let what = r.clusterStatus != nil ? "the cluster status" : "the JobState of job \(r.jobId ?? "?")"
                    let how = r.clusterStatus != nil
                        ? "raise --max-message-bytes on the coordinator and the client"
                        : "fetch it with its history trimmed: routilux job status \(r.jobId ?? "ID") --history-tail 1000 (or raise --max-message-bytes on the coordinator and the client)"
                    header = ReplyMessage(
                        requestId: requestId, ok: false, error: "\(what) is \(b.bytes.count) bytes, over the \(maxBytes)-byte message limit (--max-message-bytes); \(how)",
                        jobId: r.jobId, status: r.status?.rawValue, instance: instance)
                    body = nil
                    logger.warning("reply to \(endpoint) refused: \(header.error!)")
                }
                let peer = links.link(endpoint: endpoint, key: key, curve: curve(toward: key), on: transport, now: now)
                transport.send(to: peer, frames: codec.encode(.reply(header, jobState: body)))
            case .notify(let endpoint, let key, let m):
                let peer = links.link(endpoint: endpoint, key: key, curve: curve(toward: key), on: transport, now: now)
                transport.send(to: peer, frames: codec.encode(m))
            case .wakeAt(let time):
                // At most an hour ahead: the regular tick re-checks everything anyway.
                let delay = min(3600, max(0, time - Date().timeIntervalSince1970))
                Task { [inputContinuation] in
                    try? await Task.sleep(for: .milliseconds(Int(delay * 1000) + 1))
                    inputContinuation.yield(.tick)
                }
            case .lookUp(let id, let target, let tail):
                guard let store else { continue }
                Task { [inputContinuation] in
                    var reply = ControlReply.unknownJob(id)
                    do {
                        if let stored = try await store.job(id: id) {
                            var state = try CoordinatorCore.jobState(stored)
                            if let tail, state.executionHistory.count > tail { state.executionHistory = Array(state.executionHistory.suffix(tail)) }
                            reply = ControlReply(ok: true, error: nil, jobId: id, status: state.status, jobState: state)
                        }
                    } catch {
                        reply = .failure("job \(id): \(error)")
                    }
                    inputContinuation.yield(.answer(target, reply))
                }
            case .readQueued(let id, let run, let lane, let after, let limit):
                guard let store else { continue }
                Task { [inputContinuation, logger] in
                    var rows: [StoredTask]?
                    do { rows = try await store.queuedTasks(jobId: id, lane: lane, after: after, limit: limit) } catch {
                        logger.error("\(error); asked again as the job runs")
                    }
                    inputContinuation.yield(.local(.queuedRead(jobId: id, run: run, lane: lane, limit: limit, rows: rows), nil))
                }
            case .readStaged(let id, let run, let taskId, let attempt, let from, let count):
                guard let store else { continue }
                Task { [inputContinuation, logger] in
                    var parts: [[UInt8]]?
                    do { parts = try await store.stagedParts(taskId: taskId, attempt: attempt, from: from, count: count) } catch {
                        logger.error("\(error); asked again at the next tick")
                    }
                    inputContinuation.yield(.local(.stagedRead(jobId: id, run: run, taskId: taskId, from: from, parts: parts), nil))
                }
            case .jobFinished(let id, let status):
                finishedHook.withLock { $0 }?(id, status)
            case .log(let level, let text):
                switch level {
                case .debug: logger.debug("\(text)")
                case .info: logger.info("\(text)")
                case .warning: logger.warning("\(text)")
                case .error: logger.error("\(text)")
                }
            }
        }
    }

    /// Hands a local request to the core's loop, or fails it at once if the loop has stopped.
    private func ask(_ input: CoordinatorInput, _ c: CheckedContinuation<ControlReply, Never>) {
        if case .terminated = inputContinuation.yield(.local(input, c)) {
            c.resume(returning: .failure("coordinator stopped"))
        }
    }

    /// Submits a job from this process; returns when it starts (or ends, with `wait`).
    public func submit(_ request: SubmitRequest) async -> ControlReply {
        let id = localIds.add(1, ordering: .relaxed).oldValue
        return await withCheckedContinuation { c in
            ask(.submit(request, reply: .local(id)), c)
        }
    }

    /// A job's status now, or when it ends (`wait`).
    public func query(jobId: String, wait: Bool) async -> ControlReply {
        let id = localIds.add(1, ordering: .relaxed).oldValue
        return await withCheckedContinuation { c in
            ask(.query(jobId: jobId, wait: wait, reply: .local(id)), c)
        }
    }

    /// Pauses, resumes or cancels a job from this process.
    public func control(_ request: JobControl) async -> ControlReply {
        let id = localIds.add(1, ordering: .relaxed).oldValue
        return await withCheckedContinuation { c in
            ask(.control(request, reply: .local(id)), c)
        }
    }

    /// The cluster's status (workers, counters), as `routilux cluster status` shows it.
    public func status() async -> ControlReply {
        let id = localIds.add(1, ordering: .relaxed).oldValue
        return await withCheckedContinuation { c in
            ask(.status(reply: .local(id)), c)
        }
    }

    /// A job's status, answered when it ends or after `waitMs`, whichever comes first (the answer
    /// then has the status it has). `historyTail`: only the last this many history records.
    public func query(jobId: String, waitMs: Int, historyTail: Int? = nil) async -> ControlReply {
        let id = localIds.add(1, ordering: .relaxed).oldValue
        return await withCheckedContinuation { c in
            ask(.query(jobId: jobId, wait: true, reply: .local(id), historyTail: historyTail, waitMs: waitMs), c)
        }
    }

    /// Reads the core: `read` runs on the loop's thread, between two inputs, and must return at
    /// once (it sees a consistent state; what it returns is a copy). Nil once the loop has ended.
    public func inspect<T: Sendable>(_ read: @escaping @Sendable (CoordinatorCore, Double) -> T) async -> T? {
        guard !loopOver.load(ordering: .acquiring) else { return nil }
        return await withCheckedContinuation { (c: CheckedContinuation<T?, Never>) in
            transport.call { [self] in
                let value = loop.withLock { box -> T? in
                    guard let st = box, !st.finished else { return nil }
                    return read(st.core, Date().timeIntervalSince1970)
                }
                c.resume(returning: value)
            }
        }
    }

    /// The core's counters as of the last processed input.
    public var counters: CoordinatorCounters { countersBox.withLock { $0 } }

    /// Workers joined, as of the last processed input.
    public var workerCount: Int { workerCountBox.withLock { $0 } }

    /// Returns true once at least `count` workers have joined; false if the
    /// coordinator stops first or the waiting task is cancelled. (No polling:
    /// the loop answers after each input.)
    public func waitForWorkers(_ count: Int) async -> Bool {
        let id = localIds.add(1, ordering: .relaxed).oldValue
        return await withTaskCancellationHandler {
            await withCheckedContinuation { c in
                // The count is read under the waiters' lock: the loop updates it before answering them.
                let answer: Bool? = workerWaiters.withLock { w in
                    if w.ended || Task.isCancelled { return false }
                    if workerCount >= count { return true }
                    w.waiting.append((id, count, c))
                    return nil
                }
                if let answer { c.resume(returning: answer) }
            }
        } onCancel: {
            let c = workerWaiters.withLock { w -> CheckedContinuation<Bool, Never>? in
                guard let i = w.waiting.firstIndex(where: { $0.id == id }) else { return nil }
                return w.waiting.remove(at: i).continuation
            }
            c?.resume(returning: false)
        }
    }

    private func answerWorkerWaiters(joined: Int, ended: Bool) {
        let ready = workerWaiters.withLock { w -> [(Bool, CheckedContinuation<Bool, Never>)] in
            if ended { w.ended = true }
            let due = w.waiting.filter { ended || joined >= $0.count }
            w.waiting.removeAll { ended || joined >= $0.count }
            return due.map { (!ended, $0.continuation) }
        }
        for (ok, c) in ready { c.resume(returning: ok) }
    }

    /// Ends `run()`: pending local requests get an error, sockets close.
    public func stop() { inputContinuation.yield(.stop) }
}
