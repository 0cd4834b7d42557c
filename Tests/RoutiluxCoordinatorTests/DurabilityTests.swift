import Foundation
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxStore
import RoutiluxWire
import Testing

/// source → a → sink, concurrent: the journal's three-stage job.
let threeStageFlow = """
    flow_id: test
    routines:
      src: {type: Splitter, config: {field: items}}
      a: {type: Mapper}
      c: {type: Collector}
    connections:
      - {from: src.item, to: a.input, param_mapping: {item: data}}
      - {from: a.output, to: c.input, param_mapping: {mapped_data: data}}
    execution: {strategy: concurrent, max_workers: 4}
    entry: {routine: src}
    """

/// A fresh state directory, removed at the end of the test.
final class StateDir {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("routilux-state-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    }
    func open() throws(StoreError) -> JobStore { try JobStore(directory: path) }
    var journal: String { path + "/" + JobStore.databaseName }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Answers a task as the stock routines would: the source splits, `a` maps, the sink collects.
func answerAsStock(_ h: CoreHarness, _ t: Dispatched, items n: Int) {
    switch t.header.routineId {
    case "src": h.complete(t, emit: splitEmissions(n))
    case "a": h.complete(t, emit: [("output", ["mapped_data": t.payload["item"], "fields_mapped": []])])
    default: h.complete(t, outputs: [("collected", t.payload["mapped_data"])])
    }
}

/// The `i` of every item the sink collected, in order.
func collected(_ state: JobState?) -> [Int] {
    (state?.outputLog ?? []).compactMap { $0["data"]["i"].intValue }
}

@Suite struct DurabilityTests {
    /// Runs the job on `h`, answering every task as it is sent (plus `pending`, sent before), to its
    /// end or for `limit` answers; returns the tasks still in flight.
    @discardableResult
    func drive(_ h: CoreHarness, items n: Int, pending: [Dispatched] = [], answers limit: Int = 100_000) -> [Dispatched] {
        var queue = pending + h.newTasks()
        var answered = 0
        while !queue.isEmpty && answered < limit {
            answerAsStock(h, queue.removeFirst(), items: n)
            queue += h.newTasks()
            answered += 1
        }
        return queue
    }

    @Test func aRestartContinuesTheJobAndEachItemReachesTheSinkOnce() throws {
        let dir = StateDir()
        var store: JobStore? = try dir.open()
        var h: CoreHarness? = try CoreHarness(flow: threeStageFlow, store: store)
        h!.join("w1", credit: 4)
        h!.join("w2", credit: 4)
        let job = h!.submit(items(300))
        // Part of the job runs: some tasks answered, eight left in flight.
        let inFlight = drive(h!, items: 300, answers: 450)
        let before = collected(h!.core.jobState(job))
        #expect(!before.isEmpty && before.count < 300, "the sink got part of the items (\(before.count))")
        #expect(inFlight.count == 4, "max_workers tasks in flight at the crash: \(inFlight.count)")
        // The last turns are not committed: a crash after they were decided, before their commit.
        h!.committing = false
        for t in inFlight.prefix(3) { answerAsStock(h!, t, items: 300) }
        let stale = inFlight
        h = nil
        store = nil  // the process is gone: its lock goes with it

        let reopened = try dir.open()
        let restarted = try CoreHarness(flow: threeStageFlow, store: reopened, restoring: try reopened.load(), jobIdStart: 1)
        #expect(restarted.status(job) == .running)
        #expect(collected(restarted.core.jobState(job)) == before, "what was committed, and only that")
        restarted.join("w1", credit: 4, session: "s2")
        restarted.join("w2", credit: 4, session: "s2")
        let again = restarted.newTasks()
        #expect(again.count == 4)
        #expect(again.allSatisfy { $0.header.attempt == 2 }, "tasks in flight at the crash run again, attempt raised")
        #expect(Set(again.map(\.header.taskId)) == Set(stale.map(\.header.taskId)), "the same tasks, first in the queue")
        // Late answers to the old attempts (from the workers' old sessions) change nothing.
        let dropped = restarted.core.counters.staleResults
        for t in stale { answerAsStock(restarted, t, items: 300) }
        #expect(restarted.core.counters.staleResults == dropped + stale.count)
        drive(restarted, items: 300, pending: again)
        #expect(restarted.status(job) == .completed)
        let all = collected(restarted.core.jobState(job))
        #expect(all.count == 300 && all.sorted() == Array(0..<300), "each item exactly once (\(all.count) collected)")
    }

    @Test func aFinishedJobIsReadBackFromTheStoreAfterARestart() async throws {
        let dir = StateDir()
        var h: CoreHarness? = try CoreHarness(flow: threeStageFlow, store: try dir.open())
        h!.join("w1", credit: 8)
        let job = h!.submit(items(5))
        drive(h!, items: 5)
        #expect(h!.status(job) == .completed)
        h = nil
        let store = try dir.open()
        let stored = try store.load()
        #expect(stored.jobs.isEmpty, "nothing left to continue")
        #expect(stored.finishedJobs == 1)
        let restarted = try CoreHarness(flow: threeStageFlow, store: store, restoring: stored)
        let actions = restarted.core.handle(.query(jobId: job, wait: false, reply: .local(7)), now: restarted.now)
        guard case .lookUp(let id, _, _)? = actions.first else {
            Issue.record("a job not in memory is looked up in the store: \(actions)")
            return
        }
        #expect(id == job)
        // Awaited, never waited for with a semaphore: tests share the cooperative pool.
        let read = try #require(try await store.job(id: job))
        let state = try CoordinatorCore.jobState(read)
        #expect(state.status == .completed)
        #expect(collected(state).sorted() == Array(0..<5))
        #expect(state.executionHistory.count == h?.core.jobState(job)?.executionHistory.count ?? state.executionHistory.count)
    }

    @Test func aPausedJobIsStillPausedAfterARestartAndResumesOnce() throws {
        let dir = StateDir()
        var h: CoreHarness? = try CoreHarness(flow: threeStageFlow, store: try dir.open())
        h!.join("w1", credit: 4)
        let job = h!.submit(items(40))
        var tasks = h!.newTasks()
        for _ in 0..<20 {
            answerAsStock(h!, tasks.removeFirst(), items: 40)
            tasks += h!.newTasks()
        }
        #expect(h!.control(job, .pause(reason: "look", checkpoint: ["at": 20])).ok)
        for t in tasks { answerAsStock(h!, t, items: 40) }  // in flight at the pause: parked
        #expect(h!.newTasks().isEmpty)
        let pending = h!.core.jobState(job)?.pendingTasks.count ?? 0
        h = nil

        let reopened = try dir.open()
        let restarted = try CoreHarness(flow: threeStageFlow, store: reopened, restoring: try reopened.load(), jobIdStart: 1)
        restarted.join("w1", credit: 4, session: "s2")
        let state = try #require(restarted.core.jobState(job))
        #expect(state.status == .paused)
        #expect(state.pausePoints.last?["checkpoint"] == ["at": 20])
        #expect(state.pendingTasks.count == pending, "the same pending tasks (\(state.pendingTasks.count) of \(pending))")
        #expect(restarted.newTasks().isEmpty, "a paused job sends nothing")
        #expect(restarted.control(job, .resume).ok)
        drive(restarted, items: 40)
        #expect(restarted.status(job) == .completed)
        #expect(collected(restarted.core.jobState(job)).sorted() == Array(0..<40))
    }

    @Test func aRetryDelayAndATimerKeepTheirTimesAcrossARestart() throws {
        let retrying = threeStageFlow.replacingOccurrences(
            of: "  a: {type: Mapper}", with: "  a: {type: Mapper, error_handler: {strategy: retry, max_retries: 2, retry_delay: 5}}")
        let dir = StateDir()
        var h: CoreHarness? = try CoreHarness(flow: retrying, store: try dir.open())
        h!.join("w1", credit: 4)
        let job = h!.submit(items(1))
        h!.complete(h!.newTasks()[0], emit: splitEmissions(1))
        let first = h!.newTasks()[0]
        h!.fail(first, error: "flaky")
        let failedAt = h!.now
        h = nil

        let reopened = try dir.open()
        let restarted = try CoreHarness(flow: retrying, store: reopened, restoring: try reopened.load(), jobIdStart: 1)
        restarted.now = failedAt + 2
        restarted.join("w1", credit: 4, session: "s2")
        restarted.feed(.tick)
        #expect(restarted.newTasks().isEmpty, "the retry is not due before its delay")
        restarted.now = failedAt + 5
        restarted.feed(.tick)
        let retry = restarted.newTasks()
        #expect(retry.map(\.target) == ["a.input"])
        #expect(retry.first?.header.attempt == 2)
        drive(restarted, items: 1, pending: retry)
        #expect(restarted.status(job) == .completed)
        #expect(collected(restarted.core.jobState(job)) == [0])
    }

    @Test func aRoutinesTimerFiresAtItsTimeAfterARestart() throws {
        let dir = StateDir()
        var h: CoreHarness? = try CoreHarness(flow: batchFlow, store: try dir.open())
        h!.join("w1", credit: 100)
        let job = h!.submit(items(1))
        h!.complete(h!.newTasks()[0], emit: splitEmissions(1))
        var timer = HandlerEffects()
        timer.timers = [.init(id: "flush", after: 10, slot: "_timer", data: [:])]
        let t = h!.newTasks()[0]
        answerStateful(h!, t, state: ["items": [1]], effects: timer)
        let setAt = h!.now
        h = nil

        let reopened = try dir.open()
        let restarted = try CoreHarness(flow: batchFlow, store: reopened, restoring: try reopened.load(), jobIdStart: 1)
        restarted.now = setAt + 9
        restarted.join("w1", credit: 100, session: "s2")
        restarted.feed(.tick)
        #expect(restarted.newTasks().isEmpty, "not before its time")
        restarted.now = setAt + 10
        restarted.feed(.tick)
        let fire = restarted.newTasks()
        #expect(fire.map(\.target) == ["batch._timer"])
        answerStateful(restarted, fire[0], state: [:], emit: [("batch", ["items": [1], "count": 1, "batch_number": 1])])
        restarted.complete(restarted.newTasks()[0])
        #expect(restarted.status(job) == .completed)
    }

    @Test func aJobTimeoutKeepsItsDeadlineAcrossARestart() throws {
        let timed = threeStageFlow.replacingOccurrences(of: "max_workers: 4}", with: "max_workers: 4, timeout: 30}")
        let dir = StateDir()
        var h: CoreHarness? = try CoreHarness(flow: timed, store: try dir.open())
        h!.join("w1", credit: 4)
        let job = h!.submit(items(3))
        let startedAt = h!.now
        _ = h!.newTasks()
        h = nil
        let reopened = try dir.open()
        let restarted = try CoreHarness(flow: timed, store: reopened, restoring: try reopened.load(), jobIdStart: 1)
        restarted.now = startedAt + 29
        restarted.feed(.tick)
        #expect(restarted.status(job) == .running)
        restarted.now = startedAt + 30
        restarted.feed(.tick)
        #expect(restarted.status(job) == .failed, "timed out 30 s after it started, not after the restart")
    }

    @Test func aTaskCreatedAndRetriedInOneTurnIsJournalled() throws {
        // The emission is too big to send: it fails in the turn that created it and waits for its retry.
        let retrying = threeStageFlow.replacingOccurrences(
            of: "  a: {type: Mapper}", with: "  a: {type: Mapper, error_handler: {strategy: retry, max_retries: 1, retry_delay: 5}}")
        let dir = StateDir()
        var h: CoreHarness? = try CoreHarness(flow: retrying, store: try dir.open()) { $0.maxMessageBytes = 100_000 }
        h!.join("w1", credit: 4)
        let job = h!.submit(items(1))
        let big = String(repeating: "x", count: 50_000)
        h!.complete(h!.newTasks()[0], emit: [("item", ["item": ["i": 0, "text": .string(big)], "index": 0, "count": 1])])
        #expect(h!.newTasks().isEmpty, "too big to send: it waits for its retry")
        h = nil
        let reopened = try dir.open()
        let stored = try reopened.load()
        #expect(stored.jobs.first?.tasks.map(\.place) == [.retry], "the retry is in the store")
        let restarted = try CoreHarness(flow: retrying, store: reopened, restoring: stored, jobIdStart: 1) { $0.maxMessageBytes = 100_000 }
        #expect(restarted.status(job) == .running, "the job waits for its retry; it did not complete")
    }

    @Test func aFailedJobLeavesNoTaskInTheStore() throws {
        let dir = StateDir()
        var h: CoreHarness? = try CoreHarness(flow: threeStageFlow, store: try dir.open())
        h!.join("w1", credit: 4)
        let job = h!.submit(items(50))
        h!.complete(h!.newTasks()[0], emit: splitEmissions(50))
        h!.fail(h!.newTasks()[0], error: "broken")
        #expect(h!.status(job) == .failed)
        h = nil
        let stored = try dir.open().load()
        #expect(stored.jobs.isEmpty)
        #expect(stored.finishedJobs == 1)
    }
}

/// Answers a stateful routine's task: its new state, effects, emissions.
func answerStateful(_ h: CoreHarness, _ t: Dispatched, state: JSONObject, effects: HandlerEffects = HandlerEffects(), emit: [(String, JSONValue)] = []) {
    var bodies = emit.map { RawJSON($0.1) }
    bodies.append(RawJSON(.object(state)))
    if !effects.isEmpty { bodies.append(RawJSON(effects.json)) }
    let header = ResultMessage(
        workerId: t.worker, jobId: t.header.jobId, taskId: t.header.taskId, attempt: t.header.attempt, outcome: .ok,
        emissions: emit.map(\.0), effects: effects.isEmpty ? nil : true, routineState: true)
    h.feed(.message(.result(header, bodies: bodies), peer: nil))
}

@Suite struct StateDirTests {
    @Test func aSecondCoordinatorOnTheSameStateDirIsRefused() throws {
        let dir = StateDir()
        let first = try dir.open()
        #expect(throws: StoreError.self) { _ = try dir.open() }
        do { _ = try dir.open() } catch { #expect(error.description.contains("is in use by another coordinator (pid \(getpid()))"), "\(error)") }
        first.close()
    }

    @Test func aCorruptJournalIsRefusedAndLeftAsItWas() throws {
        let dir = StateDir()
        do { _ = try dir.open() }
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.journal)))
        // Page 2 onwards scrambled: the header still says SQLite.
        for i in 4096..<min(bytes.count, 8192) { bytes[i] = UInt8(truncatingIfNeeded: i &* 31) }
        try Data(bytes).write(to: URL(fileURLWithPath: dir.journal))
        var message = ""
        do { _ = try dir.open() } catch { message = error.description }
        #expect(message.contains("corrupt") || message.contains("not a database") || message.contains("cannot be read"), "\(message)")
        #expect(message.contains("not modified") || message.contains("refusing"), "\(message)")
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.journal))) == bytes, "the file is untouched")
    }

    @Test func aFileThatIsNotAJournalIsRefusedUntouched() throws {
        let dir = StateDir()
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        let junk = Data("this is not sqlite at all, just some text that happens to sit there".utf8)
        try junk.write(to: URL(fileURLWithPath: dir.journal))
        var message = ""
        do { _ = try dir.open() } catch { message = error.description }
        #expect(message.contains("not a database"), "\(message)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.journal)) == junk)
    }

    @Test func aJournalFromANewerSchemaIsRefused() throws {
        let dir = StateDir()
        do { _ = try dir.open() }
        try sqliteSet(dir.journal, "PRAGMA user_version = 99")
        var message = ""
        do { _ = try dir.open() } catch { message = error.description }
        #expect(message.contains("newer routilux (journal schema 99; this build reads up to \(JobStore.schemaVersion))"), "\(message)")
    }

    /// Changes a journal behind the store's back, as another program would.
    func sqliteSet(_ path: String, _ sql: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()", path, sql]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }
}

