import DequeModule
import RoutiluxCore
import RoutiluxWire

/// A DESCRIBE sent to a worker and not yet answered.
struct PendingDescribe {
    var key: DescribeKey
    var workerId: String
    var sentAt: Double
}

/// A request that waits for workers to describe routine types; it is handled
/// again, from the start, when an answer (or a timeout) comes.
struct HeldRequest {
    enum Input {
        case submit(SubmitRequest, ReplyTarget)
        case resumeFrom(JobState, FlowReference?, ReplyTarget)

        var reply: ReplyTarget {
            switch self {
            case .submit(_, let r), .resumeFrom(_, _, let r): r
            }
        }
    }
    var input: Input
    var keys: Set<DescribeKey>
    /// When it was first held (a request is held at most `holdLimit`).
    var since: Double
}

/// A worker's failure to describe a key, remembered for a while.
struct DescribeFailure {
    var at: Double
    var why: String
}

/// Whether a flow can run now, from what is known of its routine types.
enum FlowVerdict {
    case valid(CompiledFlow)
    case invalid(String)
    /// Joined workers are describing these types for these configs.
    case describing(Set<DescribeKey>)
    /// Every worker hosting a type failed to describe it for its config (lately): why.
    case undescribed(String)
    /// No joined worker hosts these types (and nothing else here knows them).
    case waiting(types: [String])
}

/// Routine types that register themselves: what a JOIN's catalogue teaches the
/// core, asking workers to describe a type for a config, and validating flows
/// from compiled types, catalogue files and those answers.
extension CoordinatorCore {
    /// Most routine types one worker may declare (each one is stored).
    static let maxTypesPerWorker = 1024
    /// Most requests held at once while workers describe types.
    static let maxHeldRequests = 1000
    /// Longest a request is held (below a client's default 30 s wait for an answer).
    static let holdLimit = 20.0
    /// How long a worker's failure to describe a key keeps it from being asked again.
    static let failureMemory = 30.0
    /// Most jobs pending (waiting for workers) at once.
    static let maxPendingJobs = 1000
    /// Largest DESCRIBED body (one type's ports); a JOIN's catalogue may be four times that.
    static let maxDescriptionBytes = 1 << 20

    var describeTimeout: Double { max(1, min(5, Double(config.workerTimeoutMs) / 1000)) }

    /// Checks a joining worker's catalogue against what is known: a type
    /// described differently than the compiled one, or than a live worker's, is a
    /// reason to refuse. Returns the refusal, or learns the descriptions and returns nil.
    func learnTypes(of j: JoinMessage, catalogue body: RawJSON?) -> String? {
        if j.routineTypes.count > Self.maxTypesPerWorker {
            return "it offers \(j.routineTypes.count) routine types (at most \(Self.maxTypesPerWorker))"
        }
        if let bad = j.routineTypes.first(where: { $0.isEmpty || $0.utf8.count > 200 }) {
            return "routine type name '\(bad.prefix(40))' must have 1 to 200 bytes"
        }
        var descriptions: [TypeDescription] = []
        if let body {
            guard body.bytes.count <= Self.maxDescriptionBytes * 4 else {
                return "its catalogue (JOIN body) has \(body.bytes.count) bytes (at most \(Self.maxDescriptionBytes * 4))"
            }
            do {
                guard let entries = try body.value().arrayValue else { return "its catalogue (JOIN body) is not a JSON array" }
                guard entries.count <= Self.maxTypesPerWorker else { return "its catalogue has \(entries.count) entries (at most \(Self.maxTypesPerWorker))" }
                for (i, e) in entries.enumerated() { descriptions.append(try TypeDescription(json: e, path: "catalogue[\(i)]")) }
            } catch {
                return "its catalogue (JOIN body) is malformed: \(error)"
            }
            let offered = Set(j.routineTypes)
            if let stray = descriptions.first(where: { !offered.contains($0.name) }) {
                return "its catalogue describes '\(stray.name)', which is not in its routine_types"
            }
        }
        for d in descriptions {
            if let built = typeBook.base.describe(d.name), typeBook.base.isCompiled(d.name) {
                // Through the same JSON as the worker's, so defaults the wire form leaves out compare equal.
                let compiled = (try? TypeDescription(json: built.json, path: d.name)) ?? built
                if !compiled.agrees(with: d) {
                    return "it describes routine type '\(d.name)' differently from this coordinator's built-in one (\(d.difference(from: compiled))); "
                        + "build the worker and the coordinator from the same Routilux version, or give the custom type another name"
                }
                continue
            }
            // A learned description is held by a live worker (it is forgotten with its last host).
            guard let known = typeBook.learned[d.name], !known.agrees(with: d) else { continue }
            let host = workerOrder.first { workers[$0]?.types.contains(d.name) == true } ?? "?"
            let on = workers[host]?.host.map { " on \($0)" } ?? ""
            return "it describes routine type '\(d.name)' differently from worker \(host)\(on) (\(d.difference(from: known))); "
                + "one type name must mean one thing in a cluster: stop the other workers first, or rename the type"
        }
        for d in descriptions where !typeBook.base.isCompiled(d.name) && typeBook.learned[d.name] == nil {
            typeBook.learn(d)
        }
        return nil
    }

