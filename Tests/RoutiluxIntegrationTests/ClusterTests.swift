import Foundation
import RoutiluxCore
import RoutiluxTransport
import RoutiluxWire
import RoutiluxTestSupport
import Testing

/// Real `routilux-coordinator`, `routilux-worker` and `routilux job` processes over local sockets.
extension Integration {
@Suite struct ClusterTests {
    @Test func tenThousandItemsThroughFourStagesOnThreeWorkersOverTCP() async throws {
        let h = try ProcessHarness()
        do {
            let flow = try h.write("p4.yaml", pipeline4)
            let params = try h.write("params.json", pipelineParams(10_000))
            let c = try await h.coordinator(flows: [flow])
            #expect(c.1.hasPrefix("tcp://127.0.0.1:"))
            _ = try await h.workers(3, coordinator: c)
            let r = try await h.routilux(
                ["job", "submit", "--coordinator", c.1, "--flow", "p4", "--params", "@\(params)", "--wait", "--json", "--timeout", "300"],
                timeout: 320)
            #expect(r.code == 0, "job submit --wait exit code\n\(r.err.suffix(2000))")
            let state = try jobState(r.out)
            #expect(state.status == .completed)
            let seen = collectedIndexes(state)
            #expect(seen.count == 10_000, "every item reaches the sink")
            #expect(Set(seen) == Set(0..<10_000), "exactly once")
            #expect(state.outputLog.allSatisfy { $0["data"]["len"] == 11 && $0["data"]["upper"] == "HELLO WORLD" })
            #expect(Set(state.routineStates.keys) == ["source", "stage1", "stage2", "sink"])
            #expect(state.routineStates.values.allSatisfy { $0["status"] == "completed" })
            // start + 10,000 item emits + 2 × 10,000 stage outputs.
            #expect(state.executionHistory.count == 30_001)
            #expect(state.executionHistory.first?.eventName == "start")
            // Spread over all three worker processes.
            #expect(c.0.isRunning)
        } catch {
            await h.shutdown()
            throw error
        }
        await h.shutdown()
    }

