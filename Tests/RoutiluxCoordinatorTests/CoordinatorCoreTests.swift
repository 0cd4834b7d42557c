import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxWire
import Testing

/// A source fanning out to two routines, one of which feeds a third.
let fanOutFlow = """
    flow_id: test
    routines:
      src: {type: Splitter, config: {field: items}}
      a: {type: Mapper}
      b: {type: Collector}
      c: {type: Collector}
    connections:
      - {from: src.item, to: a.input, param_mapping: {item: data}}
      - {from: src.item, to: b.input}
      - {from: a.output, to: c.input, param_mapping: {mapped_data: data}}
    execution: {strategy: concurrent, max_workers: 4}
    entry: {routine: src}
    """

let sequentialFlow = fanOutFlow.replacingOccurrences(of: "strategy: concurrent, max_workers: 4", with: "strategy: sequential")

func items(_ n: Int, tag: String = "x") -> JSONValue {
    ["items": .array((0..<n).map { ["i": .int($0), "tag": .string(tag)] })]
}

/// The emissions a Splitter makes for `n` items.
func splitEmissions(_ n: Int, tag: String = "x") -> [(String, JSONValue)] {
    (0..<n).map { i in ("item", ["item": ["i": .int(i), "tag": .string(tag)], "index": .int(i), "count": .int(n)]) }
}

