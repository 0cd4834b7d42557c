import DequeModule
import Foundation
import Logging
import RoutiluxCore
import RoutiluxTransport
import RoutiluxWire
import Synchronization

/// An input of the worker's loop.
enum WorkerInput: Sendable {
    case inbound([InboundMessage])
    case done(WireMessage, serial: UInt64)
    case tick
    case stop
    /// Finish what is held within this many seconds, then leave.
    case drain(Double, why: String)
    /// Nothing to do: the run task is told to look whether the loop is over.
    case wake
}

/// A TASK held by the worker: its header and bodies.
typealias HeldTask = (task: TaskMessage, payload: RawJSON, config: RawJSON, slotState: RawJSON?, routineState: RawJSON?, shared: RawJSON?)

/// The worker's loop: everything it holds (session, credit, queued and running tasks, leases)
/// and what each input does to it. It runs on the transport's I/O thread, where messages
/// arrive: a TASK of a routine that `runsInline` is run there and its RESULT queued at once,
/// with no hop to a task and back. Handlers that may wait run as tasks of their own, whose
/// answers come back to this thread (`deliver`).
final class WorkerLoop {
    let options: WorkerOptions
    let registry: RoutineRegistry
    let logger: Logger
    let transport: Transport
    /// How the link to the coordinator is opened (again at each re-join).
    let link: SocketOptions
    /// Hands an input to this loop from another thread (an activation's answer).
    let deliver: @Sendable (WorkerInput) -> Void
    /// Activations answered so far (shared with the runtime, which reports it).
    let doneCount: @Sendable () -> Int
    let countDone: @Sendable () -> Void
    let codec = WireCodec()
    var host: RoutineHost
    /// What this worker hosts, described for the coordinator (which learns new types from it).
    let catalogue: RawJSON

    // The loop is over: why it leaves, or why it failed.
    private(set) var over = false
    var leaveReason = "worker stopping"
    var failure: WorkerError?

    // The session.
    var joined = false
    var joinAttempts = 0
    var nextJoinAt = Date.distantPast
    var lastHeard = Date()
    var lastHeartbeat = Date.distantPast
    var silenceLimitMs: Int
    var heartbeatMs: Int
    var malformed = 0
    var refused = 0
    /// The session token JOINED gave; every message of the session carries it.
    var token = ""
    var messageLimit: Int
    /// JOINED's: how many PARTs of an attempt may await their STAGED (nil: everything goes in the RESULT).
    var partWindow: Int?
    var join: JoinMessage

    // Tasks.
    var waiting: Deque<HeldTask> = []
    /// When each held task's lease ends, counted from its arrival, plus a grace: the coordinator
    /// takes it back at the lease, so a task still queued then is not started, and a handler
    /// still running a moment after is stopped.
    var leaseEnds: [String: Date] = [:]
    let leaseGrace = 1.0
    var running = 0
    /// The part sinks of running attempts, by "task/attempt".
    var partSinks: [String: AttemptParts] = [:]
    /// Activations the coordinator asked to stop (STAGED `stop`).
    var stoppedByCoordinator: Set<UInt64> = []
    /// Tasks held now (queued here or running), with how many attempts of each (a task taken back at
    /// its lease may come again while its old attempt still runs), and TASKs received this
    /// session: the heartbeat says both.
    var held: [UInt64: Int] = [:]
    var received = 0
    /// Credit granted this session (JOIN's, and each RESULT's and CREDIT's since).
    var granted = 0
    /// Handler time, a moving average (seconds): quick handlers get deeper credit (`adaptsCredit`).
    var handlerSeconds = 0.0
    /// JOINED's `max_credit`: the most credit the coordinator lets this worker hold.
    var coordinatorCreditCap = Int.max
    /// Handlers running now as tasks, by a local serial: a stopping worker cancels them (an
    /// Exec command's process group is killed with its activation).
    var activations: [UInt64: Task<Void, Never>] = [:]
    /// The task each activation runs, and those stopped at their lease (their answer says so).
    var runningTasks: [UInt64: TaskMessage] = [:]
    var stoppedAtLease: Set<UInt64> = []
    /// When the leases of running activations end (checked on every tick; no timer per task).
    var leases: [UInt64: Date] = [:]
    var nextSerial: UInt64 = 0
    /// When a drain must be over (nil: not draining).
    var drainDeadline: Date?