@Suite struct SpillTests {
    @Test func aQueueOverTheBoundWaitsInTheStoreAndComesBackInOrder() throws {
        let dir = StateDir()
        let h = try CoreHarness(flow: threeStageFlow, store: try dir.open()) { $0.maxQueuedInMemory = 200 }
        h.join("w1", credit: 4)
        let job = h.submit(items(3000))
        h.complete(h.newTasks()[0], emit: splitEmissions(3000))
        #expect(h.core.queuedInMemory <= 200, "in memory: \(h.core.queuedInMemory)")
        #expect(h.core.queuedCount(job: job) + h.core.inFlightCount(job: job) == 3000, "the rest waits in the store")
        var queue = h.newTasks()
        var peak = 0
        var order: [Int] = []
        while !queue.isEmpty {
            let t = queue.removeFirst()
            if t.header.routineId == "a", let i = t.payload["item"]["i"].intValue { order.append(i) }
            answerAsStock(h, t, items: 3000)
            peak = max(peak, h.core.queuedInMemory)
            queue += h.newTasks()
        }
        #expect(peak <= 200 + 3 * 50, "memory stays near the bound (peak \(peak))")
        #expect(h.readBacks > 10, "read back in batches (\(h.readBacks))")
        #expect(order == Array(0..<3000), "each lane comes back in order")
        #expect(h.status(job) == .completed)
        let got = collected(h.core.jobState(job))
        #expect(got.count == 3000 && Set(got).count == 3000, "each item exactly once")
        #expect(h.core.queuedInMemory == 0)
    }

