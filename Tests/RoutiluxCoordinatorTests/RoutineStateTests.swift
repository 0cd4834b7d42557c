import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxWire
import Testing

let batchFlow = """
    flow_id: test
    routines:
      src: {type: Splitter, config: {field: items}}
      batch: {type: Batcher, config: {batch_size: 10, batch_timeout: 2}}
      sink: {type: Collector}
    connections:
      - {from: src.item, to: batch.input}
      - {from: batch.batch, to: sink.input}
    execution: {strategy: concurrent, max_workers: 8}
    """

@Suite struct RoutineStateTests {
    /// Answers a stateful routine's task by hand: new state, optional timer effects.
    func answer(_ h: CoreHarness, _ t: Dispatched, state: JSONObject, effects: HandlerEffects = HandlerEffects(), emit: [(String, JSONValue)] = []) {
        answerStateful(h, t, state: state, effects: effects, emit: emit)
    }

    func routineState(of h: CoreHarness, task: Dispatched) -> JSONValue? {
        for s in h.sent.reversed() {
            if case .task(let th, _, _, _, let st, _) = s.message, th.taskId == task.header.taskId { return try? st?.value() }
        }
        return nil
    }

    @Test func aStatefulRoutineRunsOneActivationAtATimeWithItsStateAndItsTimersKeepTheJobAlive() throws {
        let h = try CoreHarness(flow: batchFlow)
        h.join("w1", credit: 100)
        let job = h.submit(items(2))
        h.complete(h.newTasks()[0], emit: splitEmissions(2))
        var tasks = h.newTasks()
        #expect(tasks.count == 1, "one activation of the stateful routine at a time")
        #expect(tasks[0].header.routineState == true)
        #expect(routineState(of: h, task: tasks[0]) == [:])
        var timer = HandlerEffects()
        timer.timers = [.init(id: "flush", after: 2, slot: "_timer", data: [:])]
        answer(h, tasks[0], state: ["items": [1]], effects: timer)
        #expect(h.wakeups.last == h.now + 2)
        tasks = h.newTasks()
        #expect(routineState(of: h, task: tasks[0]) == ["items": [1]], "the state travels with the next activation")
        answer(h, tasks[0], state: ["items": [1, 2]])
        #expect(h.newTasks().isEmpty)
        #expect(h.status(job) == .running, "a pending timer keeps the job open")
        h.now += 2
        h.feed(.tick)
        let fire = h.newTasks()
        #expect(fire.map(\.target) == ["batch._timer"])
        answer(h, fire[0], state: [:], emit: [("batch", ["items": [1, 2], "count": 2, "batch_number": 1])])
        h.complete(h.newTasks()[0])
        #expect(h.status(job) == .completed)
    }

    @Test func aCancelledTimerNeverFires() throws {
        let h = try CoreHarness(flow: batchFlow)
        h.join("w1", credit: 100)
        let job = h.submit(items(2))
        h.complete(h.newTasks()[0], emit: splitEmissions(2))
        var set = HandlerEffects()
        set.timers = [.init(id: "flush", after: 2, slot: "_timer", data: [:])]
        answer(h, h.newTasks()[0], state: ["items": [1]], effects: set)
        var cancel = HandlerEffects()
        cancel.cancelledTimers = ["flush"]
        answer(h, h.newTasks()[0], state: [:], effects: cancel, emit: [("batch", ["items": [1, 2], "count": 2, "batch_number": 1])])
        h.complete(h.newTasks()[0])
        #expect(h.status(job) == .completed, "no timer left to wait for")
        h.now += 5
        h.feed(.tick)
        #expect(h.newTasks().isEmpty)
    }

    @Test func aSavedJobCarriesItsRoutinesStateToAnotherCoordinator() throws {
        let h = try CoreHarness(flow: batchFlow)
        h.join("w1", credit: 100)
        let job = h.submit(items(2))
        h.complete(h.newTasks()[0], emit: splitEmissions(2))
        let first = h.newTasks()[0]
        h.control(job, .pause(reason: "save", checkpoint: nil))
        answer(h, first, state: ["items": [1]])  // in flight at the pause: its state is kept
        let saved = try JobState(json: JSONValue.parse(try #require(h.core.jobState(job)).json.serialized()))
        #expect(saved.routineData["batch"] == ["items": [1]])
        #expect(saved.pendingTasks.count == 1)
        let fresh = try CoreHarness(flow: batchFlow)
        fresh.join("w9", credit: 100)
        #expect(fresh.control("", .resumeFrom(saved, flow: nil)).ok)
        let next = fresh.newTasks()
        #expect(next.map(\.target) == ["batch.input"])
        #expect(routineState(of: fresh, task: next[0]) == ["items": [1]], "the batch so far survives the move")
    }
}