    /// What this input sends the coordinator: handed to the transport together once the input is
    /// handled (so the link batches it).
    private var outbox: [(peer: String, frames: [[UInt8]])] = []

    /// The most input (payload, slot and routine state, shared data) a `runsInline` routine's
    /// activation is run inline with (bytes); a larger one runs as a task of its own.
    static let inlinePayloadLimit = 64 << 10

    init(
        options: WorkerOptions, registry: RoutineRegistry, logger: Logger, transport: Transport, link: SocketOptions, endpoint: String,
        deliver: @escaping @Sendable (WorkerInput) -> Void, doneCount: @escaping @Sendable () -> Int, countDone: @escaping @Sendable () -> Void
    ) {
        self.options = options
        self.registry = registry
        self.logger = logger
        self.transport = transport
        self.link = link
        self.deliver = deliver
        self.doneCount = doneCount
        self.countDone = countDone
        host = RoutineHost(registry: registry)
        catalogue = RawJSON(registry.catalogue.json())
        silenceLimitMs = options.coordinatorTimeoutMs
        heartbeatMs = options.heartbeatMs
        messageLimit = options.maxMessageBytes
        join = JoinMessage(
            workerId: options.workerId, routineTypes: registry.names, capacity: options.concurrency,
            credit: options.concurrency + options.prefetch, endpoint: endpoint, heartbeatMs: options.heartbeatMs,
            session: Self.newSession(), pid: Int(getpid()), host: ProcessInfo.processInfo.hostName, catalogue: true, idSecret: options.idSecret,
            maxMessageBytes: options.maxMessageBytes)
    }

    static func newSession() -> String { UUID().uuidString.lowercased() }

    /// Results ready at one wake-up go to the coordinator in batches, within `limit`.
    static func batching(_ limit: Int) -> Batching {
        Batching(maxBytes: BatchFraming.maxBytes(forLimit: limit), maxMessages: BatchFraming.maxMessages, pack: BatchFraming.pack)
    }

    /// Seconds before JOIN attempt `n + 1`: 0.25, 0.5, 1, 2, 4, then 8.
    static func joinBackoff(_ n: Int) -> Double { min(8.0, 0.25 * pow(2.0, Double(n - 1))) }

    // MARK: - Handling inputs

    /// Handles one input; what it sends leaves together when it returns. Sets `over` when the loop ends.
    func handle(_ input: WorkerInput) {
        guard !over else {
            if case .inbound(let batch) = input { transport.consumed(batch) }
            return
        }
        let now = Date()
        defer { flushOutbox() }
        switch input {
        case .wake:
            break
        case .stop:
            over = true
        case .drain(let timeout, let why):
            if drainDeadline != nil { break }
            logger.notice("\(why): draining: finishing \(held.count) task(s) within \(timeout) s, then leaving (a second signal stops at once)")
            beginDrain(within: timeout, at: now)
            endIfDrained()
        case .tick:
            tick(now)
        case .done(let result, let serial):
            finishActivation(result, serial: serial, at: now)
            startTasks()
            endIfDrained()
        case .inbound(let batch):
            defer { transport.consumed(batch) }
            for m in batch {
                arrived(m, now)
                if over { return }
            }
        }
    }

    /// Ends the loop now (if it has not ended): it handles nothing more, and attempts still
    /// streaming send no more parts (what runs is stopped by the runtime, and LEAVE re-queues it).
    func end() {
        over = true
        for sink in partSinks.values { sink.stop() }
        partSinks.removeAll()
    }

    private func endIfDrained() {
        if drainDeadline != nil && held.isEmpty && running == 0 && waiting.isEmpty {
            leaveReason = "drained"
            over = true
        }
    }

    private func send(_ frames: [[UInt8]]) { outbox.append((peer: "coordinator", frames: frames)) }

    private func flushOutbox() {
        transport.send(outbox)
        outbox.removeAll(keepingCapacity: true)
    }

