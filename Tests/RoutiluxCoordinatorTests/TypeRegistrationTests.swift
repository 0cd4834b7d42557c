import RoutiluxBuiltins
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxWire
import Testing

/// A custom type whose events follow its config (`routes: [names]`); other keys are typos.
let routerType = RoutineType("Router") { config in
    for k in config.keys where k != "routes" { throw RoutineConfigError(key: k, "unknown config key (expected: routes)") }
    var r = RoutineDefinition(config: config)
    r.event("output")
    for name in config["routes"]?.arrayValue?.compactMap(\.stringValue) ?? [] where !r.events.contains(name) { r.event(name) }
    r.slot("input") { _, _ in }
    return r
}

let greeterType = RoutineType("Greeter") { config in
    var r = RoutineDefinition(config: config)
    r.event("greeting")
    r.slot("input") { _, _ in }
    return r
}

/// Another build's Greeter: one more event.
let greeterV2Type = RoutineType("Greeter") { config in
    var r = RoutineDefinition(config: config)
    r.event("greeting")
    r.event("farewell")
    r.slot("input") { _, _ in }
    return r
}

func customRegistry(_ types: RoutineType...) -> RoutineRegistry {
    var reg = Builtins.registry
    for t in types { reg.register(t) }
    return reg
}

let greetFlow = """
    flow_id: test
    routines:
      greet: {type: Greeter}
      sink: {type: Collector}
    connections:
      - {from: greet.greeting, to: sink.input}
    entry: {routine: greet, slot: input}
    """

extension CoreHarness {
    /// Submits a flow document; returns the reply when one came.
    func submitDocument(_ yaml: String, failFast: Bool = false, target: UInt64 = 500) -> ControlReply? {
        let doc = try! FlowLoader.parseDocument(Array(yaml.utf8), isJSON: false, file: nil)
        let before = replies.count
        feed(.submit(SubmitRequest(flow: .document(doc, name: "doc"), params: RawJSON([:]), failFast: failFast), reply: .local(target)))
        return replies.count > before ? replies.last!.reply : nil
    }

    /// DESCRIBEs sent since the start, with their worker.
    var describes: [(worker: String, header: DescribeMessage, config: JSONValue)] {
        sent.compactMap { s in
            if case .describe(let h, let c) = s.message { return (s.worker, h, try! c.value()) }
            return nil
        }
    }

    /// A worker's answer to a DESCRIBE, as its registry builds it.
    func answer(_ d: (worker: String, header: DescribeMessage, config: JSONValue), with registry: RoutineRegistry) {
        let message: WireMessage
        switch registry.describe(d.header.routineType, config: d.config.objectValue!) {
        case .ports(let p)?:
            message = .described(DescribedMessage(workerId: d.worker, requestId: d.header.requestId, ok: true), ports: RawJSON(.object(p.json)))
        case .configError(let k, let m)?:
            message = .described(DescribedMessage(workerId: d.worker, requestId: d.header.requestId, ok: false, configError: m, errorKey: k), ports: nil)
        case nil:
            message = .described(DescribedMessage(workerId: d.worker, requestId: d.header.requestId, ok: false, error: "not hosted"), ports: nil)
        }
        feed(.message(message, peer: nil))
    }
}

@Suite struct TypeRegistrationTests {
    @Test func aWorkerTeachesTheCoordinatorItsTypesAndTheirJobsRunThere() throws {
        let h = try CoreHarness(flow: greetFlow, allowUnknownTypes: true)
        h.join("custom", hosting: customRegistry(greeterType))
        #expect(h.core.workerIds == ["custom"], "accepted: no catalogue needed")
        #expect(h.core.knownTypes.contains("Greeter"))
        // An empty config: the JOIN's own description answers, no round trip.
        let job = h.submit()
        #expect(h.describes.isEmpty)
        let t = h.newTasks()
        #expect(t.map(\.target) == ["greet.input"])
        h.complete(t[0], emit: [("greeting", ["message": "hi"])])
        h.complete(h.newTasks()[0])
        #expect(h.status(job) == .completed)
    }