@Suite struct CoordinatorCoreTests {
    @Test func routesEmissionsInConnectionOrderWithTheirMapping() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 100)
        let job = h.submit(items(2))
        let start = h.newTasks()
        #expect(start.map(\.target) == ["src.trigger"])
        #expect(start[0].payload == items(2))
        #expect(start[0].header.attempt == 1)
        h.complete(start[0], emit: splitEmissions(2))
        let next = h.newTasks()
        #expect(next.map(\.target) == ["a.input", "b.input", "a.input", "b.input"])
        #expect(next[0].header.paramMapping == [["item", "data"]])
        #expect(next[1].header.paramMapping == nil)
        // Payloads travel untouched: the worker applies the mapping.
        #expect(next.map { $0.payload["index"] } == [0, 0, 1, 1])
        #expect(next.allSatisfy { $0.header.jobId == job })
        #expect(h.core.counters.emissionsRouted == 2)
        #expect(h.core.counters.deliveries == 4)
    }

    @Test func aRepeatedConnectionKeepsItsPlaceAndTheLastMapping() throws {
        let flow = fanOutFlow.replacingOccurrences(
            of: "  - {from: a.output", with: "  - {from: src.item, to: a.input, param_mapping: {index: data}}\n  - {from: a.output")
        let h = try CoreHarness(flow: flow)
        h.join("w1", credit: 100)
        _ = h.submit(items(1))
        h.complete(h.newTasks()[0], emit: splitEmissions(1))
        let next = h.newTasks()
        #expect(next.map(\.target) == ["a.input", "b.input"])
        #expect(next[0].header.paramMapping == [["index", "data"]])
    }

    @Test func completesExactlyWhenTheLastResultArrives() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 100)
        let job = h.submit(items(2), wait: true)
        #expect(h.replies.isEmpty, "a waiting submit answers only at the end")
        h.complete(h.newTasks()[0], emit: splitEmissions(2))
        var pending = h.newTasks()
        var rounds = 0
        while !pending.isEmpty {
            #expect(h.status(job) == .running)
            #expect(h.finished.isEmpty)
            let t = pending.removeFirst()
            if t.header.routineId == "a" {
                h.complete(t, emit: [("output", ["mapped_data": t.payload["item"], "fields_mapped": []])])
            } else {
                h.complete(t, outputs: [("item", t.payload)])
            }
            pending += h.newTasks()
            rounds += 1
        }
        #expect(rounds == 6)
        #expect(h.status(job) == .completed)
        #expect(h.finished.count == 1 && h.finished[0].job == job && h.finished[0].status == .completed)
        #expect(h.replies.count == 1 && h.replies[0].reply.status == .completed)
        let state = try #require(h.core.jobState(job))
        #expect(state.outputLog.count == 4)
        #expect(Set(state.routineStates.keys) == ["src", "a", "b", "c"])
        // History in causal order: the start, then each emit before anything it caused.
        #expect(state.executionHistory.first?.eventName == "start")
        #expect(state.executionHistory.filter { $0.eventName == "item" }.count == 2)
        #expect(h.core.ledgerCount == 0)
    }

    @Test func neverSendsAWorkerMoreThanItsCredit() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 2)
        let job = h.submit(items(5), maxWorkers: 50)
        h.complete(h.newTasks()[0], emit: splitEmissions(5))
        var inFlight = h.newTasks()
        #expect(inFlight.count == 2)
        var done = 0
        while !inFlight.isEmpty {
            #expect(h.core.inFlight(worker: "w1").count <= 2)
            #expect(h.core.workerCredit("w1")! >= 0)
            let t = inFlight.removeFirst()
            if t.header.routineId == "a" {
                h.complete(t, emit: [("output", ["mapped_data": 1])])
            } else {
                h.complete(t)
            }
            done += 1
            inFlight += h.newTasks()
            #expect(inFlight.count <= 2)
        }
        #expect(done == 15)
        #expect(h.status(job) == .completed)
        #expect(h.core.workerCredit("w1") == 2)
    }

    @Test func creditMessagesOpenTheWindow() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 0)
        _ = h.submit(items(1))
        #expect(h.newTasks().isEmpty, "no credit, no task")
        h.feed(.message(.credit(CreditMessage(workerId: "w1", credit: 1)), peer: nil))
        #expect(h.newTasks().map(\.target) == ["src.trigger"])
    }

    @Test func maxWorkersBoundsAJobsTasksInFlight() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 100)
        h.join("w2", credit: 100)
        let job = h.submit(items(4), maxWorkers: 3)
        h.complete(h.newTasks()[0], emit: splitEmissions(4))
        let batch = h.newTasks()
        #expect(batch.count == 3)
        #expect(h.core.inFlightCount(job: job) == 3)
        #expect(h.core.queuedCount(job: job) == 5)
        // Spread over both workers (the one with most credit left goes first).
        #expect(Set(batch.map(\.worker)) == ["w1", "w2"])
        h.complete(batch[0])
        #expect(h.newTasks().count == 1)
    }

    @Test func maxWorkersOneRunsInGlobalFifoOrder() throws {
        let h = try CoreHarness(flow: sequentialFlow)
        h.join("w1", credit: 100)
        let job = h.submit(items(2))
        var order: [String] = []
        var next = h.newTasks()
        while let t = next.first {
            #expect(next.count == 1, "one task at a time")
            #expect(h.core.inFlightCount(job: job) == 1)
            order.append("\(t.target)#\(t.payload["index"].intValue ?? t.payload["mapped_data"]["i"].intValue ?? -1)")
            switch t.header.routineId {
            case "src": h.complete(t, emit: splitEmissions(2))
            case "a": h.complete(t, emit: [("output", ["mapped_data": t.payload["item"]])])
            default: h.complete(t)
            }
            next = h.newTasks()
        }
        #expect(order == ["src.trigger#-1", "a.input#0", "b.input#0", "a.input#1", "b.input#1", "c.input#0", "c.input#1"])
        #expect(h.status(job) == .completed)
    }

    @Test func twoJobsOnOneFlowNeverSeeEachOthersData() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 100)
        let j1 = h.submit(items(1, tag: "one"))
        let j2 = h.submit(items(2, tag: "two"))
        var pending = h.newTasks()
        #expect(pending.count == 2)
        while !pending.isEmpty {
            // Interleave the jobs' results: last dispatched first.
            let t = pending.removeLast()
            let tag = t.header.jobId == j1 ? "one" : "two"
            switch t.header.routineId {
            case "src": h.complete(t, emit: splitEmissions(tag == "one" ? 1 : 2, tag: tag))
            case "a": h.complete(t, emit: [("output", ["mapped_data": t.payload["item"]])])
            default: h.complete(t, outputs: [("item", t.payload)])
            }
            pending += h.newTasks()
        }
        let s1 = try #require(h.core.jobState(j1))
        let s2 = try #require(h.core.jobState(j2))
        #expect(s1.status == .completed && s2.status == .completed)
        #expect(s1.outputLog.count == 2 && s2.outputLog.count == 4)
        #expect(!s1.outputLog.description.contains("\"two\""))
        #expect(!s2.outputLog.description.contains("\"one\""))
        #expect(s1.executionHistory.allSatisfy { !$0.data.valueOrError.description.contains("\"two\"") })
        #expect(s2.executionHistory.allSatisfy { !$0.data.valueOrError.description.contains("\"one\"") })
    }

    @Test func aSilentWorkerIsDeclaredDeadAndItsTasksRunElsewhere() throws {
        let h = try CoreHarness(flow: fanOutFlow, workerTimeoutMs: 2000)
        h.join("w1", credit: 1)
        let job = h.submit(items(1))
        let first = h.newTasks()
        #expect(first.map(\.worker) == ["w1"])
        h.join("w2", credit: 1)
        h.now += 1.5
        h.feed(.message(.heartbeat(HeartbeatMessage(senderId: "w2")), peer: nil))
        h.feed(.tick)
        #expect(h.core.workerIds == ["w1", "w2"])
        h.now += 1.0
        h.feed(.tick)
        #expect(h.core.workerIds == ["w2"])
        #expect(h.core.counters.workersLost == 1)
        let retried = h.newTasks()
        #expect(retried.map(\.worker) == ["w2"])
        #expect(retried[0].header.attempt == 2)
        #expect(retried[0].target == "src.trigger")
        // The dead worker's late answer is dropped (it is no longer joined) and changes nothing.
        h.complete(first[0], emit: splitEmissions(1))
        #expect(h.core.counters.dropped[.unknownWorker] == 1)
        #expect(h.core.queuedCount(job: job) == 0)
        h.complete(retried[0], emit: splitEmissions(1))
        #expect(h.core.queuedCount(job: job) + h.core.inFlightCount(job: job) == 2)
    }

    @Test func aLeavingWorkersTasksAreRequeuedInOrder() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 100)
        let job = h.submit(items(3), maxWorkers: 10)
        h.complete(h.newTasks()[0], emit: splitEmissions(3))
        let sent = h.newTasks()
        #expect(sent.count == 6)
        h.feed(.message(.leave(LeaveMessage(workerId: "w1", reason: "test")), peer: nil))
        #expect(h.core.queuedCount(job: job) == 6)
        h.join("w2", credit: 100)
        let again = h.newTasks()
        #expect(again.map(\.header.taskId) == sent.map(\.header.taskId))
        #expect(again.allSatisfy { $0.header.attempt == 2 && $0.worker == "w2" })
    }

    @Test func aJoinWithANewSessionRequeuesWhatTheOldOneHeld() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 4)
        let job = h.submit(items(1))
        let old = h.newTasks()
        #expect(old.count == 1)
        // The process restarted (same id, same endpoint): a new session, let in
        // once the old one is silent (without CURVE nothing proves it is the same worker).
        h.now += 5.5
        h.join("w1", credit: 4, session: "s2")
        let again = h.newTasks()
        #expect(again.map(\.header.taskId) == old.map(\.header.taskId))
        #expect(again[0].header.attempt == 2)
        #expect(h.core.workerCredit("w1") == 3)
        // The old session's answer is stale: no routing, no credit.
        h.complete(old[0], emit: splitEmissions(1))
        #expect(h.core.counters.staleResults == 1)
        #expect(h.core.workerCredit("w1") == 3)
        #expect(h.core.queuedCount(job: job) == 0)
        h.complete(again[0], emit: splitEmissions(1))
        #expect(h.core.workerCredit("w1") == 2, "one credit back, two new tasks out")
        #expect(h.newTasks().count == 2)
    }

    @Test func badJoinsAreRefusedWithAReason() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.feed(.message(.join(JoinMessage(workerId: "w0", routineTypes: ["Splitter"], capacity: 0, credit: 1, endpoint: "ipc:///tmp/x", session: "s"), catalogue: nil), peer: nil))
        guard case .reject(let r) = h.sent.last?.message else { Issue.record("expected REJECT"); return }
        #expect(r.reason.contains("capacity"))
        #expect(h.core.workerIds.isEmpty)
    }

    @Test func aRepeatedJoinIsAnsweredWithoutResettingTheWorker() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 3)
        _ = h.submit(items(1))
        #expect(h.newTasks().count == 1)
        h.join("w1", credit: 3)
        guard case .joined = h.sent.last?.message else { Issue.record("expected JOINED"); return }
        #expect(h.core.inFlight(worker: "w1").count == 1)
        #expect(h.core.workerCredit("w1") == 2)
    }

    @Test func malformedAndUnexpectedInputIsCountedAndHarmless() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 100)
        let job = h.submit(items(1))
        let t = h.newTasks()[0]
        h.feed(.malformed(WireError(messageType: "RESULT", reason: "bad"), peer: "10.0.0.9"))
        h.feed(.message(.credit(CreditMessage(workerId: "ghost", credit: 5)), peer: "10.0.0.9"))
        h.feed(.message(.joined(JoinedMessage(workerId: "x", coordinatorId: "y", heartbeatMs: 1, session: "s", token: "t")), peer: "10.0.0.9"))
        #expect(h.core.counters.malformedMessages == 1)
        #expect(h.core.counters.dropped[.unknownWorker] == 1, "a CREDIT from a worker that never joined")
        #expect(h.core.counters.unexpectedMessages == 1, "a JOINED sent to the coordinator")
        #expect(h.logs.contains { $0.contains("10.0.0.9") && $0.contains("bad") })
        #expect(h.status(job) == .running)
        h.complete(t, emit: splitEmissions(1))
        #expect(h.core.queuedCount(job: job) + h.core.inFlightCount(job: job) == 2)
    }

    @Test func aRoutineErrorStopsTheJobByDefault() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 100)
        let job = h.submit(items(2))
        h.complete(h.newTasks()[0], emit: splitEmissions(2))
        let tasks = h.newTasks()
        h.fail(tasks[0], error: "boom")
        #expect(h.status(job) == .failed)
        let state = try #require(h.core.jobState(job))
        #expect(state.routineStates["a"]?["status"] == "failed")
        #expect(state.routineStates["a"]?["error"] == "boom")
        #expect(h.core.queuedCount(job: job) == 0)
        // Results still arriving for the failed job are accepted but route nothing.
        h.complete(tasks[1], emit: [])
        #expect(h.newTasks().isEmpty)
    }

    @Test func unknownFlowAndBadParamsAreRefused() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.feed(.submit(SubmitRequest(flow: .id("nope"), params: RawJSON([:])), reply: .local(7)))
        #expect(h.replies.last?.reply.ok == false)
        #expect(h.replies.last?.reply.error?.contains("unknown flow 'nope'") == true)
        h.feed(.submit(SubmitRequest(flow: .id("test"), params: RawJSON([1, 2])), reply: .local(8)))
        #expect(h.replies.last?.reply.error?.contains("params must be a JSON object") == true)
    }

    @Test func queryAnswersNowOrAtTheEnd() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 100)
        let job = h.submit(["items": []])
        h.feed(.query(jobId: job, wait: false, reply: .local(50)))
        #expect(h.replies.last?.reply.status == .running)
        h.feed(.query(jobId: job, wait: true, reply: .local(51)))
        let before = h.replies.count
        h.complete(h.newTasks()[0], emit: [("empty", ["data": []])])
        #expect(h.status(job) == .completed)
        #expect(h.replies.count == before + 1)
        #expect(h.replies.last?.target == .local(51))
        h.feed(.query(jobId: "nope", wait: false, reply: .local(52)))
        #expect(h.replies.last?.reply.error == "unknown job 'nope'")
    }
}

@Suite struct RetentionTests {
    @Test func finishedJobsAreForgottenBeyondTheLimitEvenWithResultsOutstanding() throws {
        let h = try CoreHarness(flow: fanOutFlow, finishedJobsKept: 1)
        h.join("w1", credit: 100)
        let j1 = h.submit(items(2))
        h.complete(h.newTasks()[0], emit: splitEmissions(2))
        let outstanding = h.newTasks()
        h.fail(outstanding[0], error: "boom")
        #expect(h.status(j1) == .failed)
        let j2 = h.submit(["items": []])
        h.complete(h.newTasks()[0], emit: [("empty", ["data": []])])
        #expect(h.status(j2) == .completed)
        #expect(h.core.jobState(j1) == nil, "only the last finished job is kept")
        // A late result for the forgotten job is harmless.
        h.complete(outstanding[1])
        #expect(h.core.ledgerCount == 2)
        #expect(h.core.workerCredit("w1")! > 0)
    }
}