    private func tick(_ now: Date) {
        if drainDeadline == nil, let parent = options.supervisorPid, getppid() != parent {
            // The supervisor is gone (killed): this process must not run on unsupervised.
            logger.warning("the supervisor (pid \(parent)) is gone: draining, then exiting")
            beginDrain(within: options.drainTimeout, at: now)
            endIfDrained()
            if over { return }
        }
        if let d = drainDeadline, now >= d {
            logger.warning("drain timeout: stopping \(running) running handler(s); the coordinator re-queues the \(held.count) task(s) held")
            over = true
            return
        }
        dropExpiredQueued(now)
        // A STAGED lost on the way: the newest unanswered part goes again after two heartbeats.
        for sink in partSinks.values { sink.resendIfStalled(after: .milliseconds(2 * heartbeatMs)) }
        for (serial, end) in leases where end <= now {
            leases.removeValue(forKey: serial)
            stoppedAtLease.insert(serial)
            activations[serial]?.cancel()
        }
        if !joined && now >= nextJoinAt {
            if joinAttempts > 0 {
                let delay = Self.joinBackoff(joinAttempts + 1)
                let hint = options.keys == nil ? "" : " (with CURVE, a key the coordinator does not authorize gets no answer: its log names the key's fingerprint, \(CurveCertificates.fingerprint(options.keys!.keys.publicKey)))"
                logger.warning("coordinator at \(options.coordinator) has not answered; retrying JOIN (attempt \(joinAttempts + 1), next in \(delay) s)\(hint)")
                // Start afresh so that a JOIN queued on a dead link is not the only one.
                transport.connect(peer: "coordinator", endpoint: options.coordinator, options: link)
            }
            send(codec.encode(.join(join, catalogue: catalogue)))
            joinAttempts += 1
            nextJoinAt = now.addingTimeInterval(Self.joinBackoff(joinAttempts))
        }
        guard joined else { return }
        if now.timeIntervalSince(lastHeartbeat) * 1000 >= Double(heartbeatMs) {
            lastHeartbeat = now
            send(codec.encode(.heartbeat(HeartbeatMessage(senderId: options.workerId, token: token, held: held.keys.sorted(), received: received))))
        }
        if now.timeIntervalSince(lastHeard) * 1000 > Double(silenceLimitMs) {
            logger.warning("no word from the coordinator for \(silenceLimitMs) ms; re-joining")
            joined = false
            // A new session tells the coordinator to re-queue whatever it thought we held.
            join.session = Self.newSession()
            joinAttempts = 0
            nextJoinAt = .distantPast
            for w in waiting { giveUpQueued(w.task, why: nil) }  // the new session re-queues them
            waiting.removeAll()
            // Attempts still streaming belong to the old session: no STAGED will come for them.
            for sink in partSinks.values { sink.stop() }
            partSinks.removeAll()
            received = 0
            granted = 0
            // The old session's answers are stale there: not sent, not counted.
            token = ""
            transport.connect(peer: "coordinator", endpoint: options.coordinator, options: link)
        }
    }

    private func dropped(_ m: InboundMessage, _ why: String) {
        malformed += 1
        if malformed <= 5 || malformed % 1000 == 0 {
            logger.warning("dropped malformed message from \(m.peerAddress ?? "unknown peer"): \(why) (\(malformed) so far)")
        }
    }

    /// One received ZeroMQ message: a message, or a batch of them.
    private func arrived(_ m: InboundMessage, _ now: Date) {
        if let bytes = m.oversizeBytes {
            // A TASK too big to take is answered (its header was kept): the job learns why at once.
            if let answer = TaskRunner.refusal(of: m.frames, bytes: bytes, limit: messageLimit, workerId: options.workerId, token: token) {
                received += 1  // it came, and is answered: not lost
                if case .result(let h, _) = answer { granted += h.credit }
                send(codec.encode(answer))
            }
            malformed += 1
            if malformed <= 5 || malformed % 1000 == 0 {
                logger.warning("dropped a message of \(bytes) bytes from \(m.peerAddress ?? "unknown peer"): over the \(messageLimit)-byte limit (\(malformed) dropped so far)")
            }
            return
        }
        let messages: [[[UInt8]]]
        do { messages = BatchFraming.isBatch(m.frames) ? try BatchFraming.unpack(m.frames) : [m.frames] } catch {
            dropped(m, "\(error)")
            return
        }
        for frames in messages {
            let message: WireMessage
            do { message = try codec.decode(frames) } catch {
                dropped(m, "\(error)")
                continue
            }
            handleMessage(message, from: m, now)
            if over { return }
        }
    }

