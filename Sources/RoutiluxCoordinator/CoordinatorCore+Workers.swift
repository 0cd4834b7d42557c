import RoutiluxCore
import RoutiluxWire

/// Workers: who may speak for a worker id, joining, credit, leaving.
extension CoordinatorCore {
    /// Roles first: with CURVE, a message needs an authenticated key that is
    /// still authorized, of the role its type belongs to.
    func authorize(_ m: WireMessage, peer: Sender?, now: Double) -> Bool {
        guard config.authenticated else { return true }
        guard let key = peer?.key, let role = peer?.role else {
            drop(.unauthorized, m.type, peer: peer, now: now, why: "no authenticated key")
            return false
        }
        if let keys = authorizedKeys, !(role == .worker ? keys.workers : keys.clients).contains(key) {
            drop(.unauthorized, m.type, peer: peer, now: now, why: "its key is no longer authorized")
            return false
        }
        if let needed = m.senderRole, needed != role {
            let why = "a \(role.rawValue) key may not send \(m.type.rawValue) (only \(needed.rawValue) keys, in --authorized-keys/\(needed.rawValue)s/)"
            drop(.unauthorized, m.type, peer: peer, now: now, why: why)
            // An authorized peer asking for what its role does not allow is told so.
            if let reply = m.replyTarget(key: key) { actions.append(.reply(reply, .failure("refused: \(why)"))) }
            return false
        }
        return true
    }

    /// A worker message counts only from the session (and key) holding the worker id.
    func session(of workerId: String, token: String, _ m: WireMessage, peer: Sender?, now: Double) -> Bool {
        guard let w = workers[workerId] else {
            drop(.unknownWorker, m.type, peer: peer, now: now, why: "worker '\(workerId)' is not joined (declared dead, left, or never joined)")
            return false
        }
        if config.authenticated, w.key != peer?.key {
            drop(.unauthorized, m.type, peer: peer, now: now, why: "worker '\(workerId)' is held by another key (\(w.fingerprint ?? "?"))")
            return false
        }
        guard token == w.token else {
            drop(.unauthorized, m.type, peer: peer, now: now, why: "wrong session token for worker '\(workerId)'")
            return false
        }
        workers[workerId]!.lastSeen = now
        return true
    }

    /// Adds credit, capped by `--max-credit` whatever the worker claims (the
    /// numbers are range-checked on the wire; the sum cannot overflow).
    func grant(_ credit: Int, to id: String) {
        guard let w = workers[id] else { return }
        let cap = config.maxCredit
        workers[id]!.credit = min(cap, w.credit + min(max(0, credit), cap))
    }

