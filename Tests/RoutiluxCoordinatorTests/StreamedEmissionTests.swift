import Foundation
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxStore
import RoutiluxWire
import Testing

extension CoreHarness {
    /// A PART of a running task, as the stock worker sends it.
    func part(_ t: Dispatched, seq: Int, emit: [(String, JSONValue)], outputs: [(String, JSONValue)] = []) {
        let header = PartMessage(
            workerId: t.worker, jobId: t.header.jobId, taskId: t.header.taskId, attempt: t.header.attempt, seq: seq,
            emissions: emit.map(\.0), outputs: outputs.map(\.0))
        feed(.message(.part(header, bodies: emit.map { RawJSON($0.1) } + outputs.map { RawJSON($0.1) }), peer: nil))
    }

    /// The ok RESULT after `parts` PARTs, with its own last emissions.
    func completeStreamed(_ t: Dispatched, parts: Int, emit: [(String, JSONValue)] = []) {
        let header = ResultMessage(
            workerId: t.worker, jobId: t.header.jobId, taskId: t.header.taskId, attempt: t.header.attempt, outcome: .ok,
            emissions: emit.map(\.0), handlerUs: 10, credit: 1, parts: parts)
        feed(.message(.result(header, bodies: emit.map { RawJSON($0.1) }), peer: nil))
    }

    /// A worker joins and a job of `n` items starts: the job's id and its source task, as sent.
    func startSource(items n: Int) -> (job: String, source: Dispatched) {
        join("w1", credit: 4)
        let job = submit(items(n))
        return (job, newTasks()[0])
    }

    /// STAGED messages sent to a worker so far.
    var stagedSent: [StagedMessage] {
        sent.compactMap { if case .staged(let s) = $0.message { return s } else { return nil } }
    }

    /// Ticks until no streamed activation waits to be routed (without a store, routing goes a few parts per turn).
    func routeAll(rounds: Int = 10_000) {
        for _ in 0..<rounds {
            guard core.clusterStatus(now: now)["streamed_results_routing"].intValue ?? 0 > 0 else { return }
            feed(.tick)
        }
    }
}

/// Streams `n` split emissions of the source task `t` in parts of `size`, the RESULT carrying the last `tail`.
func stream(_ h: CoreHarness, _ t: Dispatched, items n: Int, size: Int, tail: Int) {
    let all = splitEmissions(n)
    let streamed = Array(all.prefix(n - tail))
    var seq = 0
    for start in stride(from: 0, to: streamed.count, by: size) {
        h.part(t, seq: seq, emit: Array(streamed[start..<min(start + size, streamed.count)]))
        seq += 1
    }
    h.completeStreamed(t, parts: seq, emit: Array(all.suffix(tail)))
}

