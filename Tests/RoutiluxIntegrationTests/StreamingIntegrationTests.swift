import Foundation
import RoutiluxCore
import RoutiluxTestSupport
import Testing

/// Source → sink: every item of a big source activation streams through PARTs.
let streamFlow = """
    flow_id: stream
    routines:
      source: {type: Splitter, config: {field: items}}
      sink: {type: Collector}
    connections:
      - {from: source.item, to: sink.input, param_mapping: {item: data}}
    execution: {strategy: concurrent, max_workers: 8}
    """

/// Source → a stage that holds each item 30 s → sink: the backlog piles up behind it.
let backlogFlow = """
    flow_id: backlog
    routines:
      source: {type: Splitter, config: {field: items}}
      slow: {type: Delay, config: {seconds: 30}}
      sink: {type: Collector}
    connections:
      - {from: source.item, to: slow.input}
      - {from: slow.output, to: sink.input}
    execution: {strategy: concurrent, max_workers: 2}
    """

/// `{"items": [0, 1, ...]}` written as text (cheap to make for a great many items).
func numberParams(_ n: Int) -> String {
    "{\"items\":[" + (0..<n).map(String.init).joined(separator: ",") + "]}"
}

extension Integration {
    @Suite struct StreamingIntegrationTests {
        func status(_ h: ProcessHarness, _ c: String) async throws -> JSONValue {
            let r = try await h.routilux(["cluster", "status", "--coordinator", c, "--json"])
            guard r.code == 0 else { return .null }
            return try JSONValue.parse(r.out)
        }

        /// A process's resident-set field from /proc (VmHWM: its peak), bytes.
        func memory(_ pid: Int32, _ field: String) -> Int {
            guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = s.split(separator: "\n").first(where: { $0.hasPrefix(field) })
            else { return 0 }
            return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
        }

        @Test func aBigSourceStreamsItsItemsAndAKillNineWhileItDoesLosesNone() async throws {
            let h = try ProcessHarness()
            do {
                let n = 20_000
                let flow = try h.write("stream.yaml", streamFlow)
                let params = try h.write("params.json", numberParams(n))
                let state = h.path("state")
                let first = try await h.coordinator(flows: [flow], stateDir: state)
                _ = try await h.workers(2, coordinator: first)
                let submit = try await h.routilux(["job", "submit", "--coordinator", first.1, "--flow", "stream", "--params", "@\(params)", "--json"])
                #expect(submit.code == 0, "\(submit.err)")
                let job = try jobState(submit.out).jobId
                let waiting = try h.start("routilux", ["job", "wait", job, "--coordinator", first.1, "--json", "--history-tail", "0", "--timeout", "600"])
                // The source's parts arrive (and are routed a few at a time): kill -9 then.
                try await waitUntil("the source's first parts to be staged", timeout: 120) {
                    try await status(h, first.1)["counters"]["parts_staged"].intValue ?? 0 >= 1
                }
                first.0.kill(SIGKILL)
                _ = try await first.0.exitCode()

                let second = try await h.coordinator(bind: first.1, flows: [flow], stateDir: state)
                #expect(try await waiting.exitCode(timeout: 600) == 0, "the waiting client: \(waiting.stderr.suffix(2000))")
                let done = try jobState(waiting.stdout)
                #expect(done.status == .completed)
                let got = done.outputLog.compactMap { $0["data"].intValue }
                #expect(got.count == n, "\(got.count) items in the sink")
                #expect(Set(got) == Set(0..<n), "each item exactly once")
                let after = try await status(h, second.1)
                #expect(after["streamed_results_routing"].intValue == 0)
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        /// The generous RSS bound (the benchmark's `--scenario backlog` gives the figure for a million items).
        @Test func aBacklogOfAHundredThousandItemsKeepsTheCoordinatorsMemoryBounded() async throws {
            let h = try ProcessHarness()
            do {
                let n = 100_000
                let flow = try h.write("backlog.yaml", backlogFlow)
                let params = try h.write("params.json", numberParams(n))
                let c = try await h.coordinator(flows: [flow], extra: ["--state-dir", h.path("state"), "--max-queued-in-memory", "10000"])
                _ = try await h.workers(1, coordinator: c)
                let submit = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "backlog", "--params", "@\(params)", "--json"])
                #expect(submit.code == 0, "\(submit.err)")
                var last = JSONValue.null
                try await waitUntil("the source's \(n) items to be queued (last status: \(last["counters"].jsonString()))", timeout: 300) {
                    last = try await status(h, c.1)
                    return last["counters"]["streamed_results_routed"].intValue ?? 0 >= 1
                }
                let peak = memory(c.0.process.processIdentifier, "VmHWM:")
                #expect(last["queued_in_store"].intValue ?? 0 >= n - 10_002, "the backlog waits in the store: \(last.jsonString())")
                #expect(last["queued_in_memory"].intValue ?? .max <= 10_000)
                // Unbounded (every item a task in memory, each with its history record) this is several times more.
                #expect(peak < 200 << 20, "coordinator peak RSS \(peak >> 20) MB with \(n) items queued")
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }
    }
}
