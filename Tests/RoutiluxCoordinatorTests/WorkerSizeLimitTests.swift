import RoutiluxCore
import RoutiluxWire
import Testing

@testable import RoutiluxWorker

/// A worker never sends a message over its limit: an over-size result, or a
/// TASK it could not take, becomes that task's PayloadTooLarge error.
@Suite struct WorkerSizeLimitTests {
    let codec = WireCodec()

    @Test func aResultOverTheLimitBecomesAPayloadTooLargeError() throws {
        let big = RawJSON(["blob": .string(String(repeating: "x", count: 5000))])
        let result = WireMessage.result(
            ResultMessage(workerId: "w", jobId: "j", taskId: 9, attempt: 2, outcome: .ok, emissions: ["out"], handlerUs: 5, credit: 1, token: "t"),
            bodies: [big])
        let small = TaskRunner.limited(result, frames: codec.encode(result), limit: 100_000, codec: codec)
        #expect(small == codec.encode(result), "under the limit: unchanged")
        let frames = TaskRunner.limited(result, frames: codec.encode(result), limit: 2000, codec: codec)
        guard case .result(let h, let bodies) = try codec.decode(frames) else { Issue.record("not a RESULT"); return }
        #expect(h.outcome == .error && h.errorType == "PayloadTooLarge" && bodies.isEmpty)
        #expect(h.taskId == 9 && h.attempt == 2 && h.token == "t" && h.credit == 1)
        #expect(h.error?.contains("2000-byte message limit") == true)
    }

    @Test func aTaskTooBigToTakeIsAnsweredOnlyForThisSession() throws {
        let task = WireMessage.task(
            TaskMessage(jobId: "j", taskId: 11, flowId: "f", routineId: "r", routineType: "Mapper", slot: "input", attempt: 1, token: "t"),
            payload: RawJSON([:]), config: RawJSON([:]), slotState: nil, routineState: nil, shared: nil)
        let kept = Array(codec.encode(task).prefix(2))
        let answer = try #require(TaskRunner.refusal(of: kept, bytes: 9_999_999, limit: 1000, workerId: "w", token: "t"))
        guard case .result(let h, _) = answer else { Issue.record("not a RESULT"); return }
        #expect(h.errorType == "PayloadTooLarge" && h.taskId == 11 && h.error?.contains("9999999 bytes") == true)
        #expect(TaskRunner.refusal(of: kept, bytes: 9_999_999, limit: 1000, workerId: "w", token: "other") == nil, "another session's TASK is not answered")
    }
}
