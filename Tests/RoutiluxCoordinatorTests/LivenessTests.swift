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