    @Test func twoConcurrentJobsOverIPCAreKeptApart() async throws {
        let h = try ProcessHarness()
        do {
            let flow = try h.write("p4.yaml", pipeline4)
            let c = try await h.coordinator(bind: "ipc://\(h.path("coordinator.sock"))", flows: [flow])
            #expect(c.1.hasPrefix("ipc://"))
            _ = try await h.workers(2, coordinator: c)
            var ids: [String: String] = [:]
            for (tag, n) in [("alpha", 300), ("beta", 500)] {
                let params = try h.write("\(tag).json", pipelineParams(n, tag: tag))
                let r = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "p4", "--params", "@\(params)", "--json"])
                #expect(r.code == 0, "\(r.err)")
                ids[tag] = try jobState(r.out).jobId
            }
            #expect(ids["alpha"] != ids["beta"])
            for (tag, n) in [("alpha", 300), ("beta", 500)] {
                let r = try await h.routilux(["job", "wait", ids[tag]!, "--coordinator", c.1, "--json", "--timeout", "120"])
                #expect(r.code == 0, "\(r.err)")
                let state = try jobState(r.out)
                #expect(state.status == .completed)
                #expect(state.outputLog.count == n)
                #expect(state.outputLog.allSatisfy { $0["data"]["tag"].stringValue == tag }, "only its own items")
                #expect(Set(collectedIndexes(state)) == Set(0..<n))
            }
            let status = try await h.routilux(["job", "status", ids["alpha"]!, "--coordinator", c.1])
            #expect(status.code == 0)
            #expect(status.out.contains("completed"))
            #expect(status.out.contains("stage1: 300 run(s), 300 ok, 0 failed, 100%"), "\(status.out)")
            let unknown = try await h.routilux(["job", "status", "no-such-job", "--coordinator", c.1])
            #expect(unknown.code == 2)
            #expect(unknown.err.contains("unknown job 'no-such-job'"))
        } catch {
            await h.shutdown()
            throw error
        }
        await h.shutdown()
    }

    @Test func appendSlotsAccumulatePerJobAcrossWorkerProcesses() async throws {
        let h = try ProcessHarness()
        do {
            let flow = try h.write("gather.yaml", """
                flow_id: gather
                routines:
                  source: {type: Splitter, config: {field: items}}
                  gather: {type: Collector, config: {merge: append, output_type: so_far}}
                connections:
                  - {from: source.item, to: gather.input, param_mapping: {item: data}}
                execution: {strategy: concurrent, max_workers: 8}
                """)
            let c = try await h.coordinator(flows: [flow])
            _ = try await h.workers(3, coordinator: c)
            var ids: [String: String] = [:]
            for tag in ["red", "blue"] {
                let params = try h.write("\(tag).json", pipelineParams(25, tag: tag))
                let r = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "gather", "--params", "@\(params)", "--json"])
                ids[tag] = try jobState(r.out).jobId
            }
            for tag in ["red", "blue"] {
                let r = try await h.routilux(["job", "wait", ids[tag]!, "--coordinator", c.1, "--json", "--timeout", "60"])
                #expect(r.code == 0, "\(r.err)")
                let s = try jobState(r.out)
                // The n-th delivery sees n accumulated values, all of its own job, in FIFO order.
                let sizes = s.outputLog.map { $0["data"]["index"].arrayValue?.count ?? -1 }
                #expect(sizes == Array(1...25))
                let last = try #require(s.outputLog.last?["data"])
                #expect(last["index"] == .array((0..<25).map { .int($0) }))
                #expect(last["data"].arrayValue?.allSatisfy { $0["tag"].stringValue == tag } == true)
                #expect(s.slotStates["gather.input"]?["index"].arrayValue?.count == 25)
            }
        } catch {
            await h.shutdown()
            throw error
        }
        await h.shutdown()
    }

    @Test func aKilledWorkersTasksAreRunByAnotherAndNothingIsLost() async throws {
        let h = try ProcessHarness()
        do {
            let flow = try h.write("slow.yaml", """
                flow_id: slow
                routines:
                  source: {type: Splitter, config: {field: items}}
                  wait: {type: Delay, config: {seconds: 0.1}}
                  sink: {type: Collector}
                connections:
                  - {from: source.item, to: wait.input}
                  - {from: wait.output, to: sink.input, param_mapping: {item: data}}
                execution: {strategy: concurrent, max_workers: 8}
                """)
            let c = try await h.coordinator(flows: [flow], extra: ["--worker-timeout-ms", "1500", "--heartbeat-ms", "250"])
            let ws = try await h.workers(2, coordinator: c, extra: ["--concurrency", "4"])
            let params = try h.write("params.json", pipelineParams(200))
            let submit = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "slow", "--params", "@\(params)", "--json"])
            #expect(submit.code == 0, "\(submit.err)")
            let jobId = try jobState(submit.out).jobId
            // Kill one worker while it holds tasks (the ledger shows them in flight).
            try await waitUntil("the first delayed items to come out") {
                let s = try await h.routilux(["job", "status", jobId, "--coordinator", c.1, "--json"])
                return try jobState(s.out).executionHistory.filter { $0.routineId == "wait" }.count >= 10
            }
            ws[0].kill(SIGKILL)
            #expect(try await ws[0].exitCode() == SIGKILL)
            let r = try await h.routilux(["job", "wait", jobId, "--coordinator", c.1, "--json", "--timeout", "120"])
            #expect(r.code == 0, "\(r.err)")
            let state = try jobState(r.out)
            #expect(state.status == .completed)
            #expect(collectedIndexes(state).sorted() == Array(0..<200), "each item exactly once")
            #expect(c.0.stderr.contains("declared dead"), "the coordinator noticed the silent worker; killed worker's log:\n\(ws[0].stderr.suffix(3000))")
            #expect(!c.0.stderr.contains("re-queueing 0 task"), "the killed worker held tasks")
        } catch {
            await h.shutdown()
            throw error
        }
        await h.shutdown()
    }

    @Test func aWorkerStartedBeforeItsCoordinatorRetriesAndJoins() async throws {
        let h = try ProcessHarness()
        do {
            // Learn a free port from a first coordinator, then stop it.
            let first = try await h.coordinator()
            first.0.kill(SIGTERM)
            #expect(try await first.0.exitCode() == 0, "SIGTERM stops the coordinator cleanly")
            let endpoint = first.1
            let w = try h.start("routilux-worker", ["join", endpoint, "--id", "early"])
            try await waitUntil("the worker to say it is retrying\n\(w.stderr)") { w.stderr.contains("retrying JOIN") }
            let flow = try h.write("p4.yaml", pipeline4)
            let c = try await h.coordinator(bind: endpoint, flows: [flow])
            try await waitUntil("the early worker to join\n\(c.0.stderr)") { c.0.stderr.contains("worker early joined") }
            let params = try h.write("params.json", pipelineParams(10))
            let r = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "p4", "--params", "@\(params)", "--wait"])
            #expect(r.code == 0, "\(r.err)")
            #expect(r.out.contains("completed"))
        } catch {
            await h.shutdown()
            throw error
        }
        await h.shutdown()
    }

    @Test func malformedMessagesAreLoggedWithTheirSenderAndDropped() async throws {
        let h = try ProcessHarness()
        let sender = Transport(name: "test-sender")
        do {
            let flow = try h.write("p4.yaml", pipeline4)
            let c = try await h.coordinator(flows: [flow])
            _ = try await h.workers(1, coordinator: c)
            sender.connect(peer: "c", endpoint: c.1)
            sender.send(to: "c", frames: [Array("garbage".utf8)])
            sender.send(to: "c", frames: [Array("RTX9 JOIN".utf8), Array("{}".utf8)])
            sender.send(to: "c", frames: [Array("RTX5 RESULT".utf8), Array("{not json".utf8)])
            sender.send(to: "c", frames: [Array("RTX5 JOIN".utf8), Array(#"{"v":5}"#.utf8)])
            try await waitUntil("four malformed messages to be logged\n\(c.0.stderr)") {
                c.0.stderr.components(separatedBy: "(malformed):").count - 1 >= 4
            }
            let log = c.0.stderr
            #expect(log.contains("is not a routilux tag"))
            #expect(log.contains("unsupported protocol version"))
            #expect(log.contains("RESULT: header is not valid JSON"))
            #expect(log.contains("JOIN: header field"))
            #expect(log.contains("from 127.0.0.1"), "the sender's address is named")
            // Still serving.
            let params = try h.write("params.json", pipelineParams(20))
            let r = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "p4", "--params", "@\(params)", "--wait"])
            #expect(r.code == 0, "\(r.err)")
        } catch {
            await sender.shutdown()
            await h.shutdown()
            throw error
        }
        await sender.shutdown()
        await h.shutdown()
    }
}
}
