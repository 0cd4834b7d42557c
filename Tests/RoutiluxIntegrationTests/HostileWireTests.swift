import Foundation
import RoutiluxCore
import RoutiluxTestSupport
import RoutiluxTransport
import RoutiluxWire
import Testing

/// A hand-made peer of a running coordinator: it sends whatever frames a test
/// wants, and (as a worker) joins, heartbeats and collects the TASKs it gets.
final class RawPeer: @unchecked Sendable {
    let transport = Transport(name: "raw-peer")
    let codec = WireCodec()
    var inbox = ""
    private var reader: Task<Void, Never>?
    private let lock = NSLock()
    private var _received: [WireMessage] = []
    var received: [WireMessage] { lock.lock(); defer { lock.unlock() }; return _received }
    /// How many messages each ZeroMQ message held (1: it came alone; more: a BATCH).
    private var _arrivals: [Int] = []
    var arrivals: [Int] { lock.lock(); defer { lock.unlock() }; return _arrivals }

    init(coordinator: String) { transport.connect(peer: "c", endpoint: coordinator) }

    func send(_ m: WireMessage) { transport.send(to: "c", frames: codec.encode(m)) }
    func send(frames: [[UInt8]]) { transport.send(to: "c", frames: frames) }

    /// Binds the inbox and collects what arrives; `answer`, if given, is called with each message.
    func bind(answer: (@Sendable (WireMessage, RawPeer) -> Void)? = nil) async throws {
        inbox = try await transport.bindInbox("tcp://127.0.0.1:*")
        let stream = transport.inbound
        reader = Task { [weak self] in
            for await batch in stream {
                for m in batch {
                    guard let self else { return }
                    // A batch is unpacked as a worker does; its messages are handled in order.
                    let inner = BatchFraming.isBatch(m.frames) ? ((try? BatchFraming.unpack(m.frames)) ?? []) : [m.frames]
                    self.arrived(BatchFraming.isBatch(m.frames) ? inner.count : 1)
                    for frames in inner {
                        guard let w = try? self.codec.decode(frames) else { continue }
                        self.append(w)
                        answer?(w, self)
                    }
                }
            }
        }
    }

    private func arrived(_ n: Int) {
        lock.lock()
        defer { lock.unlock() }
        _arrivals.append(n)
    }

    private func append(_ m: WireMessage) {
        lock.lock()
        defer { lock.unlock() }
        _received.append(m)
    }

    var token: String? {
        for m in received.reversed() { if case .joined(let j) = m { return j.token } }
        return nil
    }
    var tasks: [TaskMessage] { received.compactMap { if case .task(let t, _, _, _, _, _) = $0 { t } else { nil } } }

    func close() async {
        reader?.cancel()
        await transport.shutdown()
    }
}