    /// A live worker that hosts `key.type` and has not failed to describe it lately.
    func describer(for key: DescribeKey) -> String? {
        let failed = describeFailures[key] ?? [:]
        return workerOrder.first { workers[$0]?.types.contains(key.type) == true && failed[$0] == nil }
    }

    func describers(for key: DescribeKey) -> RoutineTypeBook.Describers {
        if describer(for: key) != nil { return .available }
        return isHosted(key.type) ? .allFailed : .none
    }

    /// Whether a live worker hosts `type`.
    func isHosted(_ type: String) -> Bool { workerOrder.contains { workers[$0]?.types.contains(type) == true } }

    /// Request ids nobody can guess (a DESCRIBED is matched by id and worker).
    func makeDescribeId() -> String {
        var g = SystemRandomNumberGenerator()
        let a: UInt64 = g.next(), b: UInt64 = g.next()
        nextDescribeId += 1
        return "d\(nextDescribeId)-" + String(a, radix: 16) + String(b, radix: 16)
    }

    /// Asks a worker to describe `key` (once: a key already asked is not asked again).
    func requestDescribe(_ key: DescribeKey, config: JSONObject, now: Double) {
        guard describing[key] == nil, let worker = describer(for: key) else { return }
        guard describes.count < Self.maxDescribesInFlight else {
            // Bounded: what one flow (or a flood of them) can make us ask is not asked; the request
            // waiting on it is answered when it has waited its limit. No worker is blamed.
            log(.warning, "not describing \(key.type): \(Self.maxDescribesInFlight) descriptions are being asked for already")
            return
        }
        let id = makeDescribeId()
        describes[id] = PendingDescribe(key: key, workerId: worker, sentAt: now)
        describing[key] = id
        describeConfigs[key] = config
        counters.describesSent += 1
        actions.append(.send(workerId: worker, .describe(DescribeMessage(requestId: id, routineType: key.type, token: workers[worker]?.token ?? ""), config: RawJSON(.object(config)))))
        actions.append(.wakeAt(now + describeTimeout))
    }

    static let maxDescribesInFlight = 10_000

    func onDescribed(_ d: DescribedMessage, ports body: RawJSON?, peer: Sender?, now: Double) {
        guard let pending = describes[d.requestId], pending.workerId == d.workerId else {
            return unexpected(.described(d, ports: body), peer: peer, why: "no DESCRIBE '\(d.requestId)' is pending for worker '\(d.workerId)'", now: now)
        }
        workers[d.workerId]?.lastSeen = now
        describes.removeValue(forKey: d.requestId)
        describing.removeValue(forKey: pending.key)
        let key = pending.key
        let answer: PortsOrConfigError
        if d.ok, let body {
            guard body.bytes.count <= Self.maxDescriptionBytes else {
                counters.dropped[.malformed, default: 0] += 1
                log(.warning, "worker \(d.workerId) described \(key.type) with \(body.bytes.count) bytes (at most \(Self.maxDescriptionBytes))")
                return describeFailed(key, worker: d.workerId, why: "an answer over \(Self.maxDescriptionBytes) bytes", now: now)
            }
            do { answer = .ports(try RoutinePorts(json: try body.value(), path: "DESCRIBED body")) } catch {
                counters.dropped[.malformed, default: 0] += 1
                log(.warning, "worker \(d.workerId) described \(key.type) with a malformed body: \(error)")
                return describeFailed(key, worker: d.workerId, why: "a malformed answer", now: now)
            }
        } else if let message = d.configError {
            answer = .configError(key: d.errorKey, message: message)
        } else {
            log(.warning, "worker \(d.workerId) cannot describe routine type \(key.type): \(d.error ?? "no reason given")")
            return describeFailed(key, worker: d.workerId, why: d.error ?? "it cannot describe it", now: now)
        }
        typeBook.remember(key, answer)
        describeConfigs.removeValue(forKey: key)
        describeFailures.removeValue(forKey: key)
        typeBook.fresh = (key, answer)
        defer { typeBook.fresh = nil }
        typesChanged(keys: [key], now: now)
    }