    @Test func portsThatFollowConfigAreDescribedByAWorkerForThatConfig() throws {
        let h = try CoreHarness(flow: greetFlow, allowUnknownTypes: true)
        let reg = customRegistry(routerType)
        h.join("w1", hosting: reg)
        let flow = """
            routines:
              r: {type: Router, config: {routes: [high, low]}}
              sink: {type: Collector}
            connections:
              - {from: r.high, to: sink.input}
            entry: {routine: r, slot: input}
            """
        #expect(h.submitDocument(flow) == nil, "held until the worker describes Router for this config")
        let d = try #require(h.describes.first)
        #expect(d.worker == "w1" && d.header.routineType == "Router" && d.config == ["routes": ["high", "low"]])
        h.answer(d, with: reg)
        let started = try #require(h.replies.last?.reply)
        #expect(started.ok && started.status == .running, "\(started.error ?? "")")
        #expect(h.newTasks().map(\.target) == ["r.input"])
        // The same config again: the cached answer, no second DESCRIBE.
        #expect(h.submitDocument(flow)?.ok == true)
        #expect(h.describes.count == 1)
        // Another config: another description, and an event it lacks is refused with its path.
        #expect(h.submitDocument(flow.replacingOccurrences(of: "[high, low]", with: "[low]")) == nil)
        h.answer(h.describes[1], with: reg)
        #expect(h.replies.last?.reply.error == "doc: connections[0].from: unknown event 'high' on routine 'r' (events: output, low)")
        // A config the type refuses: the worker's verdict, at the key's path.
        #expect(h.submitDocument(flow.replacingOccurrences(of: "routes: [high, low]", with: "routes: [high], rutes: 1")) == nil)
        h.answer(h.describes[2], with: reg)
        #expect(h.replies.last?.reply.error == "doc: routines.r.config.rutes: unknown config key (expected: routes)")
    }

    @Test func aJobWhoseTypeNoWorkerHostsWaitsThenRunsWhenOneJoins() throws {
        let h = try CoreHarness(flow: greetFlow, allowUnknownTypes: true)
        h.join("stock")
        let job = h.submit()
        let state = try #require(h.core.jobState(job))
        #expect(state.status == .pending)
        #expect(state.waitingFor?.hasPrefix("waiting for a worker hosting Greeter") == true, "\(state.waitingFor ?? "")")
        #expect(state.json["waiting_for"].stringValue == state.waitingFor)
        #expect(h.newTasks().isEmpty)
        // Asked to fail fast instead: refused, saying why.
        let refused = try #require(h.submitDocument(greetFlow, failFast: true))
        #expect(refused.error?.contains("refused (fail fast): no joined worker hosts routine type Greeter") == true)
        #expect(h.control(job, .resume).error?.contains("is pending") == true)
        h.join("custom", hosting: customRegistry(greeterType))
        #expect(h.status(job) == .running)
        #expect(h.core.jobState(job)?.waitingFor == nil)
        let t = h.newTasks()
        #expect(t.map(\.worker) == ["custom"])
        #expect(h.core.jobState(job)?.executionHistory.first?.eventName == "start")
    }