extension Integration {
    /// Single hostile messages that used to kill the coordinator, workers that
    /// never answer, impostors and over-size messages, against real processes.
    @Suite struct HostileWireTests {
        @Test func crashInputsLeaveTheCoordinatorAliveAndTheJobCorrect() async throws {
            let h = try ProcessHarness()
            let flow = try h.write("p4.yaml", pipeline4)
            let c = try await h.coordinator(flows: [flow])
            defer { Task { await h.shutdown() } }
            _ = try await h.workers(1, coordinator: c)
            let peer = RawPeer(coordinator: c.1)
            try await peer.bind()
            // A JOIN claiming credit near Int.max, then CREDIT and a RESULT with a huge handler_us.
            var join = JoinMessage(workerId: "greedy", routineTypes: ["Mapper"], capacity: 1, credit: 1, endpoint: peer.inbox, session: "s")
            peer.send(.join(join, catalogue: nil))
            try await waitUntil("the greedy worker to join") { peer.token != nil }
            let header: JSONValue = ["v": .int(protocolVersion), "worker_id": "greedy", "credit": .int(Int.max), "token": .string(peer.token!)]
            peer.send(frames: [Array("RTX\(protocolVersion) CREDIT".utf8), header.serialized()])
            peer.send(.credit(CreditMessage(workerId: "greedy", credit: WireLimits.maxCredit, token: peer.token!)))
            peer.send(.credit(CreditMessage(workerId: "greedy", credit: WireLimits.maxCredit, token: peer.token!)))
            let result: JSONValue = [
                "v": .int(protocolVersion), "worker_id": "greedy", "job_id": "j", "task_id": 1, "attempt": 1, "outcome": "ok",
                "emissions": [], "outputs": [], "handler_us": .int(Int.max), "credit": .int(Int.max), "token": .string(peer.token!),
            ]
            peer.send(frames: [Array("RTX\(protocolVersion) RESULT".utf8), result.serialized()])
            join.credit = Int.max
            join.workerId = "greedy2"
            peer.send(.join(join, catalogue: nil))
            // A thousand QUERYs with distinct dead reply endpoints, and a thousand JOINs with distinct endpoints.
            for i in 0..<1000 {
                peer.send(.query(QueryMessage(requestId: "q\(i)", replyTo: "tcp://127.0.0.1:\(20000 + i)", jobId: "nope", wait: false)))
            }
            for i in 0..<1000 {
                peer.send(.join(JoinMessage(workerId: "j\(i)", routineTypes: [], capacity: 1, credit: 1, endpoint: "tcp://127.0.0.1:\(30000 + i)", session: "s"), catalogue: nil))
            }
            // The greedy worker leaves; a real job then runs, exactly right.
            peer.send(.leave(LeaveMessage(workerId: "greedy", reason: "done", token: peer.token!)))
            let params = try h.write("params.json", pipelineParams(40))
            let done = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "p4", "--params", "@\(params)", "--wait", "--json"])
            #expect(done.code == 0, "\(done.err)\n\(c.0.stderr.suffix(3000))")
            #expect(try collectedIndexes(jobState(done.out)).sorted() == Array(0..<40))
            #expect(c.0.isRunning)
            let status = try await h.routilux(["cluster", "status", "--coordinator", c.1, "--json"])
            let s = try JSONValue.parse(Array(status.out.utf8)) as JSONValue
            #expect((s["dropped"]["malformed"].intValue ?? 0) >= 2, "the out-of-range CREDIT and RESULT: \(status.out)")
            #expect((s["workers"].arrayValue ?? []).count == 1)
            await peer.close()
        }

        @Test func aWorkerThatHeartbeatsButNeverAnswersLosesItsTasksAtTheLease() async throws {
            let h = try ProcessHarness()
            let flow = try h.write("p4.yaml", pipeline4.replacingOccurrences(of: "max_workers: 6}", with: "max_workers: 6, task_timeout: 1}"))
            let c = try await h.coordinator(flows: [flow])
            defer { Task { await h.shutdown() } }
            // The mute worker joins first and takes tasks; it keeps saying it holds them.
            // It answers each of the coordinator's heartbeats (one a second) with its own.
            let mute = RawPeer(coordinator: c.1)
            try await mute.bind { message, peer in
                guard case .heartbeat = message else { return }
                let held = peer.tasks.map(\.taskId)
                peer.send(.heartbeat(HeartbeatMessage(senderId: "mute", token: peer.token, held: held, received: held.count)))
            }
            mute.send(.join(JoinMessage(workerId: "mute", routineTypes: ["Splitter", "Mapper", "Collector"], capacity: 8, credit: 8, endpoint: mute.inbox, session: "s"), catalogue: nil))
            try await waitUntil("the mute worker to join") { mute.token != nil }
            let params = try h.write("params.json", pipelineParams(10))
            let submitted = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "p4", "--params", "@\(params)"])
            #expect(submitted.code == 0, "\(submitted.err)")
            try await waitUntil("the mute worker to get a task") { !mute.tasks.isEmpty }
            _ = try await h.workers(1, coordinator: c)
            let jobId = submitted.out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").first { $0.count == 36 }.map(String.init) ?? ""
            let done = try await h.routilux(["job", "wait", jobId, "--coordinator", c.1, "--json", "--timeout", "60"])
            #expect(done.code == 0, "\(done.err)\n\(c.0.stderr.suffix(3000))")
            #expect(try collectedIndexes(jobState(done.out)).sorted() == Array(0..<10), "every item exactly once")
            #expect(c.0.stderr.contains("ran past its task_timeout of 1 s; re-queued"))
            await mute.close()
        }

        @Test func aHandlerThatRunsPastItsLeaseIsStoppedAndFailsWithTaskTimeoutAfterThreeTries() async throws {
            let h = try ProcessHarness()
            let flow = try h.write("nap.yaml", """
                flow_id: nap
                routines:
                  nap: {type: Delay, config: {seconds: 30}, task_timeout: 0.5}
                entry: {routine: nap, slot: input}
                """)
            let c = try await h.coordinator(flows: [flow, try h.write("p4.yaml", pipeline4)])
            defer { Task { await h.shutdown() } }
            _ = try await h.workers(1, coordinator: c, extra: ["--concurrency", "1", "--prefetch", "0"])
            let started = Date()
            let r = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "nap", "--params", "{}", "--wait", "--json"])
            #expect(r.code == 1)
            #expect(r.out.contains("TaskTimeout") && r.out.contains("ran past its task_timeout of 0.5 s 3 times"), "\(r.out.suffix(2000))")
            #expect(Date().timeIntervalSince(started) < 15, "three leases of 0.5 s, not a 30 s nap")
            // The worker stopped each handler at its lease: its one slot is free for the next job at once.
            let params = try h.write("params.json", pipelineParams(5))
            let next = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "p4", "--params", "@\(params)", "--wait", "--timeout", "10"])
            #expect(next.code == 0, "the worker was still napping: \(next.err)")
        }

        @Test func withoutCurveATaskWithoutTheSessionTokenIsNotRun() async throws {
            let h = try ProcessHarness()
            let flow = try h.write("p4.yaml", pipeline4)
            let c = try await h.coordinator(flows: [flow])
            defer { Task { await h.shutdown() } }
            let w = try await h.workers(1, coordinator: c)
            let line = try #require(c.0.stderr.split(separator: "\n").first { $0.contains(" joined from ") })
            let inbox = try #require(line.components(separatedBy: " joined from ").last?.split(separator: " ").first.map(String.init))
            let attacker = RawPeer(coordinator: inbox)
            attacker.send(.task(
                TaskMessage(jobId: "evil-job", taskId: 7, flowId: "p4", routineId: "stage1", routineType: "Mapper", slot: "input", attempt: 1, token: "guess"),
                payload: RawJSON(["text": "pwned"]), config: RawJSON([:]), slotState: nil, routineState: nil, shared: nil))
            try await waitUntil("the worker to drop the stranger's TASK\n\(w[0].stderr.suffix(2000))") {
                w[0].stderr.contains("dropped TASK") && w[0].stderr.contains("not from the coordinator in this session")
            }
            let params = try h.write("params.json", pipelineParams(5))
            let done = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "p4", "--params", "@\(params)", "--wait"])
            #expect(done.code == 0, "\(done.err)")
            #expect(!c.0.stderr.contains("evil-job"), "it never ran: no RESULT for it reached the coordinator")
            await attacker.close()
        }

        @Test func aJoinUnderALiveWorkersIdIsRefusedForNowAndTheJobIsUnharmed() async throws {
            let h = try ProcessHarness()
            let flow = try h.write("slow.yaml", slowFlow)
            let c = try await h.coordinator(flows: [flow])
            defer { Task { await h.shutdown() } }
            _ = try await h.workers(1, coordinator: c, extra: ["--id", "shared-id"])
            let params = try h.write("params.json", JSONValue.object(["items": .array((0..<20).map { ["i": .int($0)] })]).jsonString())
            let submitted = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "slow", "--params", "@\(params)"])
            #expect(submitted.code == 0)
            let impostor = try h.start("routilux-worker", ["join", c.1, "--id", "shared-id"])
            try await waitUntil("the impostor to be refused for now\n\(impostor.stderr)") { impostor.stderr.contains("refused this worker for now") }
            let jobId = submitted.out.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.count == 36 }.map(String.init) ?? ""
            let done = try await h.routilux(["job", "wait", jobId, "--coordinator", c.1, "--json"])
            #expect(done.code == 0, "\(done.err)")
            let s = try jobState(done.out)
            #expect(s.outputLog.count == 20)
            #expect(!c.0.stderr.contains("re-joined"), "the live worker was never evicted")
        }

        @Test func overSizeMessagesGetClearErrorsAndNothingHangs() async throws {
            let h = try ProcessHarness()
            // History is the bulk of this one's JobState (three records of the payload; no output log).
            let echo = """
                flow_id: echo
                routines:
                  a: {type: Mapper}
                  b: {type: Mapper}
                connections:
                  - {from: a.output, to: b.input, param_mapping: {mapped_data: data}}
                entry: {routine: a, slot: input}
                """
            let triple = """
                flow_id: triple
                routines:
                  a: {type: Mapper, config: {mappings: {c1: {path: blob}, c2: {path: blob}, c3: {path: blob}}}}
                  sink: {type: Collector}
                connections:
                  - {from: a.output, to: sink.input, param_mapping: {mapped_data: data}}
                entry: {routine: a, slot: input}
                """
            let flows = [try h.write("echo.yaml", echo), try h.write("triple.yaml", triple)]
            let c = try await h.coordinator(flows: flows, extra: ["--max-message-bytes", "1000000"])
            defer { Task { await h.shutdown() } }
            _ = try await h.workers(1, coordinator: c, extra: ["--max-message-bytes", "600000"])
            func params(_ n: Int) throws -> String {
                try h.write("p\(n).json", JSONValue.object(["data": ["blob": .string(String(repeating: "x", count: n))]]).jsonString())
            }
            // A client refuses to send a SUBMIT over its own limit.
            let started = Date()
            let tooBig = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "echo", "--params", "@\(try params(2_000_000))", "--max-message-bytes", "1000000"])
            #expect(tooBig.code == 2 && tooBig.err.contains("over the 1000000-byte message limit"), "\(tooBig.err)")
            // The coordinator answers one over its limit at once.
            let overCoordinator = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "echo", "--params", "@\(try params(1_500_000))"])
            #expect(overCoordinator.code == 2 && overCoordinator.err.contains("over the coordinator's limit of 1000000 bytes"), "\(overCoordinator.err)")
            #expect(Date().timeIntervalSince(started) < 20, "no 35 s wait for 'no reply'")
            // A RESULT over the worker's limit fails its task with PayloadTooLarge.
            let failed = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "triple", "--params", "@\(try params(250_000))", "--wait", "--json"])
            #expect(failed.code == 1)
            #expect(failed.out.contains("PayloadTooLarge") && failed.out.contains("600000-byte message limit"), "\(failed.err)")
            // A JobState too large for one reply is refused with how to fetch it; trimmed, it comes.
            let big = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "echo", "--params", "@\(try params(400_000))"])
            let jobId = big.out.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.count == 36 }.map(String.init) ?? ""
            let whole = try await h.routilux(["job", "wait", jobId, "--coordinator", c.1])
            #expect(whole.code == 2 && whole.err.contains("--history-tail"), "\(whole.err)")
            let tail = try await h.routilux(["job", "status", jobId, "--coordinator", c.1, "--json", "--history-tail", "1"])
            #expect(tail.code == 0, "\(tail.err)")
            #expect(try jobState(tail.out).executionHistory.count == 1)
        }
    }
}