    /// `worker` did not (or could not) describe `key`: ask another host, if any.
    func describeFailed(_ key: DescribeKey, worker: String, why: String, now: Double) {
        describeFailures[key, default: [:]][worker] = DescribeFailure(at: now, why: why)
        if let config = describeConfigs[key], describer(for: key) != nil {
            requestDescribe(key, config: config, now: now)
        } else {
            describeConfigs.removeValue(forKey: key)
        }
        typesChanged(keys: [key], now: now)
    }

    /// The passing of time for type work: describes that took too long, failures
    /// old enough to forget, requests held too long.
    func onTypesTick(now: Double) {
        expireDescribes(now: now)
        forgetOldFailures(now: now)
        expireHeld(now: now)
    }

    /// Describes that took too long count as failures of their worker.
    func expireDescribes(now: Double) {
        for (id, p) in describes.sorted(by: { $0.key < $1.key }) where now - p.sentAt >= describeTimeout {
            describes.removeValue(forKey: id)
            describing.removeValue(forKey: p.key)
            counters.describeTimeouts += 1
            log(.warning, "worker \(p.workerId) did not describe routine type \(p.key.type) within \(describeTimeout) s")
            describeFailed(p.key, worker: p.workerId, why: "no answer within \(describeTimeout) s", now: now)
        }
    }

    /// Failures are forgotten after a while: those workers may be asked again.
    func forgetOldFailures(now: Double) {
        var expired: Set<DescribeKey> = []
        for (key, failures) in describeFailures {
            let kept = failures.filter { now - $0.value.at < Self.failureMemory }
            if kept.count != failures.count { expired.insert(key) }
            describeFailures[key] = kept.isEmpty ? nil : kept
        }
        if !expired.isEmpty { typesChanged(keys: expired, now: now) }
    }

    /// Requests held too long are answered: the workers did not describe in time.
    func expireHeld(now: Double) {
        for h in held where now - h.since >= Self.holdLimit {
            actions.append(.reply(h.input.reply, .failure(
                "timed out after \(Int(Self.holdLimit)) s waiting for joined workers to describe routine type(s) \(Set(h.keys.map(\.type)).sorted().joined(separator: ", "))")))
        }
        held.removeAll { now - $0.since >= Self.holdLimit }
    }

    /// A removed worker's pending describes go to another host. When it is only
    /// re-joining (`asFailure` false), they are dropped and asked again once it is back.
    func dropDescribes(of workerId: String, asFailure: Bool, now: Double) {
        for (id, p) in describes.sorted(by: { $0.key < $1.key }) where p.workerId == workerId {
            describes.removeValue(forKey: id)
            describing.removeValue(forKey: p.key)
            if asFailure { describeFailed(p.key, worker: workerId, why: "it left", now: now) }
        }
        for key in describeFailures.keys { describeFailures[key]?.removeValue(forKey: workerId) }
        describeFailures = describeFailures.filter { !$0.value.isEmpty }
        // A learned type no live worker hosts any more is forgotten: the next host describes it anew.
        for type in typeBook.learned.keys.sorted() where !isHosted(type) { typeBook.forget(type) }
    }

