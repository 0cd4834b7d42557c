import Foundation
import RoutiluxCore
import RoutiluxTestSupport
import RoutiluxTransport
import RoutiluxWire
import Synchronization
import Testing

/// A batching link sends what one wake-up queued as batches, and a lone message at once, as itself.
@Suite struct BatchingTransportTests {
    /// Everything an inbox received, in order.
    final class Inbox: Sendable {
        let received = Mutex<[[[UInt8]]]>([])
        var messages: [[[UInt8]]] { received.withLock { $0 } }
    }

    func pair(maxBytes: Int = 1 << 20) async throws -> (sender: Transport, receiver: Transport, inbox: Inbox) {
        let inbox = Inbox()
        let receiver = Transport(name: "batch-receiver") { batch in inbox.received.withLock { $0 += batch.map(\.frames) } }
        let endpoint = try await receiver.bindInbox("tcp://127.0.0.1:*")
        let sender = Transport(name: "batch-sender")
        sender.connect(
            peer: "r", endpoint: endpoint,
            options: SocketOptions.standard.batched(Batching(maxBytes: maxBytes, maxMessages: BatchFraming.maxMessages, pack: BatchFraming.pack)))
        return (sender, receiver, inbox)
    }

    func message(_ i: Int, padding: Int = 0) -> [[UInt8]] {
        [Array("RTX\(protocolVersion) CREDIT".utf8), Array(#"{"v":\#(protocolVersion),"worker_id":"w","credit":\#(i),"token":"t"}"#.utf8), [UInt8](repeating: 0x20, count: padding)]
    }

    @Test func aLoneMessageGoesAtOnceAsItself() async throws {
        let (sender, receiver, inbox) = try await pair()
        sender.send(to: "r", frames: message(1))
        try await waitUntil("the lone message to arrive", timeout: 10) { !inbox.messages.isEmpty }
        #expect(inbox.messages == [message(1)], "not wrapped in a batch")
        await sender.shutdown()
        await receiver.shutdown()
    }

    @Test func messagesQueuedTogetherArriveAsOneBatchInOrder() async throws {
        let (sender, receiver, inbox) = try await pair()
        let sent = (1...50).map { message($0) }
        sender.send(sent.map { (peer: "r", frames: $0) })
        try await waitUntil("the batch to arrive", timeout: 10) { !inbox.messages.isEmpty }
        let got = inbox.messages
        #expect(got.count == 1, "one ZeroMQ message")
        #expect(BatchFraming.isBatch(got[0]))
        #expect(try BatchFraming.unpack(got[0]) == sent)
        await sender.shutdown()
        await receiver.shutdown()
    }

    @Test func batchesKeepToTheirByteBoundAndTheOrder() async throws {
        let (sender, receiver, inbox) = try await pair(maxBytes: 4096)
        // 30 messages of ~1 KiB: several batches of at most 4 KiB; one of 10 KiB goes alone.
        var sent = (1...30).map { message($0, padding: 1000) }
        sent.insert(message(99, padding: 10_000), at: 12)
        sender.send(sent.map { (peer: "r", frames: $0) })
        var unpacked: [[[UInt8]]] = []
        try await waitUntil("all 31 messages to arrive", timeout: 10) {
            unpacked = try inbox.messages.flatMap { BatchFraming.isBatch($0) ? try BatchFraming.unpack($0) : [$0] }
            return unpacked.count >= 31
        }
        #expect(unpacked == sent)
        for m in inbox.messages { #expect(m.reduce(0) { $0 + $1.count } <= 4096 || m == sent[12], "a batch over its bound") }
        #expect(inbox.messages.count > 2, "split into several batches")
        await sender.shutdown()
        await receiver.shutdown()
    }
}

/// Work handed to a transport's I/O thread runs in order, and still runs (or fails) once the
/// thread has ended, so nobody waits for it forever.
@Suite struct TransportCallTests {
    @Test func callsRunInOrderAndAfterShutdownAtOnce() async throws {
        let t = Transport(name: "calls")
        let order = Mutex<[Int]>([])
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            for i in 0..<100 { t.call { order.withLock { $0.append(i) } } }
            t.call { c.resume() }
        }
        #expect(order.withLock { $0 } == Array(0..<100))
        await t.shutdown()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in t.call { c.resume() } }
        await #expect(throws: TransportError.self) { _ = try await t.bindInbox("tcp://127.0.0.1:*") }
    }
}

extension Integration {
    /// Against a real coordinator: a lone TASK at light load goes at once, as itself; TASKs one turn
    /// dispatches to a worker go together, as one batch, in order.
    @Suite struct CoordinatorBatchingTests {
        @Test func aLoneTaskGoesAloneAndOneTurnsTasksGoAsOneBatch() async throws {
            let h = try ProcessHarness()
            let flow = try h.write("p4.yaml", pipeline4)
            let c = try await h.coordinator(flows: [flow])
            let worker = RawPeer(coordinator: c.1)
            do {
                try await worker.bind()
                worker.send(.join(JoinMessage(workerId: "raw", routineTypes: ["Splitter", "Mapper", "Collector"], capacity: 16, credit: 16, endpoint: worker.inbox, session: "s"), catalogue: nil))
                try await waitUntil("the raw worker to join") { worker.token != nil }
                let params = try h.write("params.json", pipelineParams(12))
                let submitted = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "p4", "--params", "@\(params)"])
                #expect(submitted.code == 0, "\(submitted.err)")
                // The job's one entry task: nothing else is ready, so it is not held for a batch.
                try await waitUntil("the entry task to arrive") { worker.tasks.count == 1 }
                #expect(worker.arrivals.last == 1, "the lone TASK came as itself (arrivals \(worker.arrivals))")
                let entry = worker.tasks[0]
                #expect(entry.routineId == "source")
                // Its answer emits 12 items: the coordinator routes them and, in the same turn, dispatches
                // as many as the flow's max_workers (6) allows, to this worker, in one message.
                let items: [RawJSON] = (0..<12).map { RawJSON(["item": ["i": .int($0), "text": "t"], "index": .int($0), "count": 12]) }
                worker.send(.result(ResultMessage(
                    workerId: "raw", jobId: entry.jobId, taskId: entry.taskId, attempt: entry.attempt, outcome: .ok,
                    emissions: Array(repeating: "item", count: 12), outputs: [], handlerUs: 5, credit: 1, token: worker.token!), bodies: items))
                try await waitUntil("6 stage tasks to arrive (\(worker.tasks.count - 1) so far)") { worker.tasks.count == 7 }
                #expect(worker.arrivals.last == 6, "one batch of 6 (arrivals \(worker.arrivals))")
                #expect(worker.tasks.dropFirst().allSatisfy { $0.routineId == "stage1" })
            } catch {
                await worker.close()
                await h.shutdown()
                throw error
            }
            await worker.close()
            await h.shutdown()
        }
    }
}