    @Test func aWaitingJobWhoseTypeTurnsOutToRefuseItsConfigFails() throws {
        let h = try CoreHarness(flow: greetFlow.replacingOccurrences(of: "{type: Greeter}", with: "{type: Router, config: {x: 1}}").replacingOccurrences(of: "greet.greeting", with: "greet.output"), allowUnknownTypes: true)
        let job = h.submit(wait: true)
        #expect(h.status(job) == .pending)
        let reg = customRegistry(routerType)
        h.join("w1", hosting: reg)
        h.answer(try #require(h.describes.first), with: reg)
        let state = try #require(h.core.jobState(job))
        #expect(state.status == .failed)
        #expect(h.replies.last?.reply.status == .failed, "its waiter is answered")
        #expect(state.executionHistory.last?.data.valueOrError["error"].stringValue == "routines.greet.config.x: unknown config key (expected: routes)")
    }

    @Test func cancellingAPendingJobEndsIt() throws {
        let h = try CoreHarness(flow: greetFlow, allowUnknownTypes: true)
        let job = h.submit()
        #expect(h.control(job, .cancel(reason: "no worker")).status == .cancelled)
        h.join("custom", hosting: customRegistry(greeterType))
        #expect(h.newTasks().isEmpty)
    }

    @Test func aSecondWorkerThatDescribesATypeDifferentlyIsRefusedNamingTheFirst() throws {
        let h = try CoreHarness(flow: greetFlow, allowUnknownTypes: true)
        h.join("w1", hosting: customRegistry(greeterType))
        h.join("w2", hosting: customRegistry(greeterV2Type))
        guard case .reject(let r) = h.sent.last?.message else { Issue.record("expected REJECT"); return }
        #expect(r.reason.contains("describes routine type 'Greeter' differently from worker w1"), "\(r.reason)")
        #expect(r.reason.contains("events [greeting] vs [greeting, farewell]"), "\(r.reason)")
        #expect(h.core.workerIds == ["w1"])
        // Once no worker holds the old description, it is forgotten and the new one is learned.
        h.feed(.message(.leave(LeaveMessage(workerId: "w1", reason: "redeploy")), peer: nil))
        h.join("w2", hosting: customRegistry(greeterV2Type), session: "s2")
        #expect(h.core.workerIds == ["w2"])
        let farewell = greetFlow.replacingOccurrences(of: "greet.greeting", with: "greet.farewell")
        #expect(h.submitDocument(farewell)?.ok == true, "the new description's event")
    }

    @Test func aWorkerWhoseBuiltinDiffersFromTheCoordinatorsIsRefused() throws {
        let h = try CoreHarness(flow: greetFlow, allowUnknownTypes: true)
        let odd = RoutineType("Collector") { config in
            var r = RoutineDefinition(config: config)
            r.slot("in") { _, _ in }
            return r
        }
        h.join("w1", hosting: customRegistry(odd))
        guard case .reject(let r) = h.sent.last?.message else { Issue.record("expected REJECT"); return }
        #expect(r.reason.contains("differently from this coordinator's built-in one (slots [input] vs [in])"), "\(r.reason)")
    }

    @Test func aDescribeThatIsNotAnsweredGoesToAnotherHostThenIsRefusedSayingWhy() throws {
        let h = try CoreHarness(flow: greetFlow, workerTimeoutMs: 60_000, allowUnknownTypes: true)
        let reg = customRegistry(routerType)
        h.join("w1", hosting: reg)
        h.join("w2", hosting: reg)
        let flow = "routines:\n  r: {type: Router, config: {routes: [a]}}\nentry: {routine: r, slot: input}\n"
        #expect(h.submitDocument(flow) == nil)
        #expect(h.describes.map(\.worker) == ["w1"])
        h.now += 6
        h.feed(.tick)
        #expect(h.describes.map(\.worker) == ["w1", "w2"], "asked again, elsewhere")
        #expect(h.core.counters.describeTimeouts == 1)
        // w2 says it cannot either: every host failed, so the submit is refused with both reasons.
        let d = h.describes[1]
        h.feed(.message(.described(DescribedMessage(workerId: "w2", requestId: d.header.requestId, ok: false, error: "not hosted"), ports: nil), peer: nil))
        let reply = try #require(h.replies.last?.reply)
        #expect(reply.error == "routine type Router (routines.r): no joined worker could describe it for this config (w1: no answer within 5.0 s; w2: not hosted); try again later")
        // A worker that joins is asked; failures are forgotten after a while.
        h.join("w3", hosting: reg)
        #expect(h.submitDocument(flow) == nil)
        #expect(h.describes.last?.worker == "w3")
        h.answer(h.describes.last!, with: reg)
        #expect(h.replies.last?.reply.status == .running)
        h.feed(.message(.leave(LeaveMessage(workerId: "w3", reason: "bye")), peer: nil))
        h.now += 31
        h.feed(.tick)
        #expect(h.submitDocument(flow.replacingOccurrences(of: "[a]", with: "[b]")) == nil)
        #expect(h.describes.last?.worker == "w1", "its failure is forgotten")
    }

    @Test func aHostThatRejoinsWhileDescribingIsAskedAgainWithoutRefusingAnything() throws {
        let h = try CoreHarness(flow: greetFlow, allowUnknownTypes: true)
        let reg = customRegistry(routerType)
        h.join("w1", hosting: reg)
        #expect(h.submitDocument("routines:\n  r: {type: Router, config: {routes: [a]}}\nentry: {routine: r, slot: input}\n", failFast: true) == nil)
        // Back with a new session once the old one is silent (a live one is not evicted).
        h.now += 5.5
        h.join("w1", hosting: reg, session: "s2")
        #expect(h.replies.isEmpty, "still held: the host is back")
        #expect(h.describes.count == 2 && h.describes[1].worker == "w1")
        h.answer(h.describes[1], with: reg)
        #expect(h.replies.last?.reply.status == .running)
    }

    @Test func aJobWhoseTypesAreBuiltinWaitsForAWorkerToo() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        let job = h.submit(items(1))
        #expect(h.status(job) == .pending)
        #expect(h.core.jobState(job)?.waitingFor?.hasPrefix("waiting for a worker hosting Collector, Mapper, Splitter") == true)
        let refused = try #require(h.submitDocument(fanOutFlow, failFast: true))
        #expect(refused.error?.contains("no joined worker hosts routine type Collector, Mapper, Splitter") == true)
        h.join("w1")
        #expect(h.status(job) == .running)
        #expect(h.newTasks().map(\.target) == ["src.trigger"])
    }