    /// Something was learned (a join, an answer, a failure): requests waiting on
    /// `keys` (all of them when nil) are handled again, and waiting jobs re-checked.
    func typesChanged(keys: Set<DescribeKey>?, now: Double) {
        let ready = held.filter { keys == nil || !$0.keys.isDisjoint(with: keys!) }
        held.removeAll { keys == nil || !$0.keys.isDisjoint(with: keys!) }
        for h in ready {
            // Held again, it keeps its first time (the hold limit counts from the first).
            replayingSince = h.since
            defer { replayingSince = nil }
            switch h.input {
            case .submit(let req, let reply): onSubmit(req, reply: reply, now: now)
            case .resumeFrom(let state, let flow, let reply): resumeSaved(state, flow: flow, reply: reply, now: now)
            }
        }
        for job in jobsInRunOrder where job.state.status == .pending { recheck(job, now: now) }
    }

    /// Parks a request until workers have described `keys`.
    func hold(_ input: HeldRequest.Input, keys: Set<DescribeKey>, reply: ReplyTarget, since now: Double) {
        guard held.count < Self.maxHeldRequests else {
            actions.append(.reply(reply, .failure("too many requests are waiting for workers to describe routine types (\(Self.maxHeldRequests)); try again shortly")))
            return
        }
        held.append(HeldRequest(input: input, keys: keys, since: replayingSince ?? now))
    }

    /// Validates `def` with what is known now; asks workers to describe what is not.
    func check(_ def: FlowDefinition, file: String?, now: Double) -> FlowVerdict {
        var ports: [String: RoutinePorts] = [:]
        var pending: Set<DescribeKey> = []
        var missing: Set<String> = []
        var undescribed: [String] = []
        for r in def.routines {
            // Known or not, a type no live worker hosts cannot run yet.
            if !isHosted(r.type) { missing.insert(r.type) }
            switch typeBook.resolve(r.type, config: r.config, describers: { self.describers(for: $0) }) {
            case .ports(let p): ports[r.id] = p
            case .configError(let key, let message):
                return .invalid(FlowValidationError.config(file: file, routine: r.id, key: key, message).description)
            case .describe(let key):
                requestDescribe(key, config: r.config, now: now)
                pending.insert(key)
            case .undescribed(let key):
                let why = (describeFailures[key] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.why)" }
                undescribed.append("routine type \(r.type) (routines.\(r.id)): no joined worker could describe it for this config (\(why.joined(separator: "; ")))")
            case .noHost: break  // counted in `missing` above
            }
        }
        do { try FlowLoader.checkPorts(def, portsById: ports, file: file) } catch { return .invalid(error.description) }
        if !pending.isEmpty { return .describing(pending) }
        if !undescribed.isEmpty { return .undescribed(undescribed.joined(separator: "; ") + "; try again later") }
        if !missing.isEmpty { return .waiting(types: missing.sorted()) }
        return .valid(CompiledFlow(def, ports: ports))
    }

    /// Why a flow cannot start yet, for the job's state and the client.
    func waitingText(_ types: [String]) -> String {
        let unknown = types.filter { !typeBook.knows($0) }
        var s = "waiting for a worker hosting \(types.joined(separator: ", "))"
        if !unknown.isEmpty {
            s += " (\(unknown.joined(separator: ", ")) not known here yet: no joined worker, catalogue file or built-in type has \(unknown.count == 1 ? "that name" : "those names"))"
        }
        return s
    }

    /// Re-validates a job that waits for workers; starts or fails it when it can.
    func recheck(_ job: JobRecord, now: Double) {
        switch check(job.flow.definition, file: nil, now: now) {
        case .valid(let compiled):
            job.flow = compiled
            job.flowJournalled = false
            start(job, now: now)
        case .invalid(let why):
            job.state.waitingFor = nil
            fail(job.id, error: why, errorType: "FlowValidationError", routineId: nil, now: now)
        case .describing:
            job.state.waitingFor = "waiting for joined workers to describe its routine types"
            journalTouch(job)
        case .undescribed(let why):
            job.state.waitingFor = "waiting: \(why)"
            journalTouch(job)
        case .waiting(let types):
            if job.state.waitingFor != waitingText(types) {
                journalTouch(job)
                job.state.waitingFor = waitingText(types)
                log(.info, "job \(job.id) \(waitingText(types))")
            }
        }
    }
}