@Suite struct StreamedEmissionTests {
    @Test(arguments: [false, true])
    func partsAreStagedAcknowledgedAndRoutedInOrderWhenTheResultIsOk(journal: Bool) throws {
        let dir = StateDir()
        let h = try CoreHarness(flow: threeStageFlow, store: journal ? try dir.open() : nil)
        let (job, src) = h.startSource(items: 1500)
        let parts = 2
        for seq in 0..<parts {
            h.part(src, seq: seq, emit: Array(splitEmissions(1500)[(seq * 500)..<((seq + 1) * 500)]))
        }
        #expect(h.stagedSent.map(\.seq) == [0, 1], "each part is acknowledged: \(h.stagedSent)")
        #expect(h.stagedSent.allSatisfy { $0.stop != true && $0.taskId == src.header.taskId })
        #expect(h.newTasks().isEmpty, "nothing is routed before the RESULT")
        #expect(!h.core.jobState(job)!.executionHistory.contains { $0.eventName == "item" })
        h.completeStreamed(src, parts: parts, emit: Array(splitEmissions(1500).suffix(500)))
        h.routeAll()
        let history = h.core.jobState(job)!.executionHistory.filter { $0.routineId == "src" && $0.eventName == "item" }
        #expect(history.count == 1500)
        #expect(history.compactMap { try? $0.data.value()["index"].intValue } == Array(0..<1500), "parts first, in order, then the RESULT's own")
        #expect(h.core.jobState(job)!.routineStates["src"]?["status"].stringValue == "completed")
        DurabilityTests().drive(h, items: 1500)
        #expect(h.status(job) == .completed)
        #expect(collected(h.core.jobState(job)).sorted() == Array(0..<1500), "each item once")
        if journal { #expect(try h.store!.stagedCountNow() == 0, "routed parts leave the store") }
    }

    @Test(arguments: [false, true])
    func aFailedAttemptsPartsAreDroppedUnrouted(journal: Bool) throws {
        let dir = StateDir()
        let h = try CoreHarness(flow: threeStageFlow, store: journal ? try dir.open() : nil)
        let (job, src) = h.startSource(items: 10)
        h.part(src, seq: 0, emit: Array(splitEmissions(10).prefix(6)))
        if journal { #expect(try h.store!.stagedCountNow() == 1) }
        h.fail(src, error: "boom")
        #expect(h.status(job) == .failed)
        #expect(!h.core.jobState(job)!.executionHistory.contains { $0.eventName == "item" }, "no emission of the failed attempt is recorded")
        #expect(h.newTasks().isEmpty, "nor routed")
        if journal { #expect(try h.store!.stagedCountNow() == 0, "its staged part is gone") }
    }

    @Test func aPartOutOfTurnFailsTheAttemptAndStopsItOnTheWorker() throws {
        let h = try CoreHarness(flow: threeStageFlow)
        let (job, src) = h.startSource(items: 10)
        h.part(src, seq: 0, emit: Array(splitEmissions(10).prefix(3)))
        h.part(src, seq: 2, emit: Array(splitEmissions(10).suffix(3)))  // part 1 was lost
        #expect(h.status(job) == .failed)
        #expect(h.core.jobState(job)!.routineStates["src"]?["error"].stringValue?.contains("IncompleteResult") == true, "\(h.core.jobState(job)!.routineStates["src"]?["error"].stringValue ?? "")")
        #expect(h.stagedSent.last?.stop == true, "the worker is told to stop the attempt")
        // Its late answer is stale but returns the credit the attempt held.
        let credit = h.core.workerCredit("w1")!
        h.completeStreamed(src, parts: 3)
        #expect(h.core.workerCredit("w1") == credit + 1)
    }

    @Test func aResultCountingOtherPartsThanArrivedFails() throws {
        let h = try CoreHarness(flow: threeStageFlow)
        let (job, src) = h.startSource(items: 10)
        h.part(src, seq: 0, emit: Array(splitEmissions(10).prefix(5)))
        h.completeStreamed(src, parts: 2, emit: Array(splitEmissions(10).suffix(5)))
        #expect(h.status(job) == .failed)
        #expect(h.core.jobState(job)!.routineStates["src"]?["error"].stringValue?.contains("says 2 PART(s) came before it; 1 did") == true, "\(h.core.jobState(job)!.routineStates["src"]?["error"].stringValue ?? "")")
        #expect(h.newTasks().isEmpty)
    }

    @Test func aPartOfAnAttemptNoLongerWantedIsAnsweredWithStop() throws {
        let h = try CoreHarness(flow: threeStageFlow)
        let (_, src) = h.startSource(items: 10)
        var old = src
        old.header.attempt = 7
        h.part(old, seq: 0, emit: Array(splitEmissions(10).prefix(2)))
        #expect(h.stagedSent.last?.stop == true && h.stagedSent.last?.attempt == 7)
        #expect(h.core.counters.staleResults == 1)
    }

    @Test func anActivationEmittingMoreThanTheLimitFailsWithResultTooLarge() throws {
        let h = try CoreHarness(flow: threeStageFlow) { $0.maxResultBytes = 4000 }
        let (job, src) = h.startSource(items: 200)
        h.part(src, seq: 0, emit: Array(splitEmissions(200).prefix(50)))
        h.part(src, seq: 1, emit: Array(splitEmissions(200).dropFirst(50).prefix(50)))
        #expect(h.status(job) == .failed)
        #expect(h.core.jobState(job)!.routineStates["src"]?["error"].stringValue?.hasPrefix("ResultTooLarge") == true, "\(h.core.jobState(job)!.routineStates["src"]?["error"].stringValue ?? "")")
    }

    @Test func aSequentialJobRoutesAStreamedResultWholeBeforeRunningMore() throws {
        let flow = threeStageFlow.replacingOccurrences(of: "max_workers: 4", with: "max_workers: 1").replacingOccurrences(of: "concurrent", with: "sequential")
        let h = try CoreHarness(flow: flow)
        h.join("w1", credit: 4)
        let job = h.submit(items(3000))
        stream(h, h.newTasks()[0], items: 3000, size: 500, tail: 0)
        // Without a store the first parts are routed at once, the rest on the next turns: nothing runs meanwhile.
        #expect(h.newTasks().isEmpty, "no task is sent while the result is routed")
        h.routeAll()
        let first = h.newTasks()
        #expect(first.count == 1 && first[0].payload["item"]["i"].intValue == 0, "then FIFO from the first item")
        DurabilityTests().drive(h, items: 3000, pending: first)
        #expect(h.status(job) == .completed)
        #expect(collected(h.core.jobState(job)) == Array(0..<3000), "in routilux's sequential order")
    }

    @Test func aRestartInTheMiddleOfRoutingContinuesWhereItStopped() throws {
        let dir = StateDir()
        var store: JobStore? = try dir.open()
        var h: CoreHarness? = try CoreHarness(flow: threeStageFlow, store: store) { $0.maxQueuedInMemory = 100 }
        h!.join("w1", credit: 4)
        let job = h!.submit(items(1200))
        let src = h!.newTasks()[0]
        for seq in 0..<5 { h!.part(src, seq: seq, emit: Array(splitEmissions(1200)[(seq * 200)..<((seq + 1) * 200)])) }
        // The harness serves read-backs at once, so routing runs to its end within the turn; a crash
        // before it is simulated by not serving them: the RESULT is committed, no part routed.
        h!.store = nil
        h!.completeStreamed(src, parts: 5, emit: Array(splitEmissions(1200).suffix(200)))
        h!.store = store
        try h!.commit()
        #expect(!h!.core.jobState(job)!.executionHistory.contains { $0.eventName == "item" }, "nothing routed before the crash")
        h = nil
        store = nil

        let reopened = try dir.open()
        #expect(try reopened.stagedCountNow() == 6, "five parts and the RESULT's own entries are staged")
        let restarted = try CoreHarness(flow: threeStageFlow, store: reopened, restoring: try reopened.load(), jobIdStart: 1) { $0.maxQueuedInMemory = 100 }
        restarted.join("w1", credit: 4, session: "s2")
        DurabilityTests().drive(restarted, items: 1200)
        #expect(restarted.status(job) == .completed)
        let all = collected(restarted.core.jobState(job))
        #expect(all.count == 1200 && all.sorted() == Array(0..<1200), "each item exactly once (\(all.count))")
        #expect(try reopened.stagedCountNow() == 0)
    }

    @Test func anAttemptInFlightAtACrashRunsAgainAndItsStagedPartsGo() throws {
        let dir = StateDir()
        var h: CoreHarness? = try CoreHarness(flow: threeStageFlow, store: try dir.open())
        h!.join("w1", credit: 4)
        let job = h!.submit(items(600))
        let src = h!.newTasks()[0]
        for seq in 0..<2 { h!.part(src, seq: seq, emit: Array(splitEmissions(600)[(seq * 200)..<((seq + 1) * 200)])) }
        h = nil
        let reopened = try dir.open()
        #expect(try reopened.stagedCountNow() == 2)
        let restarted = try CoreHarness(flow: threeStageFlow, store: reopened, restoring: try reopened.load(), jobIdStart: 1)
        #expect(try reopened.stagedCountNow() == 0, "the old attempt's parts are dropped at the restart")
        restarted.join("w1", credit: 4, session: "s2")
        let again = restarted.newTasks()
        #expect(again.count == 1 && again[0].header.attempt == 2)
        // A late PART of the old attempt is stale.
        restarted.part(src, seq: 2, emit: Array(splitEmissions(600).suffix(200)))
        #expect(restarted.stagedSent.last?.stop == true)
        stream(restarted, again[0], items: 600, size: 200, tail: 200)
        DurabilityTests().drive(restarted, items: 600)
        #expect(restarted.status(job) == .completed)
        #expect(collected(restarted.core.jobState(job)).sorted() == Array(0..<600))
    }

    @Test func thePartCodingRoundTripsAndRefusesCutData() throws {
        // (Through the journal: a part written is read back entry for entry.)
        let dir = StateDir()
        let h = try CoreHarness(flow: threeStageFlow, store: try dir.open())
        let (job, src) = h.startSource(items: 3)
        h.part(src, seq: 0, emit: [("item", ["item": ["i": 0, "text": "héllo \"q\""], "index": 0, "count": 3])], outputs: [("note", "x"), ("n", 7)])
        h.completeStreamed(src, parts: 1, emit: Array(splitEmissions(3).suffix(2)))
        let state = h.core.jobState(job)!
        #expect(state.executionHistory.first { $0.eventName == "item" }.map { try? $0.data.value()["item"]["text"].stringValue } == "héllo \"q\"")
        #expect(state.outputLog.map { $0["output_type"].stringValue } == ["note", "n"])
    }
}

@Suite struct StreamedEmissionEdgeTests {
    @Test func aPartSentAgainIsAnsweredAndNotStagedTwice() throws {
        let dir = StateDir()
        let h = try CoreHarness(flow: threeStageFlow, store: try dir.open())
        let (job, src) = h.startSource(items: 30)
        h.part(src, seq: 0, emit: Array(splitEmissions(30).prefix(10)))
        h.part(src, seq: 1, emit: Array(splitEmissions(30).dropFirst(10).prefix(10)))
        h.part(src, seq: 0, emit: Array(splitEmissions(30).prefix(10)))  // the worker heard no STAGED: sent again
        #expect(h.stagedSent.map(\.seq) == [0, 1, 1], "the repeat is answered with the last part staged")
        #expect(try h.store!.stagedCountNow() == 2)
        h.completeStreamed(src, parts: 2, emit: Array(splitEmissions(30).suffix(10)))
        DurabilityTests().drive(h, items: 30)
        #expect(h.status(job) == .completed)
        #expect(collected(h.core.jobState(job)).sorted() == Array(0..<30), "each item once")
    }

    @Test func aPartOfACancelledJobEndsTheAttemptWithoutCountingAgainstTheWorker() throws {
        let h = try CoreHarness(flow: threeStageFlow)
        let (job, src) = h.startSource(items: 30)
        h.part(src, seq: 0, emit: Array(splitEmissions(30).prefix(10)))
        h.feed(.control(JobControl(jobId: job, operation: .cancel(reason: "enough")), reply: .local(77)))
        #expect(h.status(job) == .cancelled)
        let credit = h.core.workerCredit("w1")!
        h.part(src, seq: 1, emit: Array(splitEmissions(30).dropFirst(10).prefix(10)))
        #expect(h.stagedSent.last?.stop == true, "the worker is told to stop")
        #expect(h.core.inFlight(worker: "w1").isEmpty, "the attempt is out of the ledger")
        // The worker's answer to the stop: stale, its credit back, no lease expiry counted.
        let header = ResultMessage(
            workerId: "w1", jobId: job, taskId: src.header.taskId, attempt: src.header.attempt, outcome: .error,
            error: "LeaseExpired: the coordinator stopped it", errorType: "LeaseExpired")
        h.feed(.message(.result(header, bodies: []), peer: nil))
        #expect(h.core.workerCredit("w1") == credit + 1)
        #expect(h.core.counters.leasesExpired == 0)
    }
}