    @Test func aRequestHeldTooLongIsAnsweredAndPendingJobsAreBounded() throws {
        let h = try CoreHarness(flow: greetFlow, workerTimeoutMs: 600_000, allowUnknownTypes: true)
        let reg = customRegistry(routerType)
        // Six hosts that never answer: 5 s each would outlast a client; the hold ends at 20 s.
        for i in 1...6 { h.join("w\(i)", hosting: reg) }
        #expect(h.submitDocument("routines:\n  r: {type: Router, config: {routes: [z]}}\nentry: {routine: r, slot: input}\n") == nil)
        for _ in 0..<5 {
            h.now += 5
            h.feed(.tick)
        }
        let reply = try #require(h.replies.last?.reply)
        #expect(reply.error == "timed out after 20 s waiting for joined workers to describe routine type(s) Router")
    }
    @Test func describedAnswersFromTheWrongWorkerOrForNothingAreDropped() throws {
        let h = try CoreHarness(flow: greetFlow, allowUnknownTypes: true)
        h.join("w1", hosting: customRegistry(routerType))
        h.feed(.message(.described(DescribedMessage(workerId: "w1", requestId: "d99", ok: true), ports: RawJSON(["slots": ["input"], "events": []])), peer: "tcp://10.9.9.9:1"))
        #expect(h.core.counters.unexpectedMessages == 1)
        #expect(h.logs.last?.contains("no DESCRIBE 'd99' is pending for worker 'w1'") == true)
    }

    @Test func oversizedDescriptionsAreRefused() throws {
        let h = try CoreHarness(flow: greetFlow, allowUnknownTypes: true)
        let huge = RawJSON(.array([["type": "Greeter", "slots": ["input"], "events": .array((0..<700_000).map { .string("e\($0)") })]]))
        h.feed(.message(.join(JoinMessage(
            workerId: "big", routineTypes: ["Greeter"], capacity: 1, credit: 1, endpoint: "ipc:///tmp/big", session: "s", catalogue: true), catalogue: huge), peer: nil))
        guard case .reject(let r) = h.sent.last?.message else { Issue.record("expected REJECT"); return }
        #expect(r.reason.contains("its catalogue (JOIN body) has"), "\(r.reason)")
        h.join("w1", hosting: customRegistry(routerType))
        #expect(h.submitDocument("routines:\n  r: {type: Router, config: {routes: [a]}}\nentry: {routine: r, slot: input}\n") == nil)
        let d = try #require(h.describes.first)
        let ports = RawJSON(["slots": ["input"], "events": .array((0..<100_000).map { .string("event-\($0)") })])
        h.feed(.message(.described(DescribedMessage(workerId: "w1", requestId: d.header.requestId, ok: true), ports: ports), peer: nil))
        #expect(h.core.counters.malformedMessages == 2, "the refused JOIN and the DESCRIBED")
        #expect(h.replies.last?.reply.error?.contains("w1: an answer over 1048576 bytes") == true, "\(h.replies.last?.reply.error ?? "")")
    }

    @Test func anAnswerTooLargeToCacheStillReachesTheRequestWaitingOnIt() throws {
        let h = try CoreHarness(flow: greetFlow, allowUnknownTypes: true)
        let reg = customRegistry(greeterType)
        h.join("w1", hosting: reg)
        let blob = String(repeating: "x", count: 1_100_000)  // a config over 1 MiB
        #expect(h.submitDocument("routines:\n  r: {type: Greeter, config: {blob: \(blob)}}\nentry: {routine: r, slot: input}\n") == nil)
        h.answer(try #require(h.describes.first), with: reg)
        #expect(h.replies.last?.reply.status == .running, "\(h.replies.last?.reply.error ?? "no reply")")
        #expect(h.describes.count == 1, "answered once, not asked again and again")
    }

    @Test func aCatalogueFileNeverReplacesACompiledType() throws {
        var files = RoutineCatalogue()
        files.add("ConditionalRouter", .fixed(TypeDescription(name: "ConditionalRouter", ports: RoutinePorts(slots: ["input"], events: ["output"]))))
        var c = Builtins.registry.catalogue
        c.merge(files)
        #expect(c.isCompiled("ConditionalRouter"))
        let ports = try c.ports(of: "ConditionalRouter", config: ["routes": [["high", "data.x > 1"]]])
        #expect(ports?.events == ["output", "high"])
    }
}
