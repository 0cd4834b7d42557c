import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxWire
import Testing

/// Every message from the wire may be hostile: the numbers in it are bounded,
/// a worker id speaks only with its session (and key), nothing a peer sends
/// can make the core trap or grow without bound, and every drop is counted.
@Suite struct HostileInputTests {
    @Test func creditClaimsNearIntMaxAreCappedAndCannotOverflow() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.feed(.message(.join(JoinMessage(
            workerId: "w1", routineTypes: Builtins_names, capacity: 1, credit: Int.max - 1, endpoint: "ipc:///tmp/w1.sock", session: "s"),
            catalogue: nil), peer: nil))
        // The decoder refuses such a JOIN; fed directly, the core refuses it too.
        #expect(h.core.workerIds.isEmpty)
        h.join("w2", credit: 1_000_000)
        #expect(h.core.workerCredit("w2") == 64, "capped at --max-credit")
        h.feed(.message(.credit(CreditMessage(workerId: "w2", credit: Int.max)), peer: nil))
        h.feed(.message(.credit(CreditMessage(workerId: "w2", credit: Int.max)), peer: nil))
        #expect(h.core.workerCredit("w2") == 64)
        let job = h.submit(items(1))
        let t = h.newTasks()[0]
        var r = ResultMessage(
            workerId: "w2", jobId: job, taskId: t.header.taskId, attempt: 1, outcome: .ok, emissions: splitEmissions(1).map(\.0),
            handlerUs: Int.max, credit: Int.max)
        r.token = h.token("w2")
        h.feed(.message(.result(r, bodies: splitEmissions(1).map { RawJSON($0.1) }), peer: nil))
        #expect(h.core.workerCredit("w2")! <= 64)
        #expect(h.status(job) == .running)
    }

    @Test func theDecoderRefusesNumbersOutOfRange() throws {
        let codec = WireCodec()
        func frames(_ type: String, _ header: JSONValue) -> [[UInt8]] { [Array("RTX\(protocolVersion) \(type)".utf8), header.serialized()] }
        let cases: [(String, JSONValue, String)] = [
            ("CREDIT", ["v": .int(protocolVersion), "worker_id": "w", "credit": .int(Int.max), "token": "t"], "'credit' is out of range"),
            ("JOIN", ["v": .int(protocolVersion), "worker_id": "w", "routine_types": ["A"], "capacity": 1, "credit": .int(Int.max), "endpoint": "ipc:///x", "heartbeat_ms": 1000, "session": "s"], "'credit' is out of range"),
            ("RESULT", ["v": .int(protocolVersion), "worker_id": "w", "job_id": "j", "task_id": 1, "attempt": 1, "outcome": "ok", "emissions": [], "outputs": [], "handler_us": .int(Int.max), "credit": 1, "token": "t"], "'handler_us' is out of range"),
            ("HEARTBEAT", ["v": .int(protocolVersion), "sender_id": "w", "token": "t", "held": [0]], "held[0]"),
            ("JOIN", ["v": .int(protocolVersion), "worker_id": .string(String(repeating: "w", count: 300)), "routine_types": ["A"], "capacity": 1, "credit": 1, "endpoint": "ipc:///x", "heartbeat_ms": 1000, "session": "s"], "'worker_id' is too long"),
        ]
        for (type, header, message) in cases {
            #expect(throws: WireError.self, "\(type)") { try codec.decode(frames(type, header)) }
            do { _ = try codec.decode(frames(type, header)) } catch { #expect(error.description.contains(message), "\(error)") }
        }
    }

    @Test func forgedResultsWithTheRightIdsButNoSessionChangeNothing() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1")
        let job = h.submit(items(1))
        let t = h.newTasks()[0]
        // Right worker id, job id, task id and attempt; a guessed token.
        var forged = ResultMessage(
            workerId: "w1", jobId: job, taskId: t.header.taskId, attempt: 1, outcome: .ok, emissions: ["item"], handlerUs: 1)
        forged.token = "0123456789abcdef0123456789abcdef"
        h.feed(.message(.result(forged, bodies: [RawJSON(["item": "forged"])]), peer: "10.6.6.6"))
        #expect(h.core.counters.dropped[.unauthorized] == 1)
        #expect(h.core.ledgerCount == 1, "the task is still the real worker's")
        #expect(h.logs.contains { $0.contains("10.6.6.6") && $0.contains("wrong session token") })
        h.complete(t, emit: splitEmissions(1))
        for t in h.newTasks() { h.complete(t, emit: t.target == "a.input" ? [("output", ["mapped_data": "m"])] : []) }
        for t in h.newTasks() { h.complete(t) }
        #expect(h.status(job) == .completed)
        let data = h.core.jobState(job)!.executionHistory.map { String(decoding: $0.data.bytes, as: UTF8.self) }.joined()
        #expect(!data.contains("forged"))
    }

    @Test func aJoinUnderALiveWorkersIdWithAnotherSessionDoesNotEvictIt() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1")
        _ = h.submit(items(1))
        let t = h.newTasks()
        #expect(t.count == 1)
        h.join("w1", session: "impostor")
        #expect(h.core.inFlight(worker: "w1").count == 1, "the live worker keeps its task")
        #expect(h.core.counters.joinsRefused == 1)
        guard case .reject(let r) = h.sent.last?.message else { Issue.record("no REJECT"); return }
        #expect(r.session == "impostor" && r.retryMs != nil && r.reason.contains("held by a live session"))
        // Its messages, with its own (wrong) token, are refused too.
        h.feed(.message(.heartbeat(HeartbeatMessage(senderId: "w1", token: "impostor-token", held: [], received: 5)), peer: nil))
        #expect(h.core.ledgerCount == 1)
    }

    @Test func taskIdsAreRandomAndNotGuessableFromEachOther() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 64)
        _ = h.submit(items(20))
        let src = h.newTasks()[0]
        h.complete(src, emit: splitEmissions(20))
        let ids = h.newTasks().map(\.header.taskId) + [src.header.taskId]
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0 >= 1 && $0 <= UInt64(WireLimits.maxTaskId) })
        let sorted = ids.sorted()
        let adjacent = zip(sorted, sorted.dropFirst()).filter { $1 - $0 < 1000 }.count
        #expect(adjacent == 0, "no two ids close together: \(sorted)")
    }

    @Test func aTaskTheWorkerNoLongerHoldsIsTakenBackAtItsNextHeartbeat() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1")
        h.join("w2", credit: 0)
        let job = h.submit(items(1))
        let t = h.newTasks()[0]
        #expect(t.worker == "w1")
        // A heartbeat listing nothing, having received the task: it is lost.
        h.feed(.message(.heartbeat(HeartbeatMessage(senderId: "w1", held: [], received: 0)), peer: nil))
        #expect(h.core.ledgerCount == 1, "not received yet: still in transit")
        h.feed(.message(.heartbeat(HeartbeatMessage(senderId: "w1", held: [t.header.taskId], received: 1)), peer: nil))
        #expect(h.core.ledgerCount == 1, "held: a long task, not a lost one")
        h.feed(.message(.heartbeat(HeartbeatMessage(senderId: "w1", held: [], received: 1)), peer: nil))
        #expect(h.core.counters.tasksLost == 1)
        let again = h.newTasks()
        #expect(again.count == 1 && again[0].header.attempt == 2 && again[0].header.taskId == t.header.taskId)
        h.complete(t, emit: splitEmissions(1))
        #expect(h.core.counters.staleResults == 1, "the first attempt's answer is stale")
        h.complete(again[0], emit: splitEmissions(1))
        for t in h.newTasks() { h.complete(t, emit: t.target == "a.input" ? [("output", ["mapped_data": "m"])] : []) }
        for t in h.newTasks() { h.complete(t) }
        #expect(h.status(job) == .completed)
    }

    @Test func aLeaseThatRunsOutPutsTheTaskBackAndAWorkerThatNeverAnswersIsSentNoMore() throws {
        let flow = fanOutFlow.replacingOccurrences(of: "max_workers: 4}", with: "max_workers: 4, task_timeout: 2}")
        let h = try CoreHarness(flow: flow)
        h.join("silent", credit: 8)
        let job = h.submit(items(1))
        let first = h.newTasks()
        #expect(first.count == 1 && first[0].header.timeoutMs == 2000)
        for round in 1...2 {
            h.now += 1
            h.feed(.message(.heartbeat(HeartbeatMessage(senderId: "silent", held: [first[0].header.taskId], received: round)), peer: nil))
            h.now += 1.1
            h.feed(.tick)
            #expect(h.core.counters.leasesExpired == round)
            #expect(h.newTasks().map(\.header.attempt) == [round + 1], "sent again, attempt raised")
        }
        // A third run-out: the worker is sent no more, and the task fails with TaskTimeout (no policy: the job stops).
        h.now += 2.1
        h.feed(.tick)
        #expect(h.core.counters.leasesExpired == 3)
        #expect(h.logs.contains { $0.contains("silent is sent no tasks for 30 s") })
        #expect(h.status(job) == .failed)
        #expect(h.core.jobState(job)?.executionHistory.contains { $0.eventName == "error" && String(decoding: $0.data.bytes, as: UTF8.self).contains("TaskTimeout") } == true)
    }

    @Test func aSilentWorkersTasksGoToAnotherAfterTheLease() throws {
        let flow = fanOutFlow.replacingOccurrences(of: "max_workers: 4}", with: "max_workers: 4, task_timeout: 1}")
        let h = try CoreHarness(flow: flow)
        h.join("silent", credit: 1)
        let job = h.submit(items(1))
        let t = h.newTasks()[0]
        h.join("good", credit: 8)
        h.now += 1.05
        h.feed(.message(.heartbeat(HeartbeatMessage(senderId: "silent", held: [t.header.taskId], received: 1)), peer: nil))
        h.feed(.tick)
        let again = h.newTasks()
        #expect(again.map(\.worker) == ["good"])
        h.complete(again[0], emit: splitEmissions(1))
        for t in h.newTasks() { h.complete(t, emit: t.target == "a.input" ? [("output", ["mapped_data": "m"])] : []) }
        for t in h.newTasks() { h.complete(t) }
        #expect(h.status(job) == .completed)
        // The late answer changes nothing.
        h.complete(t, emit: splitEmissions(1))
        #expect(h.core.counters.staleResults == 1)
    }

    @Test func joinsAreBoundedAndAnUnusableEndpointOpensNoSocket() throws {
        let h = try CoreHarness(flow: fanOutFlow) { $0.maxWorkersJoined = 2 }
        h.join("w1")
        h.join("w2")
        let actions = h.feed(.message(.join(JoinMessage(
            workerId: "w3", routineTypes: ["Mapper"], capacity: 1, credit: 1, endpoint: "ipc:///tmp/w3.sock", session: "s"), catalogue: nil), peer: nil))
        #expect(h.core.workerIds == ["w1", "w2"])
        #expect(h.core.counters.dropped[.rateLimited] == 1)
        #expect(!actions.contains { if case .connectWorker = $0 { true } else { false } })
        let bad = h.feed(.message(.join(JoinMessage(
            workerId: "w4", routineTypes: ["Mapper"], capacity: 1, credit: 1, endpoint: "tcp://nowhere", session: "s"), catalogue: nil), peer: nil))
        #expect(bad.allSatisfy { if case .log = $0 { true } else { false } }, "no socket, no answer: \(bad)")
        #expect(h.core.counters.malformedMessages == 1)
    }

    @Test func withCurveEveryMessageNeedsAKeyOfTheRightRole() throws {
        let h = try CoreHarness(flow: fanOutFlow) { $0.authenticated = true }
        h.stampTokens = true
        let wk = Sender(address: "10.0.0.2", key: String(repeating: "W", count: 40), fingerprint: "wwww", role: .worker)
        let ck = Sender(address: "10.0.0.3", key: String(repeating: "C", count: 40), fingerprint: "cccc", role: .client)
        let other = Sender(address: "10.0.0.4", key: String(repeating: "O", count: 40), fingerprint: "oooo", role: .worker)
        h.feed(.keysChanged(workers: [wk.key!, other.key!], clients: [ck.key!]))
        h.join("w0")  // no key at all
        h.join("w1", peer: ck)  // a client key
        #expect(h.core.workerIds.isEmpty)
        #expect(h.core.counters.dropped[.unauthorized] == 2)
        #expect(h.core.counters.joinsRefused == 0, "no answer without a key or with the wrong role")
        h.join("w1", peer: wk)
        #expect(h.core.workerIds == ["w1"])
        // A worker key may not submit; a client key may.
        let submit = WireMessage.submit(SubmitMessage(requestId: "r1", replyTo: "ipc:///tmp/r1", flowId: "test"), params: RawJSON(items(1)), flow: nil)
        h.feed(.message(submit, peer: wk))
        #expect(h.core.counters.dropped[.unauthorized] == 3)
        #expect(h.replies.last?.reply.error?.contains("a worker key may not send SUBMIT") == true, "an authorized peer is told")
        h.feed(.message(submit, peer: ck))
        #expect(h.replies.last?.reply.ok == true)
        // Another worker key may not speak for w1, nor take its id while it lives or after.
        let t = h.newTasks()[0]
        var r = ResultMessage(workerId: "w1", jobId: t.header.jobId, taskId: t.header.taskId, attempt: 1, outcome: .ok, handlerUs: 1)
        r.token = h.token("w1")
        h.feed(.message(.result(r, bodies: []), peer: other))
        #expect(h.core.ledgerCount == 1)
        h.join("w1", session: "s9", peer: other)
        #expect(h.core.inFlight(worker: "w1").count == 1)
        guard case .reject(let reject) = h.sent.last?.message else { Issue.record("no REJECT"); return }
        #expect(reject.reason.contains("bound to another key"))
        // The same key re-joining (a restarted process) replaces its registration at once.
        h.join("w1", session: "s2", peer: wk)
        #expect(h.newTasks().map(\.header.attempt) == [2])
        // A removed key's worker is dropped and its work re-queued.
        h.feed(.keysChanged(workers: [other.key!], clients: [ck.key!]))
        #expect(h.core.workerIds.isEmpty)
        h.feed(.message(submit, peer: ck))
        #expect(h.core.counters.dropped[.unauthorized]! >= 4)
    }

    @Test func anOversizeRequestIsAnsweredAndAnOversizeTaskFailsItsActivation() throws {
        let h = try CoreHarness(flow: fanOutFlow) { $0.maxMessageBytes = 100_000 }
        let reply = ReplyTarget.local(77)
        h.feed(.oversize(bytes: 300_000, type: .submit, reply: reply, peer: "10.0.0.7"))
        #expect(h.replies.last?.reply.error?.contains("SUBMIT of 300000 bytes is over the coordinator's limit of 100000 bytes") == true)
        #expect(h.core.counters.dropped[.oversize] == 1)
        h.join("w1")
        let big = JSONValue.string(String(repeating: "x", count: 120_000))
        let job = h.submit(items(1))
        let src = h.newTasks()[0]
        h.complete(src, emit: [("item", ["item": ["blob": big]])])
        #expect(h.status(job) == .failed)
        #expect(h.core.jobState(job)?.executionHistory.contains { String(decoding: $0.data.bytes, as: UTF8.self).contains("PayloadTooLarge") } == true)
    }

    @Test func dropsAreLoggedRateLimitedWithASummary() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        for _ in 0..<100 { h.feed(.malformed(WireError(messageType: "RESULT", reason: "bad"), peer: "10.0.0.9")) }
        #expect(h.core.counters.malformedMessages == 100)
        #expect(h.logs.filter { $0.contains("(malformed)") }.count == 5)
        h.now += 11
        h.feed(.tick)
        #expect(h.logs.contains { $0.contains("95 more message(s) dropped as malformed") })
    }
}