    /// One decoded message.
    private func handleMessage(_ message: WireMessage, from m: InboundMessage, _ now: Date) {
        // Only the coordinator, in this session, speaks here: JOINED and REJECT
        // echo our JOIN's session, everything else carries the token JOINED gave.
        let genuine: Bool
        switch message {
        case .joined(let j): genuine = j.session == join.session
        case .reject(let r): genuine = r.session == join.session
        case .task(let t, _, _, _, _, _): genuine = joined && t.token == token
        case .describe(let d, _): genuine = joined && d.token == token
        case .heartbeat(let h): genuine = joined && h.token == token
        case .staged(let h): genuine = joined && h.token == token
        default: genuine = false
        }
        guard genuine else {
            refused += 1
            if refused <= 5 || refused % 1000 == 0 {
                logger.warning("dropped \(message.type.rawValue) from \(m.peerAddress ?? "unknown peer"): not from the coordinator in this session (\(refused) dropped so far)")
            }
            return
        }
        lastHeard = now
        switch message {
        case .joined(let j):
            if !joined {
                logger.info("joined coordinator \(j.coordinatorId)")
                // This session's first JOINED: the coordinator holds JOIN's credit, capped.
                coordinatorCreditCap = j.maxCredit ?? Int.max
                granted = min(join.credit, coordinatorCreditCap)
            }
            joined = true
            token = j.token
            if drainDeadline != nil { tellDraining() }
            messageLimit = min(options.maxMessageBytes, j.maxMessageBytes ?? options.maxMessageBytes)
            // On every JOINED: a re-join's link starts again from the worker's own limit.
            transport.setBatching(peer: "coordinator", Self.batching(messageLimit))
            partWindow = j.partWindow
            // The coordinator's interval rules both ways: we heartbeat at least as often
            // (its worker timeout is at least twice it), and call it silent only after
            // three of its intervals.
            silenceLimitMs = max(options.coordinatorTimeoutMs, 3 * j.heartbeatMs)
            heartbeatMs = min(options.heartbeatMs, max(10, j.heartbeatMs))
        case .reject(let r):
            // A refusal for now that arrives after our JOINED (they travel on different links) is moot.
            if r.retryMs != nil && joined { return }
            if let retry = r.retryMs, !joined {
                // Refused for now (the id is held by a live session): JOIN again later.
                logger.warning("the coordinator refused this worker for now: \(r.reason); joining again in \(retry) ms")
                nextJoinAt = now.addingTimeInterval(Double(min(retry, 60_000)) / 1000)
                joinAttempts = 0
                return
            }
            logger.error("the coordinator refused this worker: \(r.reason)")
            failure = WorkerError(description: "refused by the coordinator: \(r.reason)")
            over = true
        case .task(let t, let payload, let config, let slotState, let routineState, let shared):
            received += 1
            if held[t.taskId] != nil {
                // An earlier attempt of it is still here: it was taken back, so it stops (never
                // two attempts of one task at once on this worker).
                let older = waiting.filter { $0.task.taskId == t.taskId && $0.task.attempt < t.attempt }
                waiting.removeAll { $0.task.taskId == t.taskId && $0.task.attempt < t.attempt }
                for o in older { giveUpQueued(o.task, why: "a later attempt of it arrived") }
                for (serial, r) in runningTasks where r.taskId == t.taskId && r.attempt < t.attempt {
                    stoppedAtLease.insert(serial)
                    activations[serial]?.cancel()
                }
            }
            held[t.taskId, default: 0] += 1
            if let ms = t.timeoutMs { leaseEnds[leaseKey(t)] = now.addingTimeInterval(Double(ms) / 1000 + leaseGrace) }
            waiting.append((t, payload, config, slotState, routineState, shared))
            startTasks()
            endIfDrained()
        case .describe(let d, let config):
            // Cheap and synchronous: a type's factory builds its ports from the config.
            send(codec.encode(describe(d, config: config)))
        case .heartbeat:
            break
        case .staged(let h):
            let key = "\(h.taskId)/\(h.attempt)"
            guard h.stop == true else {
                partSinks[key]?.staged(through: h.seq)
                return
            }
            // The coordinator gave the attempt up (it failed there, or was taken back): stop it.
            partSinks.removeValue(forKey: key)?.stop()
            for (serial, r) in runningTasks where r.taskId == h.taskId && r.attempt == h.attempt {
                stoppedByCoordinator.insert(serial)
                activations[serial]?.cancel()
            }
        default:
            logger.warning("dropped unexpected \(message.type.rawValue) from \(m.peerAddress ?? "unknown peer")")
        }
    }

    // MARK: - Tasks

