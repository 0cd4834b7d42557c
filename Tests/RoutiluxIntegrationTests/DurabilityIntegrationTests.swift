import Foundation
import RoutiluxCore
import RoutiluxTestSupport
import Testing

/// Real coordinator restarts: `kill -9` and SIGTERM, the same `--state-dir`, the same endpoint.
extension Integration {
    @Suite struct DurabilityIntegrationTests {
        /// The coordinator's `results_accepted` counter, from `routilux cluster status --json`.
        func resultsAccepted(_ h: ProcessHarness, _ c: String) async throws -> Int {
            let r = try await h.routilux(["cluster", "status", "--coordinator", c, "--json"])
            guard r.code == 0 else { return -1 }
            return try JSONValue.parse(r.out)["counters"]["results_accepted"].intValue ?? -1
        }

        @Test func killNineMidJobThenARestartFinishesItAndTheWaitingClientGetsTheEnd() async throws {
            let h = try ProcessHarness()
            do {
                let flow = try h.write("p4.yaml", pipeline4)
                let params = try h.write("params.json", pipelineParams(10_000))
                let state = h.path("state")
                let first = try await h.coordinator(flows: [flow], stateDir: state)
                _ = try await h.workers(3, coordinator: first)
                let submit = try await h.routilux(["job", "submit", "--coordinator", first.1, "--flow", "p4", "--params", "@\(params)", "--json"])
                #expect(submit.code == 0, "\(submit.err)")
                let job = try jobState(submit.out).jobId
                // A client waits for the end all along.
                let waiting = try h.start("routilux", ["job", "wait", job, "--coordinator", first.1, "--json", "--timeout", "300"])
                // Part of the way (30,001 activations in all): kill -9.
                try await waitUntil("the job to be well under way", timeout: 120) { try await resultsAccepted(h, first.1) >= 8_000 }
                first.0.kill(SIGKILL)
                _ = try await first.0.exitCode()

                let second = try await h.coordinator(bind: first.1, flows: [flow], stateDir: state)
                #expect(second.0.stderr.contains("1 unfinished job(s) to continue"), "\(second.0.stderr.prefix(2000))")
                // The workers notice the silence and join the new coordinator by themselves.
                try await waitUntil("the workers to re-join\n\(second.0.stderr.suffix(2000))", timeout: 30) {
                    second.0.stderr.components(separatedBy: " joined from ").count - 1 >= 3
                }
                #expect(try await waiting.exitCode(timeout: 300) == 0, "the waiting client: \(waiting.stderr.suffix(2000))")
                let done = try jobState(waiting.stdout)
                #expect(done.status == .completed)
                let got = collectedIndexes(done)
                #expect(got.count == 10_000, "\(got.count) items in the sink")
                #expect(Set(got).count == 10_000, "each item exactly once")
                #expect(waiting.stderr.contains("stopped answering"), "the client noticed: \(waiting.stderr.suffix(1000))")
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        @Test func aJobPausedAtTheCrashIsStillPausedAndResumesExactlyOnce() async throws {
            let h = try ProcessHarness()
            do {
                let flow = try h.write("slow.yaml", slowFlow)
                let state = h.path("state")
                let first = try await h.coordinator(flows: [flow], stateDir: state)
                _ = try await h.workers(2, coordinator: first)
                let params = try h.write("params.json", pipelineParams(400))
                let submit = try await h.routilux(["job", "submit", "--coordinator", first.1, "--flow", "slow", "--params", "@\(params)", "--json"])
                let job = try jobState(submit.out).jobId
                try await waitUntil("some items through the slow stage") {
                    let r = try await h.routilux(["job", "status", job, "--coordinator", first.1, "--json"])
                    return try jobState(r.out).executionHistory.filter { $0.routineId == "wait" }.count >= 10
                }
                #expect(try await h.routilux(["job", "pause", job, "--coordinator", first.1]).code == 0)
                first.0.kill(SIGKILL)
                _ = try await first.0.exitCode()

                let second = try await h.coordinator(bind: first.1, flows: [flow], stateDir: state)
                let paused = try await h.routilux(["job", "status", job, "--coordinator", second.1, "--json"])
                #expect(paused.code == 0, "\(paused.err)")
                #expect(try jobState(paused.out).status == .paused)
                try await waitUntil("the workers to re-join\n\(second.0.stderr.suffix(2000))", timeout: 30) {
                    second.0.stderr.components(separatedBy: " joined from ").count - 1 >= 2
                }
                #expect(try await h.routilux(["job", "resume", job, "--coordinator", second.1]).code == 0)
                let w = try await h.routilux(["job", "wait", job, "--coordinator", second.1, "--json", "--timeout", "120"])
                #expect(w.code == 0, "\(w.err)")
                #expect(collectedIndexes(try jobState(w.out)).sorted() == Array(0..<400), "each item exactly once")
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        @Test func sigtermStopsTheCoordinatorAtOnceAndARestartContinuesTheJob() async throws {
            let h = try ProcessHarness()
            do {
                let flow = try h.write("slow.yaml", slowFlow)
                let state = h.path("state")
                let first = try await h.coordinator(flows: [flow], stateDir: state)
                _ = try await h.workers(2, coordinator: first)
                let params = try h.write("params.json", pipelineParams(300))
                let submit = try await h.routilux(["job", "submit", "--coordinator", first.1, "--flow", "slow", "--params", "@\(params)", "--json"])
                let job = try jobState(submit.out).jobId
                let waiting = try h.start("routilux", ["job", "wait", job, "--coordinator", first.1, "--json", "--timeout", "120"])
                try await waitUntil("the job under way, its client waiting") {
                    let r = try await h.routilux(["cluster", "status", "--coordinator", first.1, "--json"])
                    let s = r.code == 0 ? try JSONValue.parse(r.out) : .null
                    return s["counters"]["results_accepted"].intValue ?? 0 >= 10 && s["waiting_clients"].intValue ?? 0 >= 1
                }
                let stoppedAt = Date()
                first.0.kill(SIGTERM)
                #expect(try await first.0.exitCode(timeout: 10) == 0, "SIGTERM: exit 0\n\(first.0.stderr.suffix(1000))")
                #expect(Date().timeIntervalSince(stoppedAt) < 5, "quickly")
                try await waitUntil("the client to be told\n\(waiting.stderr)") { waiting.stderr.contains("is journalled and continues when it restarts") }
                _ = try await h.coordinator(bind: first.1, flows: [flow], stateDir: state)
                #expect(try await waiting.exitCode(timeout: 120) == 0, "\(waiting.stderr.suffix(2000))")
                let done = try jobState(waiting.stdout)
                #expect(done.status == .completed)
                #expect(collectedIndexes(done).sorted() == Array(0..<300), "each item exactly once")
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        @Test func aRestartWithoutTheStateDirTellsTheWaitingClientItsJobIsGone() async throws {
            let h = try ProcessHarness()
            do {
                let flow = try h.write("slow.yaml", slowFlow)
                let first = try await h.coordinator(flows: [flow], extra: ["--state-dir", "none"])
                _ = try await h.workers(1, coordinator: first)
                let params = try h.write("params.json", pipelineParams(200))
                // The client submits and waits: it has seen the job before the crash.
                let waiting = try h.start("routilux", ["job", "submit", "--coordinator", first.1, "--flow", "slow", "--params", "@\(params)", "--wait", "--timeout", "120"])
                try await waitUntil("the job to run\n\(waiting.stderr)") { try await resultsAccepted(h, first.1) >= 3 && waiting.stderr.contains(" submitted") }
                let job = try #require(waiting.stderr.split(separator: " ").drop { $0 != "job" }.dropFirst().first.map(String.init), "\(waiting.stderr)")
                first.0.kill(SIGKILL)
                _ = try await first.0.exitCode()
                _ = try await h.coordinator(bind: first.1, flows: [flow], extra: ["--state-dir", "none"])
                #expect(try await waiting.exitCode(timeout: 60) == 3, "exit 3: \(waiting.stderr)")
                #expect(waiting.stderr.contains("restarted and does not know job \(job)"), "\(waiting.stderr)")
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        /// Submits `flow` (one item), waits for `ready` in its history, kills the coordinator with
        /// `kill -9`, restarts it on the same state dir, and returns the job's final state.
        func killDuring(_ yaml: String, flowId: String, ready: @escaping @Sendable (JobState) -> Bool) async throws -> JobState {
            let h = try ProcessHarness()
            do {
                let flow = try h.write("\(flowId).yaml", yaml)
                let state = h.path("state")
                let first = try await h.coordinator(flows: [flow], stateDir: state)
                _ = try await h.workers(1, coordinator: first)
                let params = try h.write("params.json", pipelineParams(1))
                let s = try await h.routilux(["job", "submit", "--coordinator", first.1, "--flow", flowId, "--params", "@\(params)", "--json"])
                let job = try jobState(s.out).jobId
                try await waitUntil("the moment to kill") {
                    let r = try await h.routilux(["job", "status", job, "--coordinator", first.1, "--json"])
                    return ready(try jobState(r.out))
                }
                first.0.kill(SIGKILL)
                _ = try await first.0.exitCode()
                let second = try await h.coordinator(bind: first.1, flows: [flow], stateDir: state)
                let w = try await h.routilux(["job", "wait", job, "--coordinator", second.1, "--json", "--timeout", "60"])
                #expect(w.code == 0, "\(w.err)")
                let done = try jobState(w.out)
                await h.shutdown()
                return done
            } catch {
                await h.shutdown()
                throw error
            }
        }

        @Test func killNineDuringARetryDelayKeepsTheRetryAtItsTime() async throws {
            let done = try await killDuring("""
                flow_id: flaky
                routines:
                  flaky: {type: Failer, config: {fail_attempts: 1}, error_handler: {strategy: retry, max_retries: 2, retry_delay: 3}}
                  sink: {type: Collector}
                connections:
                  - {from: flaky.output, to: sink.input}
                """, flowId: "flaky") { $0.executionHistory.contains { $0.eventName == "error" } }
            #expect(done.status == .completed)
            let failedAt = try #require(done.executionHistory.first { $0.eventName == "error" }).timestamp.seconds
            let retriedAt = try #require(done.executionHistory.first { $0.routineId == "flaky" && $0.eventName == "output" }).timestamp.seconds
            #expect(retriedAt - failedAt >= 3, "the retry ran at its time, 3 s after the failure (\(retriedAt - failedAt) s)")
            #expect(done.outputLog.count == 1, "once")
        }

        @Test func killNineDuringATimerFiresItAtItsTime() async throws {
            let done = try await killDuring("""
                flow_id: batch
                routines:
                  src: {type: Splitter, config: {field: items}}
                  batch: {type: Batcher, config: {batch_size: 10, batch_timeout: 3}}
                  sink: {type: Collector}
                connections:
                  - {from: src.item, to: batch.input}
                  - {from: batch.batch, to: sink.input}
                execution: {strategy: concurrent, max_workers: 4}
                """, flowId: "batch") { $0.routineStates["batch"]?["status"].stringValue == "completed" }
            #expect(done.status == .completed)
            let itemAt = try #require(done.executionHistory.first { $0.eventName == "item" }).timestamp.seconds
            let flushedAt = try #require(done.executionHistory.first { $0.eventName == "batch" }).timestamp.seconds
            #expect(flushedAt - itemAt >= 3, "the timer fired at its time (\(flushedAt - itemAt) s after the item)")
            #expect(done.outputLog.count == 1, "one batch, once")
        }

        @Test func anInterruptedRunWithAStateDirContinuesWhereItStopped() async throws {
            let h = try ProcessHarness()
            do {
                let flow = try h.write("slow.yaml", slowFlow)
                let params = try h.write("params.json", pipelineParams(200))
                let state = h.path("run-state")
                let first = try h.start("routilux", ["run", flow, "--params", "@\(params)", "--state-dir", state, "--max-workers", "2"])
                // Part of the way: the journal holds outputs.
                try await waitUntil("the run to be under way") {
                    guard let size = try? FileManager.default.attributesOfItem(atPath: state + "/journal.sqlite-wal")[.size] as? Int else { return false }
                    return size > 100_000
                }
                first.kill(SIGINT)
                #expect(try await first.exitCode(timeout: 30) == 1)
                let again = try await h.routilux(["run", flow, "--params", "@\(params)", "--state-dir", state, "--max-workers", "2", "--json"], timeout: 120)
                #expect(again.code == 0, "\(again.err)")
                #expect(again.err.contains("routilux: continuing job"), "\(again.err)")
                let done = try jobState(again.out)
                #expect(done.status == .completed)
                #expect(collectedIndexes(done).sorted() == Array(0..<200), "each item exactly once across both runs")
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        @Test func aHistoryLongerThanMemoryHoldsComesBackWholeFromTheStore() async throws {
            let h = try ProcessHarness()
            do {
                let flow = try h.write("p4.yaml", pipeline4)
                let params = try h.write("params.json", pipelineParams(300))
                let c = try await h.coordinator(flows: [flow], extra: ["--history-in-memory", "100"])
                _ = try await h.workers(2, coordinator: c)
                let r = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "p4", "--params", "@\(params)", "--wait", "--json"])
                #expect(r.code == 0, "\(r.err)")
                let done = try jobState(r.out)
                #expect(done.executionHistory.count == 901, "start, then 300 records per stage (\(done.executionHistory.count))")
                #expect(done.executionHistory.first?.eventName == "start")
                let tail = try await h.routilux(["job", "status", done.jobId, "--coordinator", c.1, "--json", "--history-tail", "500"])
                #expect(try jobState(tail.out).executionHistory.count == 500, "a tail longer than memory holds, from the store too")
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        @Test func aSecondCoordinatorOnTheSameStateDirRefusesToStart() async throws {
            let h = try ProcessHarness()
            do {
                let state = h.path("state")
                let first = try await h.coordinator(stateDir: state)
                let second = try h.start("routilux-coordinator", ["start", "--bind", "tcp://127.0.0.1:*", "--state-dir", state])
                #expect(try await second.exitCode() == 2)
                #expect(second.stderr.contains("is in use by another coordinator (pid \(first.0.process.processIdentifier))"), "\(second.stderr)")
                #expect(second.stderr.split(separator: "\n").count == 1, "one line: \(second.stderr)")
                // A corrupt journal: refused, untouched.
                first.0.kill(SIGTERM)
                _ = try await first.0.exitCode()
                let journal = state + "/journal.sqlite"
                #expect(!FileManager.default.fileExists(atPath: journal + "-wal"), "a clean stop leaves the journal in one file")
                for extra in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: journal + extra) }
                let junk = Data(repeating: 0x41, count: 8192)
                try junk.write(to: URL(fileURLWithPath: journal))
                let third = try h.start("routilux-coordinator", ["start", "--bind", "tcp://127.0.0.1:*", "--state-dir", state])
                #expect(try await third.exitCode() == 2)
                #expect(third.stderr.contains("not a database"), "\(third.stderr)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: journal)) == junk, "nothing overwritten")
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }
    }
}