/// The builtin types' names (what a default test worker hosts).
let Builtins_names = ["Mapper", "Splitter", "Collector"]

/// Credit and trust around leases: nothing leaks, and a slow worker that does answer is trusted again.
@Suite struct LeaseCreditTests {
    @Test func aLostTasksCreditComesBackAndALateAnswerReturnsItsOwn() throws {
        let flow = fanOutFlow.replacingOccurrences(of: "max_workers: 4}", with: "max_workers: 4, task_timeout: 1}")
        let h = try CoreHarness(flow: flow)
        h.join("w1", credit: 2)
        _ = h.submit(items(1))
        _ = h.newTasks()[0]
        #expect(h.core.workerCredit("w1") == 1)
        // Lost: received, not held, no answer. Its credit is free again.
        h.feed(.message(.heartbeat(HeartbeatMessage(senderId: "w1", held: [], received: 1)), peer: nil))
        let again = h.newTasks()[0]
        #expect(again.header.attempt == 2)
        #expect(h.core.workerCredit("w1") == 1, "one back for the lost task, one out for the new attempt")
        // That attempt runs past its lease; its late answer returns the credit it held.
        h.now += 1.1
        h.feed(.tick)
        let third = h.newTasks()
        #expect(third.map(\.header.attempt) == [3])
        #expect(h.core.workerCredit("w1") == 0)
        h.complete(again)
        #expect(h.core.counters.staleResults == 1)
        #expect(h.core.workerCredit("w1") == 1, "the late answer gave back its credit")
    }

