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
    }
    var input: Input
    var keys: Set<DescribeKey>
}

/// Whether a flow can run now, from what is known of its routine types.
enum FlowVerdict {
    case valid(CompiledFlow)
    case invalid(String)
    /// Joined workers are describing these types for these configs.
    case describing(Set<DescribeKey>)
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
        var replacing: Set<String> = []
        for d in descriptions {
            if let compiled = typeBook.base.describe(d.name), typeBook.base.isCompiled(d.name) {
                if !compiled.agrees(with: d) {
                    return "it describes routine type '\(d.name)' differently from this coordinator's built-in one (\(d.difference(from: compiled))); "
                        + "build the worker and the coordinator from the same Routilux version, or give the custom type another name"
                }
                continue
            }
            guard let known = typeBook.learned[d.name] else { continue }
            if known.agrees(with: d) { continue }
            if let host = workerOrder.first(where: { workers[$0]?.types.contains(d.name) == true && $0 != j.workerId }) {
                let w = workers[host]!
                return "it describes routine type '\(d.name)' differently from worker \(host)\(w.host.map { " on \($0)" } ?? "") (\(d.difference(from: known))); "
                    + "one type name must mean one thing in a cluster: stop the other workers first, or rename the type"
            }
            replacing.insert(d.name)
        }
        for d in descriptions {
            let replace = replacing.contains(d.name)
            if replace { log(.info, "routine type \(d.name) is described anew by worker \(j.workerId) (no joined worker holds the earlier description)") }
            if typeBook.base.isCompiled(d.name) { continue }
            if typeBook.learned[d.name] == nil || replace { typeBook.learn(d, replacing: replace) }
        }
        return nil
    }

    /// A live worker that hosts `key.type` and has not failed to describe it.
    func describer(for key: DescribeKey) -> String? {
        let failed = describeFailures[key] ?? []
        return workerOrder.first { workers[$0]?.types.contains(key.type) == true && !failed.contains($0) }
    }

    /// Asks a worker to describe `key` (once: a key already asked is not asked again).
    func requestDescribe(_ key: DescribeKey, config: JSONObject, now: Double) {
        guard describing[key] == nil, let worker = describer(for: key) else { return }
        let id = "d\(nextDescribeId)"
        nextDescribeId += 1
        describes[id] = PendingDescribe(key: key, workerId: worker, sentAt: now)
        describing[key] = id
        describeConfigs[key] = config
        counters.describesSent += 1
        actions.append(.send(workerId: worker, .describe(DescribeMessage(requestId: id, routineType: key.type), config: RawJSON(.object(config)))))
        actions.append(.wakeAt(now + describeTimeout))
    }

    func onDescribed(_ d: DescribedMessage, ports body: RawJSON?, peer: String?, now: Double) {
        guard let pending = describes[d.requestId], pending.workerId == d.workerId else {
            return unexpected(.described(d, ports: body), peer: peer, why: "no DESCRIBE '\(d.requestId)' is pending for worker '\(d.workerId)'")
        }
        workers[d.workerId]?.lastSeen = now
        describes.removeValue(forKey: d.requestId)
        describing.removeValue(forKey: pending.key)
        let key = pending.key
        if d.ok, let body {
            do {
                typeBook.remember(key, .ports(try RoutinePorts(json: try body.value(), path: "DESCRIBED body")))
            } catch {
                counters.malformedMessages += 1
                log(.warning, "worker \(d.workerId) described \(key.type) with a malformed body: \(error)")
                return describeFailed(key, worker: d.workerId, now: now)
            }
        } else if let message = d.configError {
            typeBook.remember(key, .configError(key: d.errorKey, message: message))
        } else {
            log(.warning, "worker \(d.workerId) cannot describe routine type \(key.type): \(d.error ?? "no reason given")")
            return describeFailed(key, worker: d.workerId, now: now)
        }
        describeConfigs.removeValue(forKey: key)
        describeFailures.removeValue(forKey: key)
        typesChanged(keys: [key], now: now)
    }

    /// `worker` did not (or could not) describe `key`: ask another host, if any.
    func describeFailed(_ key: DescribeKey, worker: String, now: Double) {
        describeFailures[key, default: []].insert(worker)
        if let config = describeConfigs[key], describer(for: key) != nil {
            requestDescribe(key, config: config, now: now)
        } else {
            describeConfigs.removeValue(forKey: key)
        }
        typesChanged(keys: [key], now: now)
    }

    /// Describes that took too long count as failures of their worker.
    func expireDescribes(now: Double) {
        for (id, p) in describes.sorted(by: { $0.key < $1.key }) where now - p.sentAt >= describeTimeout {
            describes.removeValue(forKey: id)
            describing.removeValue(forKey: p.key)
            counters.describeTimeouts += 1
            log(.warning, "worker \(p.workerId) did not describe routine type \(p.key.type) within \(describeTimeout) s")
            describeFailed(p.key, worker: p.workerId, now: now)
        }
    }

    /// A removed worker's pending describes go to another host.
    func dropDescribes(of workerId: String, now: Double) {
        for (id, p) in describes.sorted(by: { $0.key < $1.key }) where p.workerId == workerId {
            describes.removeValue(forKey: id)
            describing.removeValue(forKey: p.key)
            describeFailed(p.key, worker: workerId, now: now)
        }
    }

    /// Something was learned (a join, an answer, a failure): requests waiting on
    /// `keys` (all of them when nil) are handled again, and waiting jobs re-checked.
    func typesChanged(keys: Set<DescribeKey>?, now: Double) {
        let ready = held.filter { keys == nil || !$0.keys.isDisjoint(with: keys!) }
        held.removeAll { keys == nil || !$0.keys.isDisjoint(with: keys!) }
        for h in ready {
            switch h.input {
            case .submit(let req, let reply): onSubmit(req, reply: reply, now: now)
            case .resumeFrom(let state, let flow, let reply): resumeSaved(state, flow: flow, reply: reply, now: now)
            }
        }
        for job in jobsInRunOrder where job.state.status == .pending { recheck(job, now: now) }
    }

    /// Parks a request until workers have described `keys`.
    func hold(_ input: HeldRequest.Input, keys: Set<DescribeKey>, reply: ReplyTarget) {
        guard held.count < Self.maxHeldRequests else {
            actions.append(.reply(reply, .failure("too many requests are waiting for workers to describe routine types (\(Self.maxHeldRequests)); try again shortly")))
            return
        }
        held.append(HeldRequest(input: input, keys: keys))
    }

    /// Validates `def` with what is known now; asks workers to describe what is not.
    func check(_ def: FlowDefinition, file: String?, now: Double) -> FlowVerdict {
        var ports: [String: RoutinePorts] = [:]
        var pending: Set<DescribeKey> = []
        var missing: Set<String> = []
        for r in def.routines {
            switch typeBook.resolve(r.type, config: r.config, hosted: { self.describer(for: $0) != nil }) {
            case .ports(let p): ports[r.id] = p
            case .configError(let key, let message):
                let base = "routines.\(r.id).config"
                return .invalid(FlowValidationError(file: file, path: key.map { "\(base).\($0)" } ?? base, message: message).description)
            case .describe(let key):
                requestDescribe(key, config: r.config, now: now)
                pending.insert(key)
            case .noHost: missing.insert(r.type)
            }
        }
        do { try FlowLoader.checkPorts(def, portsById: ports, file: file) } catch { return .invalid(error.description) }
        if !pending.isEmpty { return .describing(pending) }
        if !missing.isEmpty { return .waiting(types: missing.sorted()) }
        return .valid(CompiledFlow(def, ports: ports))
    }

    /// Why a flow cannot start yet, for the job's state and the client.
    func waitingText(_ types: [String]) -> String {
        let unknown = types.filter { !typeBook.knows($0) }
        var s = "waiting for a worker hosting \(types.joined(separator: ", "))"
        if !unknown.isEmpty {
            s += " (not known here yet: no joined worker, catalogue file or built-in type has \(unknown.count == 1 ? "this name" : "these names"))"
        }
        return s
    }

    /// Re-validates a job that waits for workers; starts or fails it when it can.
    func recheck(_ job: JobRecord, now: Double) {
        switch check(job.flow.definition, file: nil, now: now) {
        case .valid(let compiled):
            job.flow = compiled
            start(job, now: now)
        case .invalid(let why):
            job.state.waitingFor = nil
            fail(job.id, error: why, errorType: "FlowValidationError", routineId: nil, now: now)
        case .describing:
            job.state.waitingFor = "waiting for joined workers to describe its routine types"
        case .waiting(let types):
            if job.state.waitingFor != waitingText(types) {
                job.state.waitingFor = waitingText(types)
                log(.info, "job \(job.id) \(waitingText(types))")
            }
        }
    }
}
