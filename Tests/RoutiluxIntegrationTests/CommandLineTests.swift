import Foundation
import RoutiluxCore
import RoutiluxTestSupport
import Testing

/// `routilux run` and `routilux flow validate`: exit codes and error messages.
extension Integration {
@Suite struct CommandLineTests {
    @Test func runPrintsTheResultAndExitsZeroWhenTheJobCompletes() async throws {
        let h = try ProcessHarness()
        defer { Task { await h.shutdown() } }
        let out = h.path("state.json")
        let r = try await h.routilux([
            "run", "Examples/pipeline.yaml", "--params", "@Examples/pipeline-params.json", "--max-workers", "4",
            "--output", out,
        ])
        #expect(r.code == 0, "\(r.err)")
        #expect(r.out.contains(": completed"))
        #expect(r.out.contains("HELLO WORLD"))
        let saved = try jobState(String(contentsOfFile: out, encoding: .utf8))
        #expect(saved.status == .completed)
        #expect(saved.outputLog.count == 5)
    }

    @Test func runOverTCPWithJSONOutputAndSequentialOrder() async throws {
        let h = try ProcessHarness()
        defer { Task { await h.shutdown() } }
        let flow = try h.write("seq.yaml", pipeline4.replacingOccurrences(of: "{strategy: concurrent, max_workers: 6}", with: "{strategy: sequential}"))
        let r = try await h.routilux(["run", flow, "--params", pipelineParams(30), "--json", "--link", "tcp"])
        #expect(r.code == 0, "\(r.err)")
        let state = try jobState(r.out)
        #expect(state.status == .completed)
        // One task at a time, FIFO: the sink sees items in order.
        #expect(collectedIndexes(state) == Array(0..<30))
    }