    @Test func aSpilledQueueSurvivesARestart() throws {
        let dir = StateDir()
        var h: CoreHarness? = try CoreHarness(flow: threeStageFlow, store: try dir.open()) { $0.maxQueuedInMemory = 200 }
        h!.join("w1", credit: 4)
        let job = h!.submit(items(2000))
        h!.complete(h!.newTasks()[0], emit: splitEmissions(2000))
        DurabilityTests().drive(h!, items: 2000, answers: 500)
        h = nil
        let reopened = try dir.open()
        let restarted = try CoreHarness(flow: threeStageFlow, store: reopened, restoring: try reopened.load(), jobIdStart: 1) { $0.maxQueuedInMemory = 200 }
        #expect(restarted.core.queuedInMemory <= 200 + 3 * 50, "restored up to the bound (\(restarted.core.queuedInMemory))")
        restarted.join("w1", credit: 4, session: "s2")
        var again = restarted.newTasks()
        while !again.isEmpty {
            answerAsStock(restarted, again.removeFirst(), items: 2000)
            again += restarted.newTasks()
        }
        #expect(restarted.status(job) == .completed)
        let got = collected(restarted.core.jobState(job))
        #expect(got.count == 2000 && Set(got).count == 2000, "each item exactly once (\(got.count), \(Set(got).count) distinct)")
    }
}

