import Foundation
import RoutiluxCore
import Testing

extension Integration {
    /// Batcher, Aggregator, Debouncer and RetryHandler keep per-job state on the
    /// coordinator and use its timers; here they run in real worker processes.
    @Suite struct TimedBuiltinTests {
        func run(_ h: ProcessHarness, _ name: String, _ flow: String, params: String, workers: Int = 2) async throws -> JobState {
            let file = try h.write(name, flow)
            let r = try await h.routilux(["run", file, "--params", params, "--json", "--max-workers", "\(workers)"])
            #expect(r.code == 0, "\(name): \(r.err)")
            return try jobState(r.out)
        }

        @Test func batcherFlushesBySizeThenByTime() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            let s = try await run(h, "batch.yaml", """
                routines:
                  source: {type: Splitter, config: {field: items}}
                  batch: {type: Batcher, config: {batch_size: 2, batch_timeout: 0.3}}
                  sink: {type: Collector, config: {field: count}}
                connections:
                  - {from: source.item, to: batch.input, param_mapping: {item: data}}
                  - {from: batch.batch, to: sink.input}
                execution: {strategy: concurrent, max_workers: 4}
                """, params: #"{"items": [1, 2, 3, 4, 5]}"#)
            #expect(s.status == .completed)
            #expect(s.outputLog.map { $0["data"] } == [2, 2, 1], "two full batches, then the rest when the timer fires")
            #expect(s.executionHistory.filter { $0.routineId == "batch" && $0.eventName == "timeout" }.count == 1)
        }

        @Test func aggregatorJoinsTwoBranchesPerJob() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            let s = try await run(h, "join.yaml", """
                routines:
                  source: {type: Splitter, config: {field: items}}
                  route:
                    type: ConditionalRouter
                    config: {routes: [[left, "data.side == 'l'"], [right, "data.side == 'r'"]]}
                  join: {type: Aggregator, config: {slots: [l, r], mode: all, merge_strategy: dict, timeout: 10}}
                  sink: {type: Collector}
                connections:
                  - {from: source.item, to: route.input, param_mapping: {item: data}}
                  - {from: route.left, to: join.l}
                  - {from: route.right, to: join.r}
                  - {from: join.aggregated, to: sink.input}
                execution: {strategy: concurrent, max_workers: 4}
                """, params: #"{"items": [{"side": "l", "v": 1}, {"side": "r", "v": 2}]}"#)
            #expect(s.status == .completed)
            #expect(s.outputLog.count == 1)
            #expect(s.outputLog.first?["data"] == ["l": ["side": "l", "v": 1], "r": ["side": "r", "v": 2]])
        }

        @Test func debouncerLetsABurstThroughOnce() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            let s = try await run(h, "debounce.yaml", """
                routines:
                  source: {type: Splitter, config: {field: items}}
                  calm: {type: Debouncer, config: {wait: 0.3, leading: true}}
                  first: {type: Collector, config: {output_type: leading}}
                  last: {type: Collector, config: {output_type: trailing}}
                connections:
                  - {from: source.item, to: calm.input, param_mapping: {item: data}}
                  - {from: calm.leading, to: first.input}
                  - {from: calm.debounced, to: last.input}
                execution: {strategy: concurrent, max_workers: 4}
                """, params: #"{"items": ["a", "b", "c", "d"]}"#)
            #expect(s.status == .completed)
            #expect(s.outputLog.map { $0["output_type"] } == ["leading", "trailing"])
            #expect(s.outputLog.map { $0["data"] } == ["a", "d"])
        }

        @Test func retryHandlerLoopsWithBackoffUntilSuccessOrExhaustion() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            let flow = """
                routines:
                  source: {type: Splitter, config: {field: items}}
                  gate: {type: Filter, config: {condition: "data.attempt >= 3"}}
                  again: {type: RetryHandler, config: {max_attempts: MAX, backoff: fixed, base_delay: 0.05}}
                  done: {type: Collector, config: {output_type: done}}
                  gave_up: {type: Collector, config: {output_type: gave_up}}
                connections:
                  - {from: source.item, to: gate.input, param_mapping: {item: data}}
                  - {from: gate.passed, to: done.input}
                  - {from: gate.rejected, to: again.input}
                  - {from: again.retry, to: gate.input}
                  - {from: again.exhausted, to: gave_up.input}
                """
            let ok = try await run(h, "retry-ok.yaml", flow.replacingOccurrences(of: "MAX", with: "5"), params: #"{"items": [{"attempt": 1}]}"#)
            #expect(ok.outputLog.map { $0["output_type"] } == ["done"])
            #expect(ok.outputLog.first?["data"] == ["attempt": 3])
            #expect(ok.executionHistory.filter { $0.eventName == "retry" }.count == 2)
            let no = try await run(h, "retry-no.yaml", flow.replacingOccurrences(of: "MAX", with: "2"), params: #"{"items": [{"attempt": 1}]}"#)
            #expect(no.outputLog.map { $0["output_type"] } == ["gave_up"])
        }
    }
}