    @Test func runExitsOneWhenTheJobFails() async throws {
        let h = try ProcessHarness()
        defer { Task { await h.shutdown() } }
        let flow = try h.write("failing.yaml", """
            routines:
              source: {type: Splitter, config: {field: items}}
              check: {type: Failer, config: {fail_when: bad, message: item is bad}}
              sink: {type: Collector}
            connections:
              - {from: source.item, to: check.input, param_mapping: {item: data}}
              - {from: check.output, to: sink.input}
            """)
        let r = try await h.routilux(["run", flow, "--params", #"{"items": [{"bad": false}, {"bad": true}]}"#])
        #expect(r.code == 1, "\(r.out)\n\(r.err)")
        #expect(r.out.contains(": failed"))
        #expect(r.out.contains("item is bad"))
    }

    @Test func retriesWaitTheirDelaysAcrossProcessesAndThenSucceed() async throws {
        let h = try ProcessHarness()
        defer { Task { await h.shutdown() } }
        let flow = try h.write("flaky.yaml", """
            routines:
              source: {type: Splitter, config: {field: items}}
              flaky:
                type: Failer
                config: {fail_attempts: 2, error_type: TimeoutError}
                error_handler: {strategy: retry, max_retries: 3, retry_delay: 0.3, retry_backoff: 2, retryable_errors: [TimeoutError]}
              sink: {type: Collector}
            connections:
              - {from: source.item, to: flaky.input}
              - {from: flaky.output, to: sink.input, param_mapping: {item: data}}
            execution: {strategy: concurrent, max_workers: 2}
            """)
        let r = try await h.routilux(["run", flow, "--params", #"{"items": [{"n": 1}]}"#, "--json"])
        #expect(r.code == 0, "\(r.err)")
        let state = try jobState(r.out)
        #expect(state.status == .completed)
        #expect(state.routineStates["flaky"] == ["status": "completed", "retry_count": 2])
        let errors = state.executionHistory.filter { $0.routineId == "flaky" && $0.eventName == "error" }
        #expect(errors.map { $0.data.valueOrError["attempt"] } == [1, 2])
        let output = try #require(state.executionHistory.first { $0.routineId == "flaky" && $0.eventName == "output" })
        // The second attempt waits at least retry_delay, the third at least delay × backoff.
        #expect(errors[1].timestamp.seconds - errors[0].timestamp.seconds >= 0.29)
        #expect(output.timestamp.seconds - errors[1].timestamp.seconds >= 0.59)
        #expect(state.outputLog.count == 1)
    }

    @Test func exhaustedRetriesFailTheRunWithTheReason() async throws {
        let h = try ProcessHarness()
        defer { Task { await h.shutdown() } }
        let flow = try h.write("hopeless.yaml", """
            routines:
              source: {type: Splitter, config: {field: items}}
              flaky:
                type: Failer
                config: {fail_attempts: 99}
            connections:
              - {from: source.item, to: flaky.input}
            error_handler: {strategy: retry, max_retries: 2, retry_delay: 0.05}
            """)
        let r = try await h.routilux(["run", flow, "--params", #"{"items": [1]}"#, "--json"])
        #expect(r.code == 1)
        let state = try jobState(r.out)
        #expect(state.status == .failed)
        #expect(state.routineStates["flaky"]?["error"].stringValue?.contains("retries exhausted after 2 of 2") == true)
    }

    @Test func anInterruptedRunStopsItsWorkersAndWhatTheyRun() async throws {
        let h = try ProcessHarness()
        defer { Task { await h.shutdown() } }
        let pidFile = h.path("child.pid")
        let flow = try h.write("long.yaml", "routines:\n  long: {type: Exec, config: {command: 'sleep 300 & echo $! > \(pidFile); wait', timeout: 600}}\n")
        let run = try h.start("routilux", ["run", flow])
        let pid = try await waitForPid(in: pidFile, "the command to start its child\n\(run.stderr)")
        run.kill(SIGINT)
        #expect(try await run.exitCode(timeout: 30) == 1)
        #expect(run.stderr.contains("routilux: interrupted; the local workers were stopped"), "\(run.stderr)")
        try await waitUntil("the command's child \(pid) to end with its worker", timeout: 10) { processHasEnded(pid) }
    }

    @Test func runFailsClearlyWhenItsWorkerProcessDies() async throws {
        let h = try ProcessHarness()
        defer { Task { await h.shutdown() } }
        // The routine kills the worker process that runs it.
        let flow = try h.write("suicide.yaml", "routines:\n  boom: {type: Exec, config: {command: 'kill -9 $PPID'}}\n")
        let r = try await h.routilux(["run", flow], timeout: 60)
        #expect(r.code == 1)
        #expect(r.err.contains("worker process 0"), "\(r.err)")
        #expect(r.err.contains("was killed by signal 9"), "\(r.err)")
    }

    @Test(arguments: [
        // (file name, content, expected message parts)
        ("unknown-type.yaml", "routines:\n  a: {type: Nope}\n", ["unknown-type.yaml", "routines.a.type", "unknown routine type 'Nope'"]),
        ("bad-slot.yaml", "routines:\n  a: {type: Splitter}\n  b: {type: Collector}\nconnections:\n  - {from: a.item, to: b.input}\n  - {from: a.item, to: b.inbox}\n",
         ["connections[1].to", "unknown slot 'inbox' on routine 'b'"]),
        ("bad-event.yaml", "routines:\n  a: {type: Splitter}\n  b: {type: Collector}\nconnections:\n  - {from: a.items, to: b.input}\n",
         ["connections[0].from", "unknown event 'items'"]),
        ("dup.yaml", "routines:\n  a: {type: Splitter}\n  a: {type: Collector}\n", ["dup.yaml", "line 2, column 3", "duplicate key 'a'"]),
        ("bad.json", "{\"routines\": {\"a\": {\"type\": \"Splitter\"}},}", ["bad.json", "bad JSON"]),
        ("dup.json", "{\"routines\": {\"a\": {\"type\": \"Splitter\"}, \"a\": {\"type\": \"Mapper\"}}}", ["dup.json", "duplicate"]),
        ("entry.yaml", "routines:\n  a: {type: Collector}\nentry: {routine: a, slot: trigger}\n", ["entry", "has no slot 'trigger'"]),
        ("config.yaml", "routines:\n  a: {type: Splitter, config: {feild: x}}\n", ["routines.a.config.feild", "unknown config key"]),
        ("exec.yaml", "routines:\n  a: {type: Splitter}\nexecution: {strategy: sequential, max_workers: 3}\n", ["execution.max_workers"]),
    ])
    func invalidFlowsAreRefusedWithFilePathAndReason(_ c: (String, String, [String])) async throws {
        let h = try ProcessHarness()
        defer { Task { await h.shutdown() } }
        let file = try h.write(c.0, c.1)
        for verb in [["run", file], ["flow", "validate", file]] {
            let r = try await h.routilux(verb)
            #expect(r.code == 2, "\(verb[0]) \(c.0): exit code")
            let line = r.err.split(separator: "\n").first.map(String.init) ?? ""
            for part in c.2 { #expect(line.contains(part), "\(verb[0]) \(c.0): '\(line)' lacks '\(part)'") }
            #expect(!r.out.contains("completed"), "nothing ran")
        }
    }

    @Test func badParamsAndOptionsExitTwo() async throws {
        let h = try ProcessHarness()
        defer { Task { await h.shutdown() } }
        let notJSON = try await h.routilux(["run", "Examples/pipeline.yaml", "--params", "{items: 1"])
        #expect(notJSON.code == 2)
        #expect(notJSON.err.contains("--params: bad JSON"))
        let notObject = try await h.routilux(["run", "Examples/pipeline.yaml", "--params", "[1]"])
        #expect(notObject.code == 2)
        #expect(notObject.err.contains("must be a JSON object"))
        let zero = try await h.routilux(["run", "Examples/pipeline.yaml", "--max-workers", "0"])
        #expect(zero.code == 2)
        let missing = try await h.routilux(["run", h.path("nope.yaml")])
        #expect(missing.code == 2)
        #expect(missing.err.contains("nope.yaml: cannot read file"))
        let badEntry = try await h.routilux(["run", "Examples/pipeline.yaml", "--entry", "ghost"])
        #expect(badEntry.code == 2)
        #expect(badEntry.err.contains("unknown entry routine 'ghost'"))
    }

    @Test func anExportedFlowRunsTheSame() async throws {
        let h = try ProcessHarness()
        defer { Task { await h.shutdown() } }
        for format in ["yaml", "json"] {
            let out = h.path("exported.\(format)")
            let e = try await h.routilux(["flow", "export", "Examples/pipeline.yaml", "--format", format, "--output", out])
            #expect(e.code == 0, "\(e.err)")
            let r = try await h.routilux(["run", out, "--params", "@Examples/pipeline-params.json", "--json"])
            #expect(r.code == 0, "\(r.err)")
            #expect(try jobState(r.out).outputLog.count == 5)
        }
        let bad = try await h.routilux(["flow", "export", "Examples/pipeline.yaml", "--format", "xml"])
        #expect(bad.code == 2)
    }

    @Test func aRouterSplitsItemsAcrossProcessesAndBadConditionsStopTheLoad() async throws {
        let h = try ProcessHarness()
        defer { Task { await h.shutdown() } }
        let flow = """
            routines:
              source: {type: Splitter, config: {field: items}}
              router:
                type: ConditionalRouter
                config: {routes: [[big, "data.n >= 10"], [small, "data.n < 10 and data.n >= 0"]], default_route: odd}
              big: {type: Collector, config: {output_type: big}}
              small: {type: Collector, config: {output_type: small}}
            connections:
              - {from: source.item, to: router.input, param_mapping: {item: data}}
              - {from: router.big, to: big.input}
              - {from: router.small, to: small.input}
            execution: {strategy: concurrent, max_workers: 4}
            """
        let file = try h.write("router.yaml", flow)
        let r = try await h.routilux(["run", file, "--params", #"{"items": [{"n": 1}, {"n": 50}, {"n": 7}, {"n": -3}]}"#, "--json"])
        #expect(r.code == 0, "\(r.err)")
        let state = try jobState(r.out)
        let byType = Dictionary(grouping: state.outputLog, by: { $0["output_type"].stringValue ?? "" })
        #expect(byType["big"]?.map { $0["data"]["n"] } == [50])
        #expect(Set(byType["small"]?.map { $0["data"]["n"] } ?? []) == [1, 7])
        #expect(state.executionHistory.contains { $0.eventName == "odd" }, "-3 takes the default route")

        let bad = try h.write("bad-router.yaml", flow.replacingOccurrences(of: "data.n >= 10", with: "data.n >= "))
        let v = try await h.routilux(["flow", "validate", bad])
        #expect(v.code == 2)
        #expect(v.err.contains("routines.router.config.routes[0].condition: bad condition \"data.n >= \": position 11"), "\(v.err)")
    }

    @Test func aJobTimeoutFailsTheJobAndStopsItsWork() async throws {
        let h = try ProcessHarness()
        defer { Task { await h.shutdown() } }
        let flow = try h.write("slow.yaml", """
            routines:
              source: {type: Splitter, config: {field: items}}
              nap: {type: Delay, config: {seconds: 30}}
              sink: {type: Collector}
            connections:
              - {from: source.item, to: nap.input}
              - {from: nap.output, to: sink.input}
            execution: {strategy: concurrent, max_workers: 2, timeout: 0.5}
            """)
        let started = Date()
        let r = try await h.routilux(["run", flow, "--params", #"{"items": [1, 2, 3]}"#, "--json"], timeout: 60)
        #expect(r.code == 1)
        let state = try jobState(r.out)
        #expect(state.status == .failed)
        #expect(state.executionHistory.last?.data.valueOrError["error_type"] == "TimeoutError")
        #expect(state.executionHistory.last?.data.valueOrError["error"].stringValue?.contains("timed out after 0.5 s") == true)
        #expect(state.outputLog.isEmpty, "the sleeping work never delivers")
        #expect(Date().timeIntervalSince(started) < 25, "the run ends at the timeout, not when the work would have")
    }

    @Test func validatePassesTheShippedExamples() async throws {
        let h = try ProcessHarness()
        defer { Task { await h.shutdown() } }
        let r = try await h.routilux(["flow", "validate", "Examples/pipeline.yaml"])
        #expect(r.code == 0, "\(r.err)")
        #expect(r.out.contains("ok (flow pipeline: 4 routines, 3 connections)"))
    }
}
}
