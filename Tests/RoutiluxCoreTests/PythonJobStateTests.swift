import Foundation
import RoutiluxCore
import Testing

/// JobState files written by Python routilux 0.10.0 (Fixtures/routilux-0.10,
/// made by make_fixtures.py there) load, and survive a save/load round trip.
@Suite struct PythonJobStateTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/routilux-0.10")

    func load(_ name: String) throws -> JobState {
        let data = try #require(FileManager.default.contents(atPath: Self.directory.appendingPathComponent(name).path), "missing fixture \(name)")
        return try JobState(json: try JSONValue.parse(Array(data)))
    }

    @Test func aCompletedJob() throws {
        let s = try load("completed.json")
        #expect(s.flowId == "py_pipeline")
        #expect(s.status == .completed)
        #expect(s.currentRoutineId == "source")
        #expect(s.routineStates["source"] == ["status": "completed"])
        #expect(s.executionHistory.first?.eventName == "start")
        #expect(s.executionHistory.first?.data.valueOrError == ["values": [1, 2, 3]])
        #expect(s.outputLog.count == 3)
        // The sink's append slot hands its live list to the handler, so every record
        // aliases the same list (routilux 0.10 bug §9.6, kept in the file as written).
        #expect(s.outputLog.map { $0["data"]["value"] } == [[2, 4, 6], [2, 4, 6], [2, 4, 6]])
        #expect(s.sharedData["last"] == 3)
        #expect(s.sharedLog.count == 3)
        #expect(s.sharedLog[0]["seen"] == 1)
        #expect(s.createdAt <= s.updatedAt)
    }

    @Test func aPausedJobWithPendingTasksAndDeferredEvents() throws {
        let s = try load("paused.json")
        #expect(s.status == .paused)
        #expect(s.pendingTasks.count == 2)
        #expect(s.pendingTasks[0]["slot_name"] == "input")
        #expect(s.pendingTasks[0]["data"] == ["value": 5])
        #expect(s.pausePoints.count == 2, "routilux 0.10 writes two pause points per pause")
        #expect(s.pausePoints.last?["checkpoint"] == ["step": 2])
        #expect(s.deferredEvents.count == 1)
        #expect(s.deferredEvents[0]["event_name"] == "item")
    }

    @Test func failedAndContinuedJobs() throws {
        let failed = try load("failed.json")
        #expect(failed.status == .failed)
        #expect(failed.routineStates["boom"]?["error"] == "boom: testing")
        #expect(failed.routineStates["boom"]?["error_time"].stringValue.flatMap(Timestamp.init(iso:)) != nil)
        #expect(failed.executionHistory.last?.eventName == "error")
        #expect(failed.executionHistory.last?.data.valueOrError["error_type"] == "ValueError")
        let continued = try load("error_continued.json")
        #expect(continued.status == .completed)
        #expect(continued.routineStates["boom"]?["status"] == "error_continued")
        #expect(continued.executionHistory.map(\.eventName) == ["start", "error_continued"])
    }

    @Test(arguments: ["completed.json", "paused.json", "failed.json", "error_continued.json"])
    func roundTripsThroughOurWriter(_ name: String) throws {
        let s = try load(name)
        let again = try JobState(json: try JSONValue.parse(s.json.serialized()))
        #expect(again == s)
        // Field names and markers are routilux's own.
        let original = try JSONValue.parse(Array(FileManager.default.contents(atPath: Self.directory.appendingPathComponent(name).path)!))
        #expect(Set(s.json.objectValue!.keys) == Set(original.objectValue!.keys))
        #expect(s.json["execution_history"].arrayValue?.allSatisfy { $0["_type"] == "ExecutionRecord" } == true)
    }
}
