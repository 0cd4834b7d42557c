import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxWire
import Testing

@Suite struct LivenessTests {
    @Test func aWorkerThatMissedAHeartbeatIsSentNothingUntilItIsHeardAgain() throws {
        let h = try CoreHarness(flow: threeStageFlow) { $0.holdBackQuietWorkers = true }
        h.join("w1", credit: 8)
        h.join("w2", credit: 8)
        let job = h.submit(items(4))
        let source = h.newTasks()[0]
        // Time passes; only the worker answering the source is heard (its RESULT), the other is quiet.
        h.now += 2
        h.complete(source, emit: splitEmissions(4))
        let sent = h.newTasks()
        #expect(sent.count == 4)
        #expect(sent.allSatisfy { $0.worker == source.worker }, "the quiet worker gets none: \(sent.map(\.worker))")
        // The quiet one is heard again: it is sent tasks again.
        let quiet = source.worker == "w1" ? "w2" : "w1"
        h.feed(.message(.heartbeat(HeartbeatMessage(senderId: quiet, token: nil, held: [], received: 0)), peer: nil))
        for t in sent.prefix(2) { answerAsStock(h, t, items: 4) }
        #expect(h.newTasks().contains { $0.worker == quiet }, "heard again: it takes tasks")
        #expect(h.status(job) == .running)
    }

    @Test func theDefaultsDetectALostWorkerInThreeSeconds() {
        let c = CoordinatorConfig(coordinatorId: "c")
        #expect(c.heartbeatMs == 1000)
        #expect(c.workerTimeoutMs == 3000)
        #expect(c.quietAfter == 1.5)
    }
}

@Suite struct DownstreamFirstTests {
    /// How many tasks are answered before the first one for the sink (`c`) is sent.
    func answeredBeforeTheSink(_ flow: String, items n: Int) throws -> (Int, JobStatus?, [Int]) {
        let h = try CoreHarness(flow: flow)
        h.join("w1", credit: 8)
        let job = h.submit(items(n))
        var queue = h.newTasks()
        var answered = 0
        var firstSink: Int?
        while !queue.isEmpty {
            let t = queue.removeFirst()
            if t.header.routineId == "c" && firstSink == nil { firstSink = answered }
            answerAsStock(h, t, items: n)
            answered += 1
            queue += h.newTasks()
        }
        return (firstSink ?? -1, h.status(job), collected(h.core.jobState(job)))
    }

    @Test func aLongQueueSendsItemsOnTowardTheSinkWhileTheSourceStillEmits() throws {
        let (first, status, got) = try answeredBeforeTheSink(threeStageFlow, items: 500)
        #expect(first >= 0 && first < 20, "the sink's first task came after \(first) answers (FIFO: after 500)")
        #expect(status == .completed)
        #expect(got.sorted() == Array(0..<500))
    }

    @Test func maxWorkersOneKeepsStrictFIFO() throws {
        let sequential = threeStageFlow.replacingOccurrences(of: "strategy: concurrent, max_workers: 4", with: "strategy: sequential")
        let (first, status, got) = try answeredBeforeTheSink(sequential, items: 500)
        #expect(first == 501, "breadth first: the source, then every a, then the sink (\(first))")
        #expect(status == .completed)
        #expect(got == Array(0..<500), "in order")
    }
}