    @Test func aSlowWorkerThatAnswersLateIsTrustedAgain() throws {
        let flow = fanOutFlow.replacingOccurrences(of: "max_workers: 4}", with: "max_workers: 4, task_timeout: 1}")
        let h = try CoreHarness(flow: flow) { $0.unresponsiveAfterExpiries = 1 }
        h.join("slow", credit: 4)
        _ = h.submit(items(1))
        let t = h.newTasks()[0]
        h.now += 1.1
        h.feed(.message(.heartbeat(HeartbeatMessage(senderId: "slow", held: [t.header.taskId], received: 1)), peer: nil))
        h.feed(.tick)
        #expect(h.logs.contains { $0.contains("slow is sent no tasks for 30 s") })
        #expect(h.newTasks().isEmpty, "no other worker, and this one is distrusted")
        h.complete(t, emit: splitEmissions(1))
        #expect(h.logs.contains { $0.contains("it is sent tasks again") })
        #expect(h.newTasks().map(\.header.attempt) == [2], "the re-queued attempt goes out again")
    }
}

@Suite struct FairDispatchTests {
    @Test func aWorkerThatClaimsMoreCreditIsNotSentMoreWhileOthersHaveRoom() throws {
        let h = try CoreHarness(flow: fanOutFlow.replacingOccurrences(of: "max_workers: 4}", with: "max_workers: 8}"))
        h.join("greedy", credit: 1_000_000)
        h.join("modest", credit: 4)
        _ = h.submit(items(4))
        let src = h.newTasks()[0]
        h.complete(src, emit: splitEmissions(4))
        let sent = h.newTasks()
        #expect(sent.count == 8)
        let modest = sent.filter { $0.worker == "modest" }.count
        #expect(modest == 4, "the least loaded worker with credit takes its share: \(sent.map(\.worker))")
    }
}