    func leaseKey(_ t: TaskMessage) -> String { "\(t.taskId)/\(t.attempt)" }

    private func release(_ id: UInt64) {
        if let n = held[id], n > 1 { held[id] = n - 1 } else { held.removeValue(forKey: id) }
    }

    /// The answer for an attempt this worker gives up at its lease (not started, or stopped): an
    /// error the coordinator knows as an expiry, with the credit the attempt took.
    private func leaseExpired(_ t: TaskMessage, _ why: String) -> WireMessage {
        .result(
            ResultMessage(
                workerId: options.workerId, jobId: t.jobId, taskId: t.taskId, attempt: t.attempt, outcome: .error,
                error: "LeaseExpired: \(why)", errorType: "LeaseExpired", credit: 1, token: t.token),
            bodies: [])
    }

    /// Whether a queued task's lease has passed (it runs elsewhere now, so it is not started).
    private func leasePassed(_ t: TaskMessage, _ now: Date) -> Bool {
        leaseEnds[leaseKey(t)].map { $0.addingTimeInterval(-leaseGrace) <= now } ?? false
    }

    /// Forgets a queued task (already out of `waiting`); with `why`, tells the coordinator it was given up.
    private func giveUpQueued(_ t: TaskMessage, why: String? = "its lease ended while it waited in this worker's queue") {
        leaseEnds.removeValue(forKey: leaseKey(t))
        release(t.taskId)
        if let why {
            granted += 1  // the credit it took comes back
            send(codec.encode(leaseExpired(t, why)))
        }
    }

    /// Gives up, at once, queued tasks whose lease has passed (also when every slot is busy).
    private func dropExpiredQueued(_ now: Date) {
        guard waiting.contains(where: { leasePassed($0.task, now) }) else { return }
        let expired = waiting.filter { leasePassed($0.task, now) }
        waiting.removeAll { leasePassed($0.task, now) }
        for w in expired { giveUpQueued(w.task) }
    }

    private func tellDraining() {
        send(codec.encode(.credit(CreditMessage(workerId: options.workerId, credit: 0, token: token, draining: true))))
    }

    /// Starts a drain: nothing more is asked for (a re-JOIN included), what is held runs to its end.
    private func beginDrain(within timeout: Double, at now: Date) {
        drainDeadline = now.addingTimeInterval(timeout)
        join.credit = 0
        if joined { tellDraining() }
    }

    /// The credit for one answered task: 1 keeps what is held plus unused credit steady; with
    /// `adaptsCredit`, more (or none) moves it toward the target for how quick handlers are now
    /// (never past the coordinator's cap). An answer that leaves nothing here grants at least 1: the
    /// worker's count of unused credit can run ahead of the coordinator's (an answer it dropped),
    /// and an idle worker must never be left with none.
    private func creditForAnswer() -> Int {
        guard options.adaptsCredit, drainDeadline == nil else { return 1 }
        let base = options.concurrency + options.prefetch
        let target = min(handlerSeconds < 0.001 ? max(base, WorkerOptions.quickCredit) : base, coordinatorCreditCap)
        let total = (granted - received) + held.count
        let floor = held.isEmpty && waiting.isEmpty ? 1 : 0
        return max(floor, min(target - total, target))
    }

    /// An activation ended (`result` its answer): its bookkeeping, and its answer sent.
    private func finishActivation(_ result: WireMessage, serial: UInt64, at now: Date) {
        var result = result
        activations.removeValue(forKey: serial)
        leases.removeValue(forKey: serial)
        let ran = runningTasks.removeValue(forKey: serial)
        if let ran { partSinks.removeValue(forKey: leaseKey(ran))?.stop() }
        if stoppedByCoordinator.remove(serial) != nil, let ran {
            stoppedAtLease.remove(serial)
            result = leaseExpired(ran, "the coordinator stopped it")
        } else if stoppedAtLease.remove(serial) != nil, let ran {
            result = leaseExpired(ran, "its handler was stopped at the end of its lease")
        }
        running -= 1
        countDone()
        if drainDeadline == nil, let m = options.maxTasks, doneCount() >= m {
            logger.notice("recycling after \(m) task(s): draining \(held.count - 1) more, then leaving")
            beginDrain(within: options.drainTimeout, at: now)
        }
        guard case .result(var h, let bodies) = result else { return }
        release(h.taskId)
        // A result of an earlier session is stale there; it is not sent.
        guard h.token == token else { return }
        // A slow activation counts at once, quick ones bring the average down slowly; an
        // attempt given up at its lease says nothing about speed.
        if h.errorType != "LeaseExpired" {
            let s = Double(h.handlerUs) / 1e6
            handlerSeconds = max(s >= 0.001 ? s : 0, 0.9 * handlerSeconds + 0.1 * s)
        }
        if h.credit == 1 { h.credit = creditForAnswer() }
        granted += h.credit
        let answer = WireMessage.result(h, bodies: bodies)
        send(TaskRunner.limited(answer, frames: codec.encode(answer), limit: messageLimit, codec: codec))
    }