@Suite struct SpillEdgeTests {
    @Test func aJobWhoseWholeQueueIsInTheStoreStillRuns() throws {
        let dir = StateDir()
        let sequential = threeStageFlow.replacingOccurrences(of: "strategy: concurrent, max_workers: 4", with: "strategy: sequential")
        let h = try CoreHarness(flow: sequential, store: try dir.open()) { $0.maxQueuedInMemory = 200 }
        h.join("w1", credit: 1)
        let big = h.submit(items(600))
        let small = h.submit(items(3))
        // The big job's source fills memory to the bound; the small one's emissions all go to the store.
        var queue = h.newTasks()
        while !queue.isEmpty {
            let t = queue.removeFirst()
            answerAsStock(h, t, items: t.header.jobId == small ? 3 : 600)
            queue += h.newTasks()
            if h.status(small)?.isTerminal == true && h.status(big)?.isTerminal == true { break }
        }
        #expect(h.status(small) == .completed, "the small job ran although its queue was only in the store")
        #expect(h.status(big) == .completed)
        #expect(collected(h.core.jobState(small)) == [0, 1, 2])
        #expect(collected(h.core.jobState(big)).count == 600)
    }

    @Test func aPausedJobExportsItsWholeQueue() throws {
        let dir = StateDir()
        let h = try CoreHarness(flow: threeStageFlow, store: try dir.open()) { $0.maxQueuedInMemory = 200 }
        h.join("w1", credit: 4)
        let job = h.submit(items(1000))
        h.complete(h.newTasks()[0], emit: splitEmissions(1000))
        let inFlight = h.newTasks()
        #expect(h.control(job, .pause(reason: "save", checkpoint: nil)).ok)
        for t in inFlight { answerAsStock(h, t, items: 1000) }
        let state = try #require(h.core.jobState(job))
        #expect(state.pendingTasks.count == 1000, "every pending task, the spilled ones too (\(state.pendingTasks.count))")
    }
}