/// The review's findings, each pinned by a test.
@Suite struct BoundedStateTests {
    @Test func aWaitingQueryIsAnsweredByItsDeadlineAndWaitersAreBounded() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1")
        let job = h.submit(items(1))
        let target = ReplyTarget.local(900)
        h.feed(.query(jobId: job, wait: true, reply: target, waitMs: 2000))
        #expect(!h.replies.contains { $0.target == target })
        h.now += 2.1
        h.feed(.tick)
        let answer = try #require(h.replies.last { $0.target == target })
        #expect(answer.reply.status == .running, "answered with the state so far; the client asks again")
        for i in 0..<1000 { h.feed(.query(jobId: job, wait: true, reply: .local(1000 + UInt64(i)))) }
        h.feed(.query(jobId: job, wait: true, reply: .local(5000)))
        #expect(h.replies.last?.reply.error?.contains("1000 requests waiting") == true)
    }

    @Test func aRemovedKeyFreesItsWorkerIdsForTheNewKey() throws {
        let h = try CoreHarness(flow: fanOutFlow) { $0.authenticated = true }
        let old = Sender(address: "10.0.0.2", key: String(repeating: "A", count: 40), fingerprint: "old", role: .worker)
        let new = Sender(address: "10.0.0.2", key: String(repeating: "B", count: 40), fingerprint: "new", role: .worker)
        h.feed(.keysChanged(workers: [old.key!, new.key!], clients: []))
        h.join("host-1", peer: old)
        h.feed(.message(.leave(LeaveMessage(workerId: "host-1", reason: "restart")), peer: old))
        h.join("host-1", session: "s2", peer: new)
        #expect(h.core.workerIds.isEmpty, "still bound to the old key")
        h.feed(.keysChanged(workers: [new.key!], clients: []))
        h.join("host-1", session: "s3", peer: new)
        #expect(h.core.workerIds == ["host-1"], "rotated: the new key holds the id")
    }

    @Test func oneKeyRunsAtMost64Workers() throws {
        let h = try CoreHarness(flow: fanOutFlow) { $0.authenticated = true }
        let k = Sender(address: "10.0.0.2", key: String(repeating: "K", count: 40), fingerprint: "k", role: .worker)
        h.feed(.keysChanged(workers: [k.key!], clients: []))
        for i in 0..<65 { h.join("w\(i)", peer: k) }
        #expect(h.core.workerIds.count == 64)
        #expect(h.core.counters.dropped[.rateLimited] == 1)
    }

    @Test func aHandlerStoppedAtItsLeaseIsAnExpiryNotTheRoutinesError() throws {
        let flow = fanOutFlow.replacingOccurrences(of: "max_workers: 4}", with: "max_workers: 4, task_timeout: 1}")
        let h = try CoreHarness(flow: flow)
        h.join("w1")
        let job = h.submit(items(1))
        let t = h.newTasks()[0]
        h.now += 1.05  // past the lease, before the tick that would take it back
        h.fail(t, error: "LeaseExpired: its handler was stopped at the end of its lease", type: "LeaseExpired")
        #expect(h.status(job) == .running, "not failed by the stop policy")
        #expect(h.core.counters.leasesExpired == 1)
        #expect(h.newTasks().map(\.header.attempt) == [2])
        #expect(h.core.workerCredit("w1") == 7, "its credit came back with it, and went out with the new attempt")
    }

    @Test func theRoutinesOwnErrorAfterTheDeadlineStillGoesThroughItsPolicy() throws {
        let flow = fanOutFlow.replacingOccurrences(of: "max_workers: 4}", with: "max_workers: 4, task_timeout: 1}")
        let h = try CoreHarness(flow: flow)
        h.join("w1")
        let job = h.submit(items(1))
        let t = h.newTasks()[0]
        h.now += 1.05
        h.fail(t, error: "bad input", type: "RoutineError")
        #expect(h.status(job) == .failed, "the stop policy decides, as for any error")
    }

    @Test func aTaskLostAgainAndAgainFailsWithTaskTimeout() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1")
        let job = h.submit(items(1))
        var received = 0
        for _ in 0..<3 {
            guard h.newTasks().first != nil else { break }
            received += 1
            h.feed(.message(.heartbeat(HeartbeatMessage(senderId: "w1", held: [], received: received)), peer: nil))
        }
        #expect(h.status(job) == .failed)
        #expect(h.core.jobState(job)?.executionHistory.contains { String(decoding: $0.data.bytes, as: UTF8.self).contains("was lost 3 times") } == true)
    }

    @Test func anUnresponsiveWorkerIsTriedAgainLaterAndATaskAvoidsTheWorkerItExpiredOn() throws {
        let flow = fanOutFlow.replacingOccurrences(of: "max_workers: 4}", with: "max_workers: 4, task_timeout: 1}")
        let h = try CoreHarness(flow: flow) { $0.unresponsiveAfterExpiries = 1 }
        h.join("hung", credit: 8)
        h.join("ok", credit: 8)
        _ = h.submit(items(1))
        let first = h.newTasks()[0]
        #expect(first.worker == "hung")
        h.now += 1.1
        h.feed(.tick)
        #expect(h.newTasks().map(\.worker) == ["ok"], "sent elsewhere")
        h.now += 31
        h.feed(.tick)
        #expect(h.core.clusterStatus(now: h.now)["workers"].arrayValue?.first?["unresponsive"].stringValue == nil, "tried again after its pause")
    }

    @Test func aSavedJobWhoseIdCannotTravelIsRefused() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        var saved = JobState(flowId: "test", jobId: String(repeating: "j", count: 300), now: Timestamp(seconds: 1))
        try saved.transition(to: .running, at: Timestamp(seconds: 1))
        try saved.transition(to: .paused, at: Timestamp(seconds: 2))
        h.feed(.control(JobControl(jobId: saved.jobId, operation: .resumeFrom(saved, flow: nil)), reply: .local(1)))
        #expect(h.replies.last?.reply.error?.contains("job_id must be 1 to 256 bytes") == true, "\(h.replies.last?.reply.error ?? "")")
    }
}