    /// Starts queued tasks while handlers are free. A routine that `runsInline` runs here, on
    /// this thread (no task of its own, no hop back): its answer goes out with this input's.
    private func startTasks() {
        // A task whose earlier attempt still runs here (stopping) waits for it: never two at once.
        var heldBack: [HeldTask] = []
        defer { for w in heldBack.reversed() { waiting.prepend(w) } }
        while running < options.concurrency, let w = waiting.popFirst() {
            let task = w.task
            if runningTasks.values.contains(where: { $0.taskId == task.taskId }) {
                heldBack.append(w)
                continue
            }
            if leasePassed(task, Date()) {
                giveUpQueued(task)
                continue
            }
            running += 1
            let routine = Result { try host.instance(for: task, config: w.config) }
            let workerId = options.workerId
            nextSerial += 1
            let serial = nextSerial
            runningTasks[serial] = task
            // Small inputs only (payload and the states and shared data sent with it): a large one
            // takes long to parse even for a quick routine, and this thread serves every socket.
            let inputBytes = w.payload.bytes.count + (w.slotState?.bytes.count ?? 0) + (w.routineState?.bytes.count ?? 0) + (w.shared?.bytes.count ?? 0)
            if inputBytes <= Self.inlinePayloadLimit, (try? routine.get())?.runsInline ?? true {
                leaseEnds.removeValue(forKey: leaseKey(task))
                // Everything it emits goes in its RESULT (it cannot wait for STAGED on the thread that reads them).
                let result = TaskRunner.runInline(
                    task: task, payload: w.payload, slotState: w.slotState, routineState: w.routineState, shared: w.shared, routine: routine,
                    merges: registry, workerId: workerId, token: token)
                finishActivation(result, serial: serial, at: Date())
                continue
            }
            let parts = partWindow.map {
                AttemptParts(
                    template: PartMessage(workerId: workerId, jobId: task.jobId, taskId: task.taskId, attempt: task.attempt, seq: 0, emissions: [], outputs: [], token: token),
                    window: $0, messageLimit: messageLimit, transport: transport)
            }
            partSinks[leaseKey(task)] = parts
            let activation = Task { [deliver, registry, token] in
                let result = await TaskRunner.run(
                    task: task, payload: w.payload, slotState: w.slotState, routineState: w.routineState, shared: w.shared, routine: routine,
                    merges: registry, workerId: workerId, token: token, parts: parts)
                deliver(.done(result, serial: serial))
            }
            activations[serial] = activation
            // At the lease's end the coordinator takes the task back, so the handler stops too.
            if let end = leaseEnds.removeValue(forKey: leaseKey(task)) { leases[serial] = end }
        }
    }

    /// The answer to a coordinator's DESCRIBE: `type`'s ports for that config, or why not.
    private func describe(_ d: DescribeMessage, config: RawJSON) -> WireMessage {
        let id = options.workerId
        guard let object = (try? config.value())?.objectValue else {
            return .described(DescribedMessage(workerId: id, requestId: d.requestId, ok: false, error: "the config (DESCRIBE body) is not a JSON object", token: token), ports: nil)
        }
        switch registry.describe(d.routineType, config: object) {
        case nil:
            return .described(DescribedMessage(workerId: id, requestId: d.requestId, ok: false, error: "this worker does not host routine type '\(d.routineType)'", token: token), ports: nil)
        case .configError(let key, let message)?:
            return .described(DescribedMessage(workerId: id, requestId: d.requestId, ok: false, configError: message, errorKey: key, token: token), ports: nil)
        case .ports(let p)?:
            return .described(DescribedMessage(workerId: id, requestId: d.requestId, ok: true, token: token), ports: RawJSON(.object(p.json)))
        }
    }
}