@Suite struct HistoryInStoreTests {
    @Test func aRestartReadsBackOnlyTheNewestRecordsAndTheRestStayInTheStore() async throws {
        let dir = StateDir()
        var h: CoreHarness? = try CoreHarness(flow: threeStageFlow, store: try dir.open()) { $0.historyInMemory = 100 }
        h!.join("w1", credit: 4)
        let job = h!.submit(items(300))
        DurabilityTests().drive(h!, items: 300, answers: 400)
        h = nil
        let store = try dir.open()
        let restarted = try CoreHarness(flow: threeStageFlow, store: store, restoring: try store.load(), jobIdStart: 1) { $0.historyInMemory = 100 }
        let inMemory = try #require(restarted.core.jobState(job)).executionHistory.count
        #expect(inMemory <= 100, "only the newest are read back (\(inMemory))")
        restarted.join("w1", credit: 4, session: "s2")
        DurabilityTests().drive(restarted, items: 300)
        #expect(restarted.status(job) == .completed)
        let actions = restarted.core.handle(.query(jobId: job, wait: false, reply: .local(99)), now: restarted.now)
        let r = try #require(actions.compactMap { if case .reply(_, let r) = $0 { return r } else { return nil } }.first)
        let rows = try await store.historyRows(jobId: job, before: r.historyInStore)
        let whole = try CoordinatorCore.historyRecords(rows, count: r.historyInStore) + r.jobState!.executionHistory
        #expect(whole.filter { $0.eventName == "item" }.compactMap { $0.data.valueOrError["index"].intValue } == Array(0..<300), "every record, once, in order")
    }