@Suite struct TakenBackCreditTests {
    @Test func aTakenBackAttemptThatWillNeverBeAnsweredGivesItsCreditBackAtTheNextHeartbeat() throws {
        let flow = fanOutFlow.replacingOccurrences(of: "max_workers: 4}", with: "max_workers: 4, task_timeout: 1}")
        let h = try CoreHarness(flow: flow)
        h.join("w1", credit: 1)
        _ = h.submit(items(1))
        let t = h.newTasks()[0]
        h.now += 1.1
        h.feed(.tick)  // taken back; its TASK, it turns out, never reached the worker
        let again = h.newTasks()
        #expect(again.isEmpty, "no credit left for another attempt")
        // The worker has received one TASK (a later one would do as well) and holds nothing.
        h.feed(.message(.heartbeat(HeartbeatMessage(senderId: "w1", held: [], received: 1)), peer: nil))
        let sent = h.newTasks()
        #expect(sent.map(\.header.attempt) == [2], "its credit came back and the task went out again")
        #expect(sent.first?.header.taskId == t.header.taskId)
    }
}

@Suite struct FinishedJobsBoundTests {
    @Test func finishedJobsAreKeptByCountAndBySizeTheOldestForgottenFirst() throws {
        let flow = """
            flow_id: test
            routines:
              a: {type: Mapper}
            entry: {routine: a, slot: input}
            """
        let h = try CoreHarness(flow: flow) { $0.finishedJobsBytes = 150_000 }
        h.join("w1")
        var ids: [String] = []
        for _ in 0..<3 {
            let blob = JSONValue.string(String(repeating: "x", count: 100_000))
            let job = h.submit(["data": ["blob": blob]])
            let t = h.newTasks()[0]
            h.complete(t, emit: [("output", ["mapped_data": ["blob": blob]])])
            #expect(h.status(job) == .completed)
            ids.append(job)
        }
        // Each job holds over 100 KB: only the newest fits in 150 KB.
        let kept = ids.map { h.core.jobState($0) != nil }
        #expect(kept == [false, false, true], "the oldest are forgotten first, the newest always kept")
        // Emissions count too, not only the params: small params, large emissions.
        var more: [String] = []
        for _ in 0..<2 {
            let job = h.submit(["data": ["n": 1]])
            let t = h.newTasks()[0]
            h.complete(t, emit: [("output", ["mapped_data": ["blob": .string(String(repeating: "y", count: 100_000))]])])
            more.append(job)
        }
        #expect(more.map { h.core.jobState($0) != nil } == [false, true])
    }
}
