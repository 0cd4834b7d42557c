import Foundation
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxWire
import Testing

extension CoreHarness {
    @discardableResult
    func control(_ job: String, _ op: JobControl.Operation) -> ControlReply {
        feed(.control(JobControl(jobId: job, operation: op), reply: .local(900)))
        return replies.last!.reply
    }
}

@Suite struct PauseResumeCancelTests {
    @Test func pauseParksTheJobsTasksAndResumeReleasesThemOnce() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 100)
        let job = h.submit(items(2), maxWorkers: 2)
        h.complete(h.newTasks()[0], emit: splitEmissions(2))
        let inFlight = h.newTasks()
        #expect(inFlight.count == 2)
        let paused = h.control(job, .pause(reason: "wait for a human", checkpoint: ["step": 3]))
        #expect(paused.ok && paused.status == .paused)
        // In-flight work finishes; what it emits is parked, nothing is dispatched.
        for t in inFlight {
            if t.header.routineId == "a" { h.complete(t, emit: [("output", ["mapped_data": 1])]) } else { h.complete(t) }
        }
        #expect(h.newTasks().isEmpty)
        let state = try #require(h.core.jobState(job))
        #expect(state.status == .paused)
        #expect(state.pendingTasks.count == 3, "a.input#1, b.input#1 and c.input from a's output")
        #expect(state.pendingTasks.map { $0["slot_routine_id"].stringValue ?? "?" } == ["a", "b", "c"])
        #expect(state.pendingTasks[2]["connection_source_routine_id"] == "a")
        #expect(state.pendingTasks[0]["job_id"] == .string(job))
        #expect(state.pausePoints.count == 1, "one pause point per pause")
        #expect(state.pausePoints[0]["reason"] == "wait for a human")
        #expect(state.pausePoints[0]["checkpoint"] == ["step": 3])
        // A paused job does not complete even when nothing is in flight.
        #expect(h.finished.isEmpty)

        let resumed = h.control(job, .resume)
        #expect(resumed.ok && resumed.status == .running)
        #expect(resumed.jobState?.pendingTasks.isEmpty == true)
        var pending = h.newTasks()
        #expect(pending.count == 2, "max_workers still holds")
        var delivered: [String] = []
        while !pending.isEmpty {
            let t = pending.removeFirst()
            delivered.append(t.target)
            if t.header.routineId == "a" { h.complete(t, emit: [("output", ["mapped_data": 2])]) } else { h.complete(t) }
            pending += h.newTasks()
        }
        #expect(delivered.sorted() == ["a.input", "b.input", "c.input", "c.input"])
        #expect(h.status(job) == .completed)
        // Resuming again is an error, not a replay.
        let again = h.control(job, .resume)
        #expect(!again.ok)
        #expect(again.error == "job \(job) is completed: only a paused job can be resumed")
    }

    @Test func aWaiterUntilPausedIsAnsweredWhenTheLastInFlightTaskIsLostWithItsWorker() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 1)
        h.join("w2", credit: 1)
        h.feed(.submit(SubmitRequest(flow: .id("test"), params: RawJSON(items(2)), maxWorkers: 4, wait: true, untilPaused: true), reply: .local(77)))
        h.complete(h.newTasks()[0], emit: splitEmissions(2))
        let running = h.newTasks()
        #expect(running.count == 2)
        // One task asks to pause its job; the other is still out on the other worker.
        var pause = HandlerEffects()
        pause.pause = .init(reason: "look", checkpoint: nil)
        let first = running[0]
        let header = ResultMessage(
            workerId: first.worker, jobId: first.header.jobId, taskId: first.header.taskId, attempt: 1, outcome: .ok, effects: true)
        h.feed(.message(.result(header, bodies: [RawJSON(pause.json)]), peer: nil))
        #expect(h.status("job-1") == .paused)
        #expect(!h.replies.contains { $0.target == .local(77) }, "not settled yet: a task is in flight")
        // That worker leaves: nothing is in flight any more, so the state is complete.
        h.feed(.message(.leave(LeaveMessage(workerId: running[1].worker, reason: "bye")), peer: nil))
        let answer = try #require(h.replies.first { $0.target == .local(77) })
        #expect(answer.reply.status == .paused)
        #expect(answer.reply.jobState?.pendingTasks.count == 3, "the two never sent, and the lost one again")
        #expect(answer.reply.jobState?.routineStates[first.header.routineId]?["status"] == "completed", "the pausing activation's own outcome is in")
    }

    @Test func pausingOneJobLeavesTheOthersRunning() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 0)  // joined, but takes nothing yet
        let j1 = h.submit(items(1))
        let j2 = h.submit(items(1))
        h.control(j1, .pause(reason: "", checkpoint: nil))
        h.feed(.message(.credit(CreditMessage(workerId: "w1", credit: 100)), peer: nil))
        let tasks = h.newTasks()
        #expect(tasks.map(\.header.jobId) == [j2], "only the running job is dispatched")
        #expect(h.core.jobState(j1)?.pendingTasks.count == 1)
    }

    @Test func cancelDropsQueuedWorkAndIgnoresLateResults() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 1)
        let job = h.submit(items(3), wait: true)
        h.complete(h.newTasks()[0], emit: splitEmissions(3))
        let running = h.newTasks()
        #expect(running.count == 1)
        let r = h.control(job, .cancel(reason: "user changed their mind"))
        #expect(r.ok && r.status == .cancelled)
        #expect(h.core.queuedCount(job: job) == 0)
        #expect(h.finished.map(\.status) == [.cancelled])
        #expect(h.replies.contains { $0.reply.status == .cancelled && $0.target != .local(900) }, "the waiting submit is answered")
        h.complete(running[0], emit: [("output", ["mapped_data": 1])])
        #expect(h.newTasks().isEmpty)
        let s = try #require(h.core.jobState(job))
        #expect(s.status == .cancelled)
        #expect(s.executionHistory.last?.eventName == "cancelled")
        #expect(s.routineStates["_cancellation"] == nil, "no pseudo-routine in routine_states")
        #expect(h.control(job, .cancel(reason: "")).error == "job \(job) is already cancelled")
        #expect(h.control(job, .pause(reason: "", checkpoint: nil)).error == "job \(job) is cancelled: only a running job can be paused")
        #expect(h.control("nope", .resume).error == "unknown job 'nope'")
    }

    @Test func aSavedPausedJobResumesOnAnotherCoordinator() throws {
        // One task in flight (credit 1) when the job is paused and saved; the saved
        // file holds the three still pending.
        let h0 = try CoreHarness(flow: fanOutFlow)
        h0.join("w1", credit: 1)
        let j0 = h0.submit(items(2))
        h0.complete(h0.newTasks()[0], emit: splitEmissions(2))
        _ = h0.newTasks()
        h0.control(j0, .pause(reason: "save", checkpoint: nil))
        let saved = try #require(h0.core.jobState(j0))
        #expect(saved.pendingTasks.count == 3)
        let file = try JobState(json: JSONValue.parse(saved.json.serialized()))

        let fresh = try CoreHarness(flow: fanOutFlow)
        fresh.join("w9", credit: 100)
        let r = fresh.control("", .resumeFrom(file, flow: nil))
        #expect(r.ok, "\(r.error ?? "")")
        #expect(r.jobId == j0 && r.status == .running)
        let tasks = fresh.newTasks()
        #expect(tasks.map(\.target) == ["b.input", "a.input", "b.input"])
        #expect(tasks[1].header.paramMapping == [["item", "data"]], "the connection's mapping is restored")
        #expect(tasks.allSatisfy { $0.header.jobId == j0 })
        for t in tasks {
            if t.header.routineId == "a" { fresh.complete(t, emit: [("output", ["mapped_data": 1])]) } else { fresh.complete(t) }
        }
        fresh.complete(fresh.newTasks()[0])
        let done = try #require(fresh.core.jobState(j0))
        #expect(done.status == .completed)
        #expect(done.executionHistory.first?.eventName == "start", "the saved history carries on")
        // The same file again: allowed once the job has finished here, refused while it runs.
        #expect(fresh.control("", .resumeFrom(file, flow: nil)).ok)
        #expect(fresh.control("", .resumeFrom(file, flow: nil)).error?.contains("already runs it") == true)
    }

    @Test func lateResultsOfAnEndedRunDoNotCountInALaterRunOfTheSameJob() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 1)
        let job = h.submit(items(2))
        h.complete(h.newTasks()[0], emit: splitEmissions(2))
        let old = h.newTasks()
        #expect(old.count == 1)
        h.control(job, .pause(reason: "save", checkpoint: nil))
        let saved = try #require(h.core.jobState(job))
        h.control(job, .cancel(reason: "moving on"))
        #expect(h.control("", .resumeFrom(saved, flow: nil)).ok)
        #expect(h.core.inFlightCount(job: job) == 0)
        #expect(h.core.queuedCount(job: job) == 3)
        // The old run's answer arrives: its credit returns, nothing of it enters the new run.
        h.complete(old[0], emit: [("output", ["mapped_data": 1])])
        #expect(h.core.queuedCount(job: job) + h.core.inFlightCount(job: job) == 3)
        #expect(h.status(job) == .running)
    }

    @Test func resumeFromRefusesWhatItCannotRunWithAReason() throws {
        let fresh = try CoreHarness(flow: fanOutFlow)
        var s = JobState(flowId: "test", jobId: "j-1")
        s.status = .paused
        s.pendingTasks = [["slot_routine_id": "ghost", "slot_name": "input", "data": [:]]]
        let r = fresh.control("", .resumeFrom(s, flow: nil))
        #expect(r.error?.contains("pending_tasks[0]: routine 'ghost' is not in flow 'test'") == true)
        s.status = .completed
        #expect(fresh.control("", .resumeFrom(s, flow: nil)).error?.contains("not paused") == true)
        s.status = .paused
        s.flowId = "other"
        #expect(fresh.control("", .resumeFrom(s, flow: nil)).error?.contains("flow 'other' is not loaded here") == true)
    }

    @Test func aPausedJobSavedByRoutilux010IsRefusedWithTheReason() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("RoutiluxCoreTests/Fixtures/routilux-0.10/paused.json")
        let saved = try JobState(json: JSONValue.parse(Array(try #require(FileManager.default.contents(atPath: fixture.path)))))
        let h = try CoreHarness(flow: """
            flow_id: py_pipeline
            routines:
              source: {type: Splitter}
              double: {type: Mapper}
              sink: {type: Collector}
            connections:
              - {from: source.item, to: double.input}
              - {from: double.output, to: sink.input}
            """)
        let r = h.control("", .resumeFrom(saved, flow: nil))
        #expect(r.ok == false)
        #expect(r.error?.contains("routilux 0.10 saved its internal routine ids") == true)
    }

    @Test func aJobTimesOutWhilePausedOrRunning() throws {
        let flow = fanOutFlow.replacingOccurrences(of: "max_workers: 4}", with: "max_workers: 4, timeout: 2}")
        let h = try CoreHarness(flow: flow)
        h.join("w1", credit: 100)
        let job = h.submit(items(1))
        #expect(h.wakeups.contains(h.now + 2))
        let t = h.newTasks()[0]
        h.now += 1.9
        h.feed(.tick)
        #expect(h.status(job) == .running)
        h.now += 0.2
        h.feed(.tick)
        #expect(h.status(job) == .failed)
        let s = try #require(h.core.jobState(job))
        #expect(s.executionHistory.last?.data.valueOrError["error_type"] == "TimeoutError")
        h.complete(t, emit: splitEmissions(1))
        #expect(h.newTasks().isEmpty, "its remaining work is stopped")
    }
}
