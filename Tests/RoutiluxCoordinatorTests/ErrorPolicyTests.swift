import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxWire
import Testing

/// src → work (Mapper) → sink; `work` has the error handler under test.
func policyFlow(work: String = "", flow: String = "") -> String {
    """
    flow_id: test
    routines:
      src: {type: Splitter, config: {field: items}}
      work: {type: Mapper\(work.isEmpty ? "" : ", error_handler: \(work)")}
      sink: {type: Collector}
    connections:
      - {from: src.item, to: work.input, param_mapping: {item: data}}
      - {from: work.output, to: sink.input, param_mapping: {mapped_data: data}}
    execution: {strategy: concurrent, max_workers: 4}
    \(flow.isEmpty ? "" : "error_handler: \(flow)")
    """
}

@Suite struct ErrorPolicyTests {
    /// Runs the job: `work` fails for the items in `failing` (by index), on every attempt.
    @discardableResult
    func drive(_ h: CoreHarness, job: String, failing: Set<Int>, type: String = "RoutineError") -> [String] {
        var seen: [String] = []
        var pending = h.newTasks()
        while !pending.isEmpty {
            let t = pending.removeFirst()
            seen.append("\(t.target)#\(t.header.attempt)")
            switch t.header.routineId {
            case "src": h.complete(t, emit: splitEmissions(3))
            case "work":
                if failing.contains(t.payload["index"].intValue ?? -1) {
                    h.fail(t, error: "bad item \(t.payload["index"].intValue ?? -1)", type: type)
                } else {
                    h.complete(t, emit: [("output", ["mapped_data": t.payload["item"]])])
                }
            default: h.complete(t, outputs: [("item", t.payload)])
            }
            pending += h.newTasks()
        }
        return seen
    }

    @Test func withoutAHandlerAnyRoutinesErrorStopsTheJob() throws {
        let h = try CoreHarness(flow: policyFlow())
        h.join("w1", credit: 1)
        let job = h.submit(items(3))
        drive(h, job: job, failing: [1])
        let s = try #require(h.core.jobState(job))
        #expect(s.status == .failed)
        #expect(s.routineStates["work"]?["status"] == "failed")
        #expect(s.routineStates["work"]?["error"] == "bad item 1")
        #expect(s.executionHistory.contains { $0.eventName == "error" && $0.routineId == "work" })
    }

    @Test func continueRecordsAndGoesOn() throws {
        let h = try CoreHarness(flow: policyFlow(work: "{strategy: continue}"))
        h.join("w1", credit: 1)
        let job = h.submit(items(3))
        drive(h, job: job, failing: [1])
        let s = try #require(h.core.jobState(job))
        #expect(s.status == .completed)
        #expect(s.outputLog.count == 2)
        #expect(s.routineStates["work"]?["status"] == "error_continued")
        let continued = s.executionHistory.filter { $0.eventName == "error_continued" }
        #expect(continued.count == 1)
        #expect(continued[0].data.valueOrError["error_type"] == "RoutineError")
    }

    @Test func theTrackerCountsEveryRoutinesExecutionsAndTimes() throws {
        let h = try CoreHarness(flow: policyFlow(work: "{strategy: continue}"))
        h.join("w1", credit: 1)
        let job = h.submit(items(3))
        drive(h, job: job, failing: [1])
        let t = try #require(h.core.jobState(job)?.executionTracker)
        #expect(t["_type"] == "ExecutionTracker")
        let work = t["routine_performance"]["work"]
        #expect(work["total_executions"] == 3 && work["completed"] == 2 && work["failed"] == 1)
        #expect(abs((work["success_rate"].doubleValue ?? 0) - 2.0 / 3.0) < 1e-9)
        #expect(work["max_execution_time"] == .double(10e-6), "handler times as the workers measured them")
        #expect(work["min_execution_time"] == .double(0))
        #expect(t["routine_performance"].objectValue.map { Array($0.keys) } == ["src", "work", "sink"])
        #expect(t["flow_performance"]["total_routines"] == 3)
        #expect(t["flow_performance"]["total_events"] == 5, "3 items + 2 outputs")
    }

