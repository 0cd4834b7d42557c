import Foundation
import RoutiluxBuiltins
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxWire
import Testing

/// How a job's own records end: ids, pause points, interrupted routines, and
/// what a saved state must hold to be resumed.
@Suite struct JobEndingTests {
    @Test func jobIdsAreVersion4UUIDsOfTheRFC4122Variant() throws {
        let core = CoordinatorCore(config: CoordinatorConfig(coordinatorId: "c"), catalogue: Builtins.registry.catalogue)
        for _ in 0..<200 {
            _ = core.handle(.submit(SubmitRequest(flow: .document(["routines": ["a": ["type": "Collector"]], "entry": ["routine": "a", "slot": "input"]], name: "f"), params: RawJSON([:])), reply: .local(1)), now: 1)
        }
        let ids = core.jobIds
        #expect(ids.count == 200)
        for id in ids {
            let uuid = try #require(UUID(uuidString: id), "\(id) is not a UUID")
            #expect(uuid.uuidString.lowercased() == id)
            let bytes = withUnsafeBytes(of: uuid.uuid) { Array($0) }
            #expect(bytes[6] >> 4 == 4, "version nibble of \(id)")
            #expect(bytes[8] >> 6 == 0b10, "variant bits of \(id) (Python: uuid.RFC_4122)")
        }
    }

    @Test func aPauseFromAHandlerWithoutACheckpointRecordsAnEmptyOne() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 10)
        let job = h.submit(items(1))
        let t = h.newTasks()[0]
        var pause = HandlerEffects()
        pause.pause = .init(reason: "look", checkpoint: nil)
        // Through the wire form, as a worker sends it.
        let body = RawJSON(try JSONValue.parse(pause.json.serialized()))
        let header = ResultMessage(
            workerId: t.worker, jobId: job, taskId: t.header.taskId, attempt: 1, outcome: .ok, effects: true)
        h.feed(.message(.result(header, bodies: [body]), peer: nil))
        let state = try #require(h.core.jobState(job))
        #expect(state.status == .paused)
        #expect(state.pausePoints.last?["checkpoint"] == .object([:]))
        #expect(JobState.decodeCheck(state).pausePoints.last?["checkpoint"] == .object([:]), "and in the saved JSON")
    }

    @Test func aTimeoutEndsTheRoutinesThatWereRunningAsInterrupted() throws {
        let h = try CoreHarness(flow: fanOutFlow.replacingOccurrences(of: "max_workers: 4}", with: "max_workers: 4, timeout: 2}"))
        h.join("w1", credit: 10)
        let job = h.submit(items(2))
        h.complete(h.newTasks()[0], emit: splitEmissions(2))
        let running = h.newTasks()
        #expect(Set(running.map(\.header.routineId)) == ["a", "b"])
        h.complete(running.first { $0.header.routineId == "b" }!)  // b: one done, one still out
        h.now += 3
        h.feed(.tick)
        let state = try #require(h.core.jobState(job))
        #expect(state.status == .failed)
        for rid in ["a", "b"] {
            let st = try #require(state.routineStates[rid])
            #expect(st["status"] == "interrupted", "\(rid): \(st)")
            #expect(st["error"].stringValue?.contains("execution.timeout") == true, "\(rid): \(st)")
        }
        #expect(state.routineStates["src"]?["status"] == "completed")
        #expect(state.routineStates["c"] == nil, "never started")
    }

    @Test func cancellingInterruptsWhatIsInFlight() throws {
        let h = try CoreHarness(flow: fanOutFlow)
        h.join("w1", credit: 10)
        let job = h.submit(items(1))
        _ = h.newTasks()
        h.control(job, .cancel(reason: "enough"))
        let st = try #require(h.core.jobState(job)?.routineStates["src"])
        #expect(st["status"] == "interrupted")
        #expect(st["error"] == "interrupted: the job was cancelled (enough)")
    }

    @Test func resumeFromRefusesASlotTheRoutineLacksAndAnUnknownCurrentRoutine() throws {
        let fresh = try CoreHarness(flow: fanOutFlow)
        fresh.join("w1", credit: 10)
        var s = JobState(flowId: "test", jobId: "j-1")
        s.status = .paused
        s.pendingTasks = [
            ["slot_routine_id": "a", "slot_name": "input", "data": [:]],
            ["slot_routine_id": "b", "slot_name": "nope", "data": [:]],
        ]
        let r = fresh.control("", .resumeFrom(s, flow: nil))
        #expect(r.error == "cannot resume job j-1: pending_tasks[1].slot_name: slot 'nope' not found in routine 'b' (slots: input)")
        s.pendingTasks = [["slot_routine_id": "a", "slot_name": "input", "data": [:]]]
        s.currentRoutineId = "ghost"
        let r2 = fresh.control("", .resumeFrom(s, flow: nil))
        #expect(r2.error == "cannot resume job j-1: current_routine_id: routine 'ghost' not found in flow 'test' (routines: src, a, b, c)")
        #expect(fresh.newTasks().isEmpty, "nothing started")
        #expect(fresh.core.jobState("j-1") == nil)
        s.currentRoutineId = "a"
        #expect(fresh.control("", .resumeFrom(s, flow: nil)).ok)
    }
}

extension JobState {
    /// The state through its JSON form and back.
    static func decodeCheck(_ s: JobState) -> JobState {
        try! JobState(json: JSONValue.parse(s.json.serialized()))
    }
}
