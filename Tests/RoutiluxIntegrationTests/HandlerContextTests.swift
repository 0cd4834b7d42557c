import Foundation
import RoutiluxCore
import RoutiluxTestSupport
import Testing

extension Integration {
    /// Shared data, the shared log, deferred events and a handler's pause, through
    /// real worker processes (Exec routines written in Python and sh).
    @Suite struct HandlerContextTests {
        @Test func aHandlerPausesItsJobAndResumeEmitsTheDeferredEventInsideTheJob() async throws {
            let h = try ProcessHarness()
            do {
                let step = try h.write("step.py", """
                    import json, os, sys
                    item = json.load(sys.stdin)
                    shared = json.loads(os.environ["ROUTILUX_SHARED_DATA"])
                    count = shared.get("count", 0)
                    print(json.dumps({"event": "output", "data": {"n": item["n"], "count_seen": count}}))
                    print(json.dumps({"shared_data": {"count": count + 1}}))
                    print(json.dumps({"shared_log": {"step": item["n"]}}))
                    """)
                let flow = try h.write("approval.yaml", """
                    flow_id: approval
                    routines:
                      start:
                        type: Exec
                        config:
                          events: [item, late]
                          command: |
                            echo '{"shared_data": {"count": 0, "owner": "start"}}'
                            echo '{"shared_log": {"step": "start"}}'
                            echo '{"deferred": "late", "data": {"n": 99}}'
                            echo '{"event": "item", "data": {"n": 1}}'
                            echo '{"pause": "needs approval"}'
                      step:
                        type: Exec
                        config: {command: [python3, \(step)]}
                      sink: {type: Collector}
                    connections:
                      - {from: start.item, to: step.input}
                      - {from: start.late, to: step.input}
                      - {from: step.output, to: sink.input}
                    execution: {strategy: sequential}
                    """)
                let c = try await h.coordinator(flows: [flow])
                _ = try await h.workers(2, coordinator: c, extra: ["--allow-exec"])
                let s = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "approval", "--json"])
                #expect(s.code == 0, "\(s.err)")
                let job = try jobState(s.out).jobId
                var paused = try jobState(s.out)
                try await waitUntil("the handler to pause its job") {
                    let r = try await h.routilux(["job", "status", job, "--coordinator", c.1, "--json"])
                    paused = try jobState(r.out)
                    return paused.status == .paused
                }
                #expect(paused.pausePoints.last?["reason"] == "needs approval")
                #expect(paused.pausePoints.last?["checkpoint"] == .object([:]), "no checkpoint given: {} as in routilux")
                #expect(paused.pendingTasks.map { $0["data"] } == [["n": 1]], "its emission waits")
                #expect(paused.deferredEvents.map { $0["event_name"] } == ["late"])
                #expect(paused.sharedData == ["count": 0, "owner": "start"])

                let r = try await h.routilux(["job", "resume", job, "--coordinator", c.1])
                #expect(r.code == 0, "\(r.err)")
                let w = try await h.routilux(["job", "wait", job, "--coordinator", c.1, "--json", "--timeout", "60"])
                #expect(w.code == 0, "\(w.err)")
                let done = try jobState(w.out)
                #expect(done.status == .completed, "\(done.routineStates)")
                // In order: the parked item, then the deferred event; each read sees the updates before it.
                #expect(done.outputLog.map { $0["data"] } == [["n": 1, "count_seen": 0], ["n": 99, "count_seen": 1]])
                #expect(done.sharedData == ["count": 2, "owner": "start"])
                #expect(done.sharedLog.map { $0["step"] } == ["start", 1, 99])
                #expect(done.sharedLog.allSatisfy { $0["timestamp"].stringValue != nil })
                #expect(done.deferredEvents.isEmpty)
                #expect(done.executionHistory.contains { $0.routineId == "start" && $0.eventName == "late" }, "the deferred emit is in the job's history")
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        @Test func execFailuresCarryStderrAndAWorkerWithoutAllowExecRefuses() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            let flow = try h.write("fails.yaml", """
                routines:
                  bad: {type: Exec, config: {command: "echo 'disk on fire' >&2; exit 4"}}
                """)
            let r = try await h.routilux(["run", flow, "--json"])
            #expect(r.code == 1)
            let state = try jobState(r.out)
            #expect(state.routineStates["bad"]?["error"].stringValue?.contains("exited with 4: disk on fire") == true)

            let c = try await h.coordinator(flows: [flow])
            _ = try await h.workers(1, coordinator: c)
            let s = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "fails", "--wait", "--json"])
            #expect(s.code == 1)
            #expect(try jobState(s.out).routineStates["bad"]?["error"].stringValue?.contains("start it with --allow-exec") == true)
        }

        @Test func aStoppingWorkerEndsTheCommandsItIsRunning() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            let pidFile = h.path("child.pid")
            let flow = try h.write("long.yaml", """
                routines:
                  long: {type: Exec, config: {command: "sleep 300 & echo $! > \(pidFile); wait", timeout: 600}}
                """)
            let c = try await h.coordinator(flows: [flow])
            let w = try await h.workers(1, coordinator: c, extra: ["--allow-exec"])
            let s = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "long"])
            #expect(s.code == 0, "\(s.err)")
            let pid = try await waitForPid(in: pidFile, "the command to start its child")
            // The first SIGTERM drains (the command could finish); the second stops it now.
            w[0].kill(SIGTERM)
            try await waitUntil("the worker to drain\n\(w[0].stderr)") { w[0].stderr.contains("draining") }
            w[0].kill(SIGTERM)
            #expect(try await w[0].exitCode(timeout: 20) == 0, "\(w[0].stderr)")
            #expect(w[0].stderr.contains("stopping 1 running handler(s)"), "\(w[0].stderr)")
            try await waitUntil("the command's child \(pid) to end with the worker", timeout: 10) { processHasEnded(pid) }
        }
    }
}