    @Test func skipMarksTheRoutineSkippedAndGoesOn() throws {
        let h = try CoreHarness(flow: policyFlow(flow: "{strategy: skip}"))
        h.join("w1", credit: 1)
        let job = h.submit(items(3))
        drive(h, job: job, failing: [0])
        let s = try #require(h.core.jobState(job))
        #expect(s.status == .completed)
        #expect(s.routineStates["work"]?["status"] == "skipped")
        #expect(s.outputLog.count == 2)
    }

    @Test func theRoutinesPolicyOverridesTheFlows() throws {
        let h = try CoreHarness(flow: policyFlow(work: "{strategy: stop}", flow: "{strategy: continue}"))
        h.join("w1", credit: 1)
        let job = h.submit(items(3))
        drive(h, job: job, failing: [2])
        #expect(h.status(job) == .failed)
    }

    @Test func aRoutinesOwnPolicySetInCodeSitsBetweenTheFlowFileAndTheFlow() throws {
        // A routine type that calls setAsOptional(.skip) in its factory.
        let fragile = RoutineType("Fragile") { config in
            var r = RoutineDefinition(config: config)
            r.slot("input") { _, _ in }
            r.event("output")
            r.setAsOptional(.skip)
            return r
        }
        let flow = policyFlow(flow: "{strategy: stop}").replacingOccurrences(of: "work: {type: Mapper", with: "work: {type: Fragile")
        let h = try CoreHarness(flow: flow, extraTypes: [fragile])
        h.join("w1", credit: 1)
        let job = h.submit(items(3))
        drive(h, job: job, failing: [1])
        #expect(h.status(job) == .completed, "the routine's own skip wins over the flow's stop")
        #expect(h.core.jobState(job)?.routineStates["work"]?["status"] == "skipped")
        // The flow file's handler for the routine wins over the routine's own.
        let strict = flow.replacingOccurrences(of: "work: {type: Fragile", with: "work: {type: Fragile, error_handler: {strategy: stop}")
        let h2 = try CoreHarness(flow: strict, extraTypes: [fragile])
        h2.join("w1", credit: 1)
        let job2 = h2.submit(items(3))
        drive(h2, job: job2, failing: [1])
        #expect(h2.status(job2) == .failed)
    }

    @Test func retryWaitsOnATimerWithBackoffThenSucceeds() throws {
        let h = try CoreHarness(flow: policyFlow(work: "{strategy: retry, max_retries: 3, retry_delay: 0.5, retry_backoff: 2}"))
        h.join("w1", credit: 10)
        let job = h.submit(items(1))
        h.complete(h.newTasks()[0], emit: splitEmissions(1))
        var t = h.newTasks()[0]
        #expect(t.target == "work.input" && t.header.attempt == 1)
        let start = h.now
        h.fail(t, error: "flaky")
        #expect(h.wakeups == [start + 0.5])
        #expect(h.newTasks().isEmpty, "no immediate retry")
        #expect(h.status(job) == .running)
        h.now = start + 0.4
        h.feed(.tick)
        #expect(h.newTasks().isEmpty, "not before the delay")
        h.now = start + 0.5
        h.feed(.tick)
        t = h.newTasks()[0]
        #expect(t.target == "work.input" && t.header.attempt == 2)
        #expect(t.header.taskId != 0)
        let second = h.now
        h.fail(t, error: "flaky")
        #expect(h.wakeups.last == second + 1.0, "delay × backoff")
        h.now = second + 1.0
        h.feed(.tick)
        t = h.newTasks()[0]
        #expect(t.header.attempt == 3)
        h.complete(t, emit: [("output", ["mapped_data": ["ok": true]])])
        h.complete(h.newTasks()[0])
        let s = try #require(h.core.jobState(job))
        #expect(s.status == .completed)
        #expect(s.routineStates["work"] == ["status": "completed", "retry_count": 2])
        #expect(s.executionHistory.filter { $0.routineId == "work" && $0.eventName == "error" }.count == 2)
        #expect(h.core.counters.retriesScheduled == 2)
    }

