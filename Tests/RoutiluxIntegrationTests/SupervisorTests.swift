import Foundation
import RoutiluxCore
import RoutiluxTestSupport
import Testing

/// `routilux-worker join --processes N`: stable ids, restarts, recycling, giving up, chaos.
extension Integration {
    @Suite struct SupervisorTests {
        /// The pids of the supervisor's worker processes, by worker id (from `ps`).
        func children(_ base: String) -> [String: Int32] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/ps")
            p.arguments = ["-eo", "pid=,args="]
            let pipe = Pipe()
            p.standardOutput = pipe
            try? p.run()
            let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            var found: [String: Int32] = [:]
            for line in out.split(separator: "\n") {
                let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                guard let pid = Int32(parts.first ?? ""), let i = parts.firstIndex(of: "--id"), i + 1 < parts.count else { continue }
                let id = String(parts[i + 1])
                if id.hasPrefix(base + "-") && !line.contains("--processes") { found[id] = pid }
            }
            return found
        }

        func joins(_ c: Spawned, _ id: String) -> Int {
            c.stderr.components(separatedBy: "worker \(id) joined from ").count - 1 + c.stderr.components(separatedBy: "worker \(id) re-joined from ").count - 1
        }

        @Test func aKilledProcessComesBackWithItsIdAndTakesItsPlaceAtOnce() async throws {
            let h = try ProcessHarness()
            do {
                let c = try await h.coordinator()
                let sup = try h.start("routilux-worker", ["join", c.1, "--processes", "3", "--id", "sv"])
                try await waitUntil("three processes to join\n\(c.0.stderr.suffix(2000))") {
                    (0..<3).allSatisfy { joins(c.0, "sv-\($0)") == 1 }
                }
                let victim = try #require(children("sv")["sv-1"])
                kill(victim, SIGKILL)
                try await waitUntil("sv-1 to re-join at once under its id\n\(c.0.stderr.suffix(2000))", timeout: 10) {
                    c.0.stderr.contains("worker sv-1 re-joined from")
                }
                #expect(!c.0.stderr.contains("refused worker 'sv-1'"), "its slot's secret lets it in at once")
                #expect(sup.stderr.contains("worker sv-1: it ended abnormally (signal 9 (SIGKILL))"), "\(sup.stderr.suffix(2000))")
                sup.kill(SIGTERM)
                #expect(try await sup.exitCode(timeout: 30) == 0)
                #expect(children("sv").isEmpty, "every worker process ended with the supervisor")
                try await waitUntil("all three to leave\n\(c.0.stderr.suffix(2000))") {
                    c.0.stderr.components(separatedBy: " left: drained").count - 1 >= 3
                }
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        @Test func maxTasksRecyclesAProcess() async throws {
            let h = try ProcessHarness()
            do {
                let flow = try h.write("p4.yaml", pipeline4)
                let c = try await h.coordinator(flows: [flow])
                let sup = try h.start("routilux-worker", ["join", c.1, "--processes", "1", "--id", "rc", "--max-tasks", "10"])
                try await waitUntil("the process to join\n\(c.0.stderr.suffix(2000))") { joins(c.0, "rc-0") >= 1 }
                let params = try h.write("params.json", pipelineParams(20))
                let r = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "p4", "--params", "@\(params)", "--wait", "--json", "--timeout", "120"])
                #expect(r.code == 0, "\(r.err)")
                #expect(collectedIndexes(try jobState(r.out)).sorted() == Array(0..<20))
                #expect(sup.stderr.contains("recycling after 10 task(s)"), "\(sup.stderr.suffix(2000))")
                #expect(sup.stderr.contains("worker rc-0: it drained"), "\(sup.stderr.suffix(2000))")
                #expect(joins(c.0, "rc-0") >= 5, "61 tasks, 10 per process")
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        @Test func aProcessThatKeepsCrashingIsGivenUpWithAClearMessage() async throws {
            let h = try ProcessHarness()
            do {
                // Every process fails at once: its inbox address is taken.
                let c = try await h.coordinator()
                let taken = try await h.workers(1, coordinator: c, extra: ["--bind", "tcp://127.0.0.1:47311"])
                _ = taken
                let sup = try h.start("routilux-worker", ["join", c.1, "--processes", "1", "--id", "cr", "--bind", "tcp://127.0.0.1:47311"])
                #expect(try await sup.exitCode(timeout: 60) == 1)
                #expect(sup.stderr.contains("worker cr-0: not restarted: it crashed 5 times in a row within 2 s of starting (last: exit 1)"), "\(sup.stderr.suffix(2000))")
                #expect(sup.stderr.contains("every worker process was given up"), "\(sup.stderr.suffix(500))")
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        @Test func chaosKillNineEveryHalfSecondLosesNothingAndCostsLessThanTwice() async throws {
            let h = try ProcessHarness()
            do {
                let flow = try h.write("p4.yaml", pipeline4)
                let params = try h.write("params.json", pipelineParams(10_000))
                let c = try await h.coordinator(flows: [flow])
                let sup = try h.start("routilux-worker", ["join", c.1, "--processes", "3", "--id", "ch"])
                try await waitUntil("three processes to join\n\(c.0.stderr.suffix(2000))") { (0..<3).allSatisfy { joins(c.0, "ch-\($0)") >= 1 } }
                func run() async throws -> (Double, JobState) {
                    let t0 = Date()
                    let r = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "p4", "--params", "@\(params)", "--wait", "--json", "--timeout", "600"], timeout: 600)
                    #expect(r.code == 0, "\(r.err.suffix(2000))")
                    return (Date().timeIntervalSince(t0), try jobState(r.out))
                }
                let (calm, _) = try await run()
                // A random worker process gets kill -9 every 0.5 s while the job runs.
                let chaos = Task {
                    await repeatEvery(.milliseconds(500)) {
                        guard let victim = children("ch").values.randomElement() else { return false }
                        kill(victim, SIGKILL)
                        return true
                    }
                }
                let (stormy, state) = try await run()
                chaos.cancel()
                let kills = await chaos.value
                let got = collectedIndexes(state)
                #expect(state.status == .completed)
                #expect(got.count == 10_000 && Set(got).count == 10_000, "each item exactly once (\(got.count), \(Set(got).count) distinct)")
                #expect(kills >= 3, "the chaos killed \(kills) process(es)")
                #expect(stormy < 2 * calm, "\(kills) kills: \(stormy) s against \(calm) s undisturbed")
                print("chaos: \(kills) kill -9 in \(String(format: "%.1f", stormy)) s; undisturbed \(String(format: "%.1f", calm)) s; ratio \(String(format: "%.2f", stormy / calm))")
                sup.kill(SIGTERM)
                _ = try await sup.exitCode(timeout: 60)
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }
    }
}