    func onJoin(_ j: JoinMessage, catalogue: RawJSON?, peer: Sender?, now: Double) {
        // Checked before any socket is opened for it: a JOIN that cannot be answered is only counted.
        if let why = Self.endpointProblem(j.endpoint) {
            return drop(.malformed, .join, peer: peer, now: now, why: "worker '\(j.workerId)' advertises an unusable endpoint: \(why)")
        }
        func refuse(_ reason: String, retryMs: Int? = nil, as dropReason: DropReason = .unauthorized) {
            counters.joinsRefused += 1
            actions.append(.notify(
                endpoint: j.endpoint, key: peer?.key,
                .reject(RejectMessage(workerId: j.workerId, reason: reason, session: j.session, retryMs: retryMs))))
            drop(dropReason, .join, peer: peer, now: now, why: "refused worker '\(j.workerId)' at \(j.endpoint): \(reason)")
        }
        let key = config.authenticated ? peer?.key : nil
        if let key, let bound = idKeys[j.workerId], bound != key {
            // For now: once that key is removed from --authorized-keys (SIGHUP), the id is free (key rotation).
            return refuse(
                "worker id '\(j.workerId)' is bound to another key; this key (\(peer?.fingerprint ?? "?")) may use it once that key is removed from --authorized-keys",
                retryMs: 10_000)
        }
        if let existing = workers[j.workerId] {
            if existing.session == j.session && existing.endpoint == j.endpoint && existing.key == key {
                // A repeated JOIN (the worker retried before our JOINED arrived): answer again, change
                // nothing; the link is opened only if the first one could not be (what it queued stays).
                workers[j.workerId]!.lastSeen = now
                actions.append(.connectWorker(id: j.workerId, endpoint: j.endpoint, key: key, reopen: false, maxMessageBytes: j.maxMessageBytes))
                actions.append(.send(workerId: j.workerId, .joined(joined(existing))))
                return
            }
            // Another session under a live id: only the key that holds it may replace it (a
            // restarted process). Without CURVE nothing proves that, so it waits for the
            // holder to leave or go silent.
            let timeout = Double(config.workerTimeoutMs) / 1000
            // The same slot's secret, from another process (a supervisor's restarted one), proves it
            // too; the live process itself re-joining (it stopped hearing us) waits like any other.
            let sameSlot = j.idSecret != nil && existing.idSecret == j.idSecret && (j.pid != existing.pid || j.host != existing.host)
            let replaceable = (key != nil && existing.key == key) || sameSlot || now - existing.lastSeen > timeout
            if !replaceable {
                let retryMs = max(config.heartbeatMs, Int((existing.lastSeen + timeout - now) * 1000) + config.heartbeatMs)
                return refuse(
                    "worker id '\(j.workerId)' is held by a live session (inbox \(existing.endpoint)); join again after it leaves or goes silent",
                    retryMs: retryMs)
            }
            log(.info, "worker \(j.workerId) re-joined from \(j.endpoint) (new session); re-queueing \(existing.inFlight.count) task(s)")
            removeWorker(j.workerId, rejoining: true, now: now)
        }
        var problem: String?
        if j.routineTypes.isEmpty { problem = "the worker hosts no routine types" }
        if !(1...WireLimits.maxCredit).contains(j.capacity) { problem = "capacity must be 1...\(WireLimits.maxCredit) (got \(j.capacity))" }
        if !(0...WireLimits.maxCredit).contains(j.credit) { problem = "credit must be 0...\(WireLimits.maxCredit) (got \(j.credit))" }
        if let key, problem == nil, workers.values.filter({ $0.key == key }).count >= Self.maxWorkersPerKey {
            return refuse("\(Self.maxWorkersPerKey) workers are joined with this key (\(peer?.fingerprint ?? "?")), the most one key may hold", retryMs: 10_000, as: .rateLimited)
        }
        if problem == nil && workers.count >= config.maxWorkersJoined {
            return refuse("\(workers.count) workers are joined, the most this coordinator takes (--max-workers-joined)", retryMs: 10_000, as: .rateLimited)
        }
        if problem == nil { problem = learnTypes(of: j, catalogue: catalogue) }
        if let problem { return refuse(problem, as: .malformed) }
        let record = WorkerRecord(
            id: j.workerId, session: j.session, token: makeToken(), key: key, fingerprint: key == nil ? nil : peer?.fingerprint,
            endpoint: j.endpoint, types: Set(j.routineTypes), capacity: j.capacity, credit: min(j.credit, config.maxCredit),
            lastSeen: now, joinedAt: now, host: j.host, pid: j.pid)
        record.idSecret = j.idSecret
        workers[j.workerId] = record
        workerOrder.append(j.workerId)
        if let key { bindKey(key, to: j.workerId) }
        actions.append(.connectWorker(id: j.workerId, endpoint: j.endpoint, key: key, maxMessageBytes: j.maxMessageBytes))
        actions.append(.send(workerId: j.workerId, .joined(joined(record))))
        log(.info, "worker \(j.workerId) joined from \(j.endpoint)\(record.fingerprint.map { " with key \($0)" } ?? "") (types: \(j.routineTypes.joined(separator: ", ")); capacity \(j.capacity), credit \(record.credit))")
        // Its types may be what held requests and waiting jobs need.
        typesChanged(keys: nil, now: now)
    }

    func joined(_ w: WorkerRecord) -> JoinedMessage {
        JoinedMessage(
            workerId: w.id, coordinatorId: config.coordinatorId, heartbeatMs: config.heartbeatMs, session: w.session, token: w.token,
            maxMessageBytes: config.maxMessageBytes, partWindow: config.partWindow > 0 ? min(config.partWindow, WireLimits.maxPartWindow) : nil,
            maxCredit: config.maxCredit)
    }

    /// Remembers which key holds a worker id; bounded (ids of departed workers are forgotten first).
    func bindKey(_ key: String, to id: String) {
        idKeys[id] = key
        if idKeys.count > Self.maxBoundIds {
            for old in idKeys.keys where workers[old] == nil {
                idKeys.removeValue(forKey: old)
                if idKeys.count <= Self.maxBoundIds * 3 / 4 { break }
            }
        }
    }

    static let maxBoundIds = 10_000
    /// Worker processes one key may run at once (a host's instances share its key).
    static let maxWorkersPerKey = 64