    @Test func exhaustedRetriesFailTheJob() throws {
        let h = try CoreHarness(flow: policyFlow(work: "{strategy: retry, max_retries: 2, retry_delay: 0}"))
        h.join("w1", credit: 10)
        let job = h.submit(items(1))
        var attempts: [Int] = []
        var pending = h.newTasks()
        while !pending.isEmpty || h.status(job) == .running {
            if pending.isEmpty {
                h.feed(.tick)
                pending = h.newTasks()
                continue
            }
            let t = pending.removeFirst()
            if t.header.routineId == "src" { h.complete(t, emit: splitEmissions(1)) } else {
                attempts.append(t.header.attempt)
                h.fail(t, error: "always")
            }
            pending += h.newTasks()
        }
        #expect(attempts == [1, 2, 3], "1 + max_retries attempts")
        let s = try #require(h.core.jobState(job))
        #expect(s.status == .failed)
        #expect(s.routineStates["work"]?["error"].stringValue?.contains("retries exhausted after 2 of 2") == true)
    }

    @Test func onlyRetryableErrorTypesAreRetried() throws {
        let h = try CoreHarness(flow: policyFlow(work: "{strategy: retry, max_retries: 5, retry_delay: 0, retryable_errors: [TimeoutError]}"))
        h.join("w1", credit: 10)
        let job = h.submit(items(1))
        drive(h, job: job, failing: [0], type: "ValueError")
        let s = try #require(h.core.jobState(job))
        #expect(s.status == .failed)
        #expect(s.routineStates["work"]?["error"].stringValue?.contains("ValueError is not retryable") == true)
        #expect(h.core.counters.retriesScheduled == 0)
    }

    @Test func retryBudgetsBelongToEachTaskAndEachJob() throws {
        let h = try CoreHarness(flow: policyFlow(work: "{strategy: retry, max_retries: 1, retry_delay: 0}"))
        h.join("w1", credit: 50)
        let j1 = h.submit(items(3))
        let j2 = h.submit(items(3))
        // Every work activation fails once, then succeeds: each must get its own single retry.
        var failedOnce = Set<String>()
        var pending = h.newTasks()
        var rounds = 0
        while rounds < 200 && (h.status(j1) == .running || h.status(j2) == .running) {
            rounds += 1
            if pending.isEmpty {
                h.feed(.tick)
                pending = h.newTasks()
                continue
            }
            let t = pending.removeFirst()
            switch t.header.routineId {
            case "src": h.complete(t, emit: splitEmissions(3))
            case "work":
                let key = "\(t.header.jobId)/\(t.payload["index"])"
                if failedOnce.insert(key).inserted {
                    h.fail(t, error: "once")
                } else {
                    h.complete(t, emit: [("output", ["mapped_data": t.payload["item"]])])
                }
            default: h.complete(t)
            }
            pending += h.newTasks()
        }
        #expect(h.status(j1) == .completed)
        #expect(h.status(j2) == .completed)
        #expect(h.core.counters.retriesScheduled == 6)
    }

    @Test func badPoliciesAreValidationErrors() throws {
        for (yaml, path) in [
            (policyFlow(work: "{strategy: explode}"), "routines.work.error_handler.strategy"),
            (policyFlow(work: "{strategy: retry, max_retries: -1}"), "routines.work.error_handler.max_retries"),
            (policyFlow(flow: "{strategy: retry, retry_backoff: 0.5}"), "error_handler.retry_backoff"),
            (policyFlow(work: "{strategy: retry, colour: red}"), "routines.work.error_handler.colour"),
        ] {
            #expect(throws: FlowValidationError.self) { try CoreHarness(flow: yaml) }
            do { _ = try CoreHarness(flow: yaml) } catch let e as FlowValidationError { #expect(e.path == path) }
        }
    }
}
