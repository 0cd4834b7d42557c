import Foundation
import RoutiluxCore
import RoutiluxTestSupport
import Testing

/// A source, a slow stage and a sink: work stays in flight long enough to steer.
let slowFlow = """
    flow_id: slow
    routines:
      source: {type: Splitter, config: {field: items}}
      wait: {type: Delay, config: {seconds: 0.05}}
      sink: {type: Collector}
    connections:
      - {from: source.item, to: wait.input}
      - {from: wait.output, to: sink.input, param_mapping: {item: data}}
    execution: {strategy: concurrent, max_workers: 4}
    """

extension Integration {
    /// `routilux job pause|resume|cancel` and `resume --from` against real processes.
    @Suite struct JobControlTests {
        func status(_ h: ProcessHarness, _ c: String, _ job: String, output: String? = nil) async throws -> JobState {
            let r = try await h.routilux(["job", "status", job, "--coordinator", c, "--json"] + (output.map { ["--output", $0] } ?? []))
            #expect(r.code == 0, "\(r.err)")
            return try jobState(r.out)
        }

        /// Nothing in flight: every item is either collected or pending.
        func drained(_ s: JobState, items: Int) -> Bool {
            s.outputLog.count + s.pendingTasks.count == items
        }

        @Test func pauseParksAJobAndResumeFinishesItExactlyOnce() async throws {
            let h = try ProcessHarness()
            do {
                let flow = try h.write("slow.yaml", slowFlow)
                let c = try await h.coordinator(flows: [flow])
                _ = try await h.workers(2, coordinator: c)
                let params = try h.write("params.json", pipelineParams(60))
                let submit = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "slow", "--params", "@\(params)", "--json"])
                let job = try jobState(submit.out).jobId
                try await waitUntil("some items to pass the slow stage") {
                    try await status(h, c.1, job).executionHistory.filter { $0.routineId == "wait" }.count >= 5
                }
                let p = try await h.routilux(["job", "pause", job, "--coordinator", c.1, "--reason", "a human looks", "--checkpoint", #"{"step": 1}"#, "--json"])
                #expect(p.code == 0, "\(p.err)")
                let paused = try jobState(p.out)
                #expect(paused.status == .paused)
                #expect(paused.pausePoints.last?["reason"] == "a human looks")
                #expect(paused.pausePoints.last?["checkpoint"] == ["step": 1])
                var settled = paused
                try await waitUntil("in-flight tasks to finish") {
                    settled = try await status(h, c.1, job)
                    return drained(settled, items: 60)
                }
                #expect(settled.status == .paused)
                #expect(settled.outputLog.count < 60, "paused before the end")
                #expect(settled.pendingTasks.allSatisfy { $0["job_id"] == .string(job) })
                let again = try await status(h, c.1, job)
                #expect(again.outputLog.count == settled.outputLog.count, "nothing runs while paused")

                let bad = try await h.routilux(["job", "pause", job, "--coordinator", c.1])
                #expect(bad.code == 2)
                #expect(bad.err.contains("only a running job can be paused"))

                let r = try await h.routilux(["job", "resume", job, "--coordinator", c.1])
                #expect(r.code == 0, "\(r.err)")
                let w = try await h.routilux(["job", "wait", job, "--coordinator", c.1, "--json", "--timeout", "60"])
                #expect(w.code == 0, "\(w.err)")
                let done = try jobState(w.out)
                #expect(done.status == .completed)
                #expect(collectedIndexes(done).sorted() == Array(0..<60), "each item exactly once")
                #expect(done.pendingTasks.isEmpty)
                let twice = try await h.routilux(["job", "resume", job, "--coordinator", c.1])
                #expect(twice.code == 2)
                #expect(twice.err.contains("only a paused job can be resumed"))
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        @Test func cancelStopsOneJobAndLeavesTheOtherAlone() async throws {
            let h = try ProcessHarness()
            do {
                let flow = try h.write("slow.yaml", slowFlow)
                let c = try await h.coordinator(flows: [flow])
                _ = try await h.workers(2, coordinator: c)
                var ids: [String] = []
                for tag in ["doomed", "fine"] {
                    let params = try h.write("\(tag).json", pipelineParams(40, tag: tag))
                    let s = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "slow", "--params", "@\(params)", "--json"])
                    ids.append(try jobState(s.out).jobId)
                }
                let x = try await h.routilux(["job", "cancel", ids[0], "--coordinator", c.1, "--reason", "not needed", "--json"])
                #expect(x.code == 0, "\(x.err)")
                #expect(try jobState(x.out).status == .cancelled)
                let w0 = try await h.routilux(["job", "wait", ids[0], "--coordinator", c.1, "--json"])
                #expect(w0.code == 1, "waiting on a cancelled job does not succeed")
                let cancelled = try jobState(w0.out)
                #expect(cancelled.status == .cancelled)
                #expect(cancelled.outputLog.count < 40)
                let w1 = try await h.routilux(["job", "wait", ids[1], "--coordinator", c.1, "--json", "--timeout", "60"])
                #expect(w1.code == 0, "\(w1.err)")
                let fine = try jobState(w1.out)
                #expect(fine.status == .completed)
                #expect(fine.outputLog.count == 40)
                #expect(fine.outputLog.allSatisfy { $0["data"]["tag"] == "fine" })
                // The cancelled job stays cancelled: late results changed nothing.
                #expect(try await status(h, c.1, ids[0]).outputLog.count == cancelled.outputLog.count)
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        @Test func aSavedPausedJobContinuesOnAFreshCoordinator() async throws {
            let h = try ProcessHarness()
            do {
                let flow = try h.write("slow.yaml", slowFlow)
                let first = try await h.coordinator(flows: [flow])
                let firstWorkers = try await h.workers(1, coordinator: first)
                let params = try h.write("params.json", pipelineParams(40))
                let s = try await h.routilux(["job", "submit", "--coordinator", first.1, "--flow", "slow", "--params", "@\(params)", "--json"])
                let job = try jobState(s.out).jobId
                try await waitUntil("some progress") {
                    try await status(h, first.1, job).executionHistory.filter { $0.routineId == "wait" }.count >= 3
                }
                _ = try await h.routilux(["job", "pause", job, "--coordinator", first.1])
                let saved = h.path("saved.json")
                try await waitUntil("the paused job to settle") {
                    drained(try await status(h, first.1, job, output: saved), items: 40)
                }
                // The first coordinator and its worker go away for good.
                first.0.kill(SIGKILL)
                for w in firstWorkers { w.kill(SIGKILL) }

                let second = try await h.coordinator(flows: [flow])
                _ = try await h.workers(2, coordinator: second)
                let r = try await h.routilux(["job", "resume", "--from", saved, "--coordinator", second.1, "--json"])
                #expect(r.code == 0, "\(r.err)")
                #expect(try jobState(r.out).jobId == job)
                let w = try await h.routilux(["job", "wait", job, "--coordinator", second.1, "--json", "--timeout", "60"])
                #expect(w.code == 0, "\(w.err)")
                let done = try jobState(w.out)
                #expect(done.status == .completed)
                #expect(collectedIndexes(done).sorted() == Array(0..<40), "each item exactly once across both coordinators")

                let notPaused = try h.write("running.json", done.json.jsonString())
                let refused = try await h.routilux(["job", "resume", "--from", notPaused, "--coordinator", second.1])
                #expect(refused.code == 2)
                #expect(refused.err.contains("status: is completed; only a paused job can be resumed"))
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }
    
        @Test func waitingOutlastsThePollIntervalAndNoticesADeadCoordinator() async throws {
            let h = try ProcessHarness()
            do {
                let flow = try h.write("nap.yaml", """
                    flow_id: nap
                    routines:
                      nap: {type: Delay, config: {seconds: 1.2}}
                      sink: {type: Collector}
                    connections:
                      - {from: nap.output, to: sink.input}
                    """)
                let c = try await h.coordinator(flows: [flow])
                _ = try await h.workers(1, coordinator: c)
                let fastPoll = ["ROUTILUX_WAIT_POLL": "0.3"]
                // The job takes four poll intervals: the wait goes on, and succeeds.
                let ok = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "nap", "--wait", "--json"], env: fastPoll)
                #expect(ok.code == 0, "\(ok.err)")
                #expect(try jobState(ok.out).status == .completed)
                // A --timeout shorter than the job: exit 1, the job goes on.
                let s = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "nap", "--json"])
                let job = try jobState(s.out).jobId
                let short = try await h.routilux(["job", "wait", job, "--coordinator", c.1, "--timeout", "0.4"], env: fastPoll)
                #expect(short.code == 1)
                #expect(short.err.contains("did not end within"), "\(short.err)")
                // The coordinator dies while a client waits: the client notices within seconds, waits
                // for it to come back for --unreachable-timeout, then says so.
                let s2 = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "nap", "--json"])
                let job2 = try jobState(s2.out).jobId
                let waiter = try h.start("routilux", ["job", "wait", job2, "--coordinator", c.1, "--unreachable-timeout", "2"], env: fastPoll)
                c.0.kill(SIGKILL)
                #expect(try await waiter.exitCode(timeout: 60) == 1)
                #expect(waiter.stderr.contains("stopped answering"), "\(waiter.stderr)")
                #expect(waiter.stderr.contains("has not answered for 2 s (--unreachable-timeout)"), "\(waiter.stderr)")
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }
    }
}