    @Test func aLongHistoryIsHeldInTheStoreAndRepliesStillCarryAllOfIt() async throws {
        let dir = StateDir()
        let store = try dir.open()
        let h = try CoreHarness(flow: threeStageFlow, store: store) { $0.historyInMemory = 100 }
        h.join("w1", credit: 4)
        let job = h.submit(items(300))
        DurabilityTests().drive(h, items: 300)
        #expect(h.status(job) == .completed)
        let inMemory = try #require(h.core.jobState(job)).executionHistory.count
        #expect(inMemory < 200, "memory holds the tail only (\(inMemory) records)")
        let actions = h.core.handle(.query(jobId: job, wait: false, reply: .local(99)), now: h.now)
        guard case .reply(_, let r)? = actions.first(where: { if case .reply = $0 { return true } else { return false } }) else {
            Issue.record("no reply")
            return
        }
        #expect(r.historyInStore > 0, "the reply says the rest is in the store")
        // What the shell does: read the older records back and put them first.
        let n = r.historyInStore
        let rows = try await store.historyRows(jobId: job, before: n)
        let whole = try CoordinatorCore.historyRecords(rows, count: n) + r.jobState!.executionHistory
        // start + 300 items + 300 a outputs.
        #expect(whole.count == 601, "every record (\(whole.count))")
        #expect(whole.first?.eventName == "start")
        #expect(whole.filter { $0.eventName == "item" }.compactMap { $0.data.valueOrError["index"].intValue } == Array(0..<300))
    }
}