    /// Why a JOIN's inbox endpoint cannot be connected to (nil: it can).
    static func endpointProblem(_ e: String) -> String? {
        if e.isEmpty { return "no inbox endpoint advertised" }
        if e.utf8.count > WireLimits.maxEndpointLength { return "endpoint over \(WireLimits.maxEndpointLength) bytes" }
        if e.hasPrefix("ipc://") {
            let path = e.dropFirst(6)
            return path.isEmpty || path.utf8.count > 107 ? "ipc path must be 1-107 bytes" : nil
        }
        guard e.hasPrefix("tcp://") else { return "'\(e.prefix(60))' is not tcp://HOST:PORT or ipc://PATH" }
        let rest = e.dropFirst(6)
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65_535).contains(port) else {
            return "'\(e.prefix(60))' has no port 1-65535"
        }
        let host = rest[..<colon]
        if host.isEmpty || host == "*" || host.contains(where: { !($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") }) {
            return "'\(e.prefix(60))' has no connectable host"
        }
        return nil
    }

    /// Forgets a worker and puts its in-flight tasks back at the front of their jobs' queues.
    /// `rejoining`: the same worker joins again at once (its describes are asked again then).
    func removeWorker(_ id: String, rejoining: Bool = false, now: Double) {
        guard let w = workers.removeValue(forKey: id) else { return }
        workerOrder.removeAll { $0 == id }
        actions.append(.disconnectWorker(id: id, flush: false))
        dropDescribes(of: id, asFailure: !rejoining, now: now)
        // Re-queue newest first, each at the front, so the oldest ends up first.
        let entries = w.inFlight.compactMap { t in ledger[t].map { (t, $0) } }.sorted { $0.1.ordinal > $1.1.ordinal }
        var touched: [JobRecord] = []
        defer { for job in touched { answerPausedWaiters(job) } }  // a paused job may now be settled
        for (taskId, _) in entries {
            if let job = takeBack(taskId, now: now) { touched.append(job) }
        }
    }

    /// Takes an in-flight task out of the ledger and, if its job still runs, puts
    /// it back at the front of the job's queue with its attempt raised (a late
    /// answer for the old attempt is stale). Returns the job, if any.
    @discardableResult
    func takeBack(_ taskId: UInt64, now: Double, expired: Bool = false) -> JobRecord? {
        let from = ledger[taskId]?.workerId
        guard let (task, job) = release(taskId) else { return nil }
        if !job.state.status.isTerminal {
            var t = task
            t.attempt = min(t.attempt + 1, WireLimits.maxAttempt)
            if expired {
                t.expiries += 1
                t.avoid = from
            }
            enqueue(t, in: job, atFront: true)
            counters.tasksRequeued += 1
            markRunnable(job.id)
        }
        return job
    }

    /// Removes a task from the ledger and its worker and job's counts; returns
    /// it with its job when the job run it belongs to is still held.
    func release(_ taskId: UInt64) -> (PendingTask, JobRecord)? {
        guard let entry = ledger.removeValue(forKey: taskId) else { return nil }
        journalGone(taskId)
        discardParts(of: entry)
        workers[entry.workerId]?.inFlight.remove(taskId)
        guard let job = jobs[entry.jobId], job.run == entry.run else { return nil }
        job.inFlight -= 1
        job.inFlightIds.remove(taskId)
        job.busySlots.remove(entry.task.slotKey)
        job.busySlots.remove(entry.task.routineId)
        return (entry.task, job)
    }

    /// `--authorized-keys` was reloaded: joined workers whose key is gone are removed.
    func onKeysChanged(workers allowedWorkers: Set<String>, clients: Set<String>, now: Double) {
        authorizedKeys = (allowedWorkers, clients)
        // A worker id bound to a key that is gone is free for its new key (key rotation).
        idKeys = idKeys.filter { allowedWorkers.contains($0.value) }
        for id in workerOrder {
            guard let key = workers[id]?.key, !allowedWorkers.contains(key) else { continue }
            log(.warning, "worker \(id)'s key \(workers[id]?.fingerprint ?? "?") is no longer authorized; removing it and re-queueing \(workers[id]?.inFlight.count ?? 0) task(s)")
            removeWorker(id, now: now)
        }
    }
}

extension WireMessage {
    /// Whom to answer, for a request.
    func replyTarget(key: String?) -> ReplyTarget? {
        switch self {
        case .submit(let s, _, _): .remote(endpoint: s.replyTo, requestId: s.requestId, key: key)
        case .query(let q): .remote(endpoint: q.replyTo, requestId: q.requestId, key: key)
        case .control(let c, _): .remote(endpoint: c.replyTo, requestId: c.requestId, key: key)
        case .status(let s): .remote(endpoint: s.replyTo, requestId: s.requestId, key: key)
        default: nil
        }
    }

    /// The role a sender needs to send this (nil: the coordinator accepts it from nobody).
    var senderRole: PeerRole? {
        switch self {
        case .join, .result, .part, .credit, .heartbeat, .leave, .described: .worker
        case .submit, .query, .control, .status: .client
        case .joined, .reject, .task, .reply, .describe, .staged: nil
        }
    }
}
