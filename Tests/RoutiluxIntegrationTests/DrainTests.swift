import Foundation
import RoutiluxCore
import RoutiluxTestSupport
import Testing

/// Worker SIGTERM: a drain finishes what the worker holds; its timeout or a second signal stops it.
extension Integration {
    @Suite struct DrainTests {
        /// One Exec task: appends a line to `runs` each time it starts, writes its child's pid, sleeps `seconds`.
        func execFlow(_ h: ProcessHarness, seconds: Int) throws -> (flow: String, runs: String, pid: String) {
            let runs = h.path("runs.txt")
            let pid = h.path("child.pid")
            let flow = try h.write("work.yaml", """
                flow_id: work
                routines:
                  work: {type: Exec, config: {command: 'echo run >> \(runs); sleep \(seconds) & echo $! > \(pid); wait', timeout: 600}}
                """)
            return (flow, runs, pid)
        }

        func lines(_ file: String) -> Int {
            ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").count
        }

        @Test func sigtermMidTaskFinishesTheTaskOnceAndSendsItsResult() async throws {
            let h = try ProcessHarness()
            do {
                let (flow, runs, pidFile) = try execFlow(h, seconds: 2)
                let c = try await h.coordinator(flows: [flow])
                let w = try await h.workers(1, coordinator: c, extra: ["--allow-exec"])[0]
                let s = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "work", "--json"])
                let job = try jobState(s.out).jobId
                let child = try await waitForPid(in: pidFile, "the task to start\n\(w.stderr)")
                w.kill(SIGTERM)
                #expect(try await w.exitCode(timeout: 30) == 0, "a clean drain exits 0\n\(w.stderr.suffix(2000))")
                #expect(w.stderr.contains("draining: finishing 1 task(s)"), "\(w.stderr.suffix(2000))")
                #expect(processHasEnded(child), "no orphan: the command's child ended with its task")
                let r = try await h.routilux(["job", "wait", job, "--coordinator", c.1, "--json", "--timeout", "30"])
                #expect(r.code == 0, "the result arrived: \(r.err)")
                #expect(try jobState(r.out).status == .completed)
                #expect(lines(runs) == 1, "the task ran once (\(lines(runs)) runs)")
                #expect(c.0.stderr.contains("drains: it is sent no more tasks"), "\(c.0.stderr.suffix(2000))")
                #expect(c.0.stderr.contains("left: drained"), "\(c.0.stderr.suffix(2000))")
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        @Test func atTheDrainTimeoutTheHandlerIsStoppedItsChildKilledAndTheTaskRequeued() async throws {
            let h = try ProcessHarness()
            do {
                let (flow, runs, pidFile) = try execFlow(h, seconds: 300)
                let c = try await h.coordinator(flows: [flow])
                let w = try await h.workers(1, coordinator: c, extra: ["--allow-exec", "--drain-timeout", "1"])[0]
                let s = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "work", "--json"])
                let job = try jobState(s.out).jobId
                let child = try await waitForPid(in: pidFile, "the task to start\n\(w.stderr)")
                w.kill(SIGTERM)
                #expect(try await w.exitCode(timeout: 30) == 0)
                #expect(w.stderr.contains("drain timeout: stopping 1 running handler(s)"), "\(w.stderr.suffix(2000))")
                try await waitUntil("the command's child \(child) to end with its worker", timeout: 10) { processHasEnded(child) }
                try await waitUntil("the coordinator to re-queue the task at once\n\(c.0.stderr.suffix(2000))", timeout: 10) {
                    c.0.stderr.contains("left: worker stopping")
                }
                let status = try await h.routilux(["job", "status", job, "--coordinator", c.1, "--json"])
                #expect(try jobState(status.out).status == .running, "its task waits for another worker")
                #expect(lines(runs) == 1)
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        @Test func aSecondSignalStopsAtOnce() async throws {
            let h = try ProcessHarness()
            do {
                let (flow, _, pidFile) = try execFlow(h, seconds: 300)
                let c = try await h.coordinator(flows: [flow])
                let w = try await h.workers(1, coordinator: c, extra: ["--allow-exec"])[0]
                _ = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "work", "--json"])
                let child = try await waitForPid(in: pidFile, "the task to start\n\(w.stderr)")
                w.kill(SIGTERM)
                try await waitUntil("the drain to start\n\(w.stderr)") { w.stderr.contains("draining") }
                let stoppedAt = Date()
                w.kill(SIGTERM)
                #expect(try await w.exitCode(timeout: 30) == 0)
                #expect(Date().timeIntervalSince(stoppedAt) < 10, "not the 30 s drain timeout")
                try await waitUntil("the command's child \(child) to end", timeout: 10) { processHasEnded(child) }
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }
    }
}