/// A flow's `execution.history`: full (the default), none, or the last N records.
@Suite struct HistorySettingTests {
    func flow(_ history: String) -> String {
        threeStageFlow.replacingOccurrences(of: "execution: {strategy: concurrent, max_workers: 4}", with: "execution: {strategy: concurrent, max_workers: 4, history: \(history)}")
    }

    func run(_ h: CoreHarness, items n: Int) -> String {
        h.join("w1", credit: 4)
        let job = h.submit(items(n))
        DurabilityTests().drive(h, items: n)
        #expect(h.status(job) == .completed)
        #expect(collected(h.core.jobState(job)).sorted() == Array(0..<n), "the job itself is the same")
        return job
    }

    @Test(arguments: [false, true])
    func noneRecordsNoEmissionsButKeepsTheRest(journal: Bool) throws {
        let dir = StateDir()
        let h = try CoreHarness(flow: flow("none"), store: journal ? try dir.open() : nil)
        let job = run(h, items: 50)
        let history = h.core.jobState(job)!.executionHistory
        #expect(!history.contains { $0.eventName == "item" || $0.eventName == "output" }, "\(history.map(\.eventName))")
        #expect(history.contains { $0.eventName == "start" }, "the job's start is still recorded: \(history.map(\.eventName))")
    }

    @Test(arguments: [false, true])
    func aNumberKeepsTheNewestThatMany(journal: Bool) throws {
        let dir = StateDir()
        let h = try CoreHarness(flow: flow("25"), store: journal ? try dir.open() : nil)
        let job = run(h, items: 200)
        let history = h.core.jobState(job)!.executionHistory
        #expect(history.count == 25, "\(history.count) records")
        // The newest: the last records of the job are outputs of `a` (items reach the sink after them).
        #expect(history.allSatisfy { $0.routineId != "src" || $0.eventName != "start" }, "the oldest are gone")
        if journal {
            // A reply does not read older ones back from the store.
            let actions = h.core.handle(.query(jobId: job, wait: false, reply: .local(99)), now: h.now)
            let reply = actions.compactMap { if case .reply(_, let r) = $0 { return r } else { return nil } }.first
            #expect(reply?.historyInStore == 0 || reply?.historyTail == 25, "at most 25 asked back: \(String(describing: reply?.historyTail))")
            #expect(reply?.jobState?.executionHistory.count == 25)
        }
    }

    @Test func aStoredJobReadBackKeepsTheFlowsLimit() throws {
        let dir = StateDir()
        let store = try dir.open()
        let h = try CoreHarness(flow: flow("10"), store: store)
        let job = run(h, items: 40)
        let stored = try #require(try store.load().finishedJobs == 1 ? store.jobNow(id: job) : nil)
        #expect(try CoordinatorCore.jobState(stored).executionHistory.count == 10)
    }

    @Test func aBadSettingIsRefusedWithWhere() throws {
        for bad in ["sometimes", "0", "-3", "[1]", "8000000000000000000"] {
            #expect(throws: (any Error).self) { _ = try CoreHarness(flow: flow(bad)) }
            do { _ = try CoreHarness(flow: flow(bad)) } catch {
                #expect("\(error)".contains("execution.history") && "\(error)".contains("'full', 'none' or a number"), "\(bad): \(error)")
            }
        }
    }
}
