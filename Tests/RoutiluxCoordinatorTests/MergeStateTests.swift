import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxWire
import Testing

/// src fans out to an append Collector.
let appendFlow = """
    flow_id: test
    routines:
      src: {type: Splitter, config: {field: items}}
      sink: {type: Collector, config: {merge: append}}
    connections:
      - {from: src.item, to: sink.input}
    execution: {strategy: concurrent, max_workers: 8}
    """

@Suite struct MergeStateTests {
    /// The worker's side of an append slot, done by hand: merge, answer with the new state.
    func answer(_ h: CoreHarness, _ t: Dispatched, state: RawJSON?, fail: Bool = false) throws {
        var s = try state?.value().objectValue ?? [:]
        _ = try MergeStrategy.append.merge(state: &s, new: t.payload.objectValue!, custom: { _ in nil })
        if fail { return h.fail(t, error: "boom") }
        let header = ResultMessage(
            workerId: t.worker, jobId: t.header.jobId, taskId: t.header.taskId, attempt: t.header.attempt, outcome: .ok,
            slotState: true)
        h.feed(.message(.result(header, bodies: [RawJSON(.object(s))]), peer: nil))
    }

    func lastState(_ h: CoreHarness) -> RawJSON? {
        for s in h.sent.reversed() { if case .task(_, _, _, let state, _, _) = s.message { return state } }
        return nil
    }

    @Test func aStatefulSlotTakesOneDeliveryAtATimeAndItsStateTravelsWithTheTask() throws {
        let h = try CoreHarness(flow: appendFlow)
        h.join("w1", credit: 100)
        let job = h.submit(items(3))
        h.complete(h.newTasks()[0], emit: splitEmissions(3))
        var seenStates: [JSONValue] = []
        for round in 0..<3 {
            let tasks = h.newTasks()
            #expect(tasks.count == 1, "round \(round): one delivery in flight for the append slot")
            #expect(tasks[0].header.merge == "append")
            let state = lastState(h)
            seenStates.append(try state?.value() ?? .null)
            try answer(h, tasks[0], state: state)
        }
        #expect(seenStates[0] == [:])
        #expect(seenStates[2]["index"] == [0, 1])
        let s = try #require(h.core.jobState(job))
        #expect(s.status == .completed)
        #expect(s.slotStates["sink.input"]?["index"] == [0, 1, 2])
    }

    @Test func eachJobHasItsOwnSlotStateAndAFailedDeliveryCommitsNothing() throws {
        let flow = appendFlow.replacingOccurrences(of: "config: {merge: append}}", with: "config: {merge: append}, error_handler: {strategy: continue}}")
        let h = try CoreHarness(flow: flow)
        h.join("w1", credit: 100)
        let j1 = h.submit(items(2, tag: "one"))
        let j2 = h.submit(items(2, tag: "two"))
        var pending = h.newTasks()
        var failedOnce = false
        while !pending.isEmpty {
            let t = pending.removeFirst()
            if t.header.routineId == "src" {
                h.complete(t, emit: splitEmissions(2, tag: t.header.jobId == j1 ? "one" : "two"))
            } else {
                let state = h.sent.last { if case .task(let th, _, _, _, _, _) = $0.message { return th.taskId == t.header.taskId } else { return false } }
                guard case .task(_, _, _, let st, _, _)? = state?.message else { Issue.record("no task"); return }
                let fail = t.header.jobId == j2 && !failedOnce
                if fail { failedOnce = true }
                try answer(h, t, state: st, fail: fail)
            }
            pending += h.newTasks()
        }
        let s1 = try #require(h.core.jobState(j1))
        let s2 = try #require(h.core.jobState(j2))
        #expect(s1.slotStates["sink.input"]?["item"].arrayValue?.allSatisfy { $0["tag"] == "one" } == true)
        #expect(s1.slotStates["sink.input"]?["index"] == [0, 1])
        #expect(s2.slotStates["sink.input"]?["index"] == [1], "the failed first delivery left no trace")
    }
}
