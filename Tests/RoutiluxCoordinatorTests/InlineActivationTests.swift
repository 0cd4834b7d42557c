import RoutiluxBuiltins
import RoutiluxCore
import RoutiluxWire
import Testing

@testable import RoutiluxWorker

/// Routines whose slots never wait run on the worker's I/O thread (`TaskRunner.runInline`):
/// which builtins do, and that an inline activation answers exactly as a task of its own would.
@Suite struct InlineActivationTests {
    let registry = Builtins.registry

    func routine(_ type: String, _ config: JSONObject = [:]) throws -> RoutineDefinition {
        try #require(registry.lookup(type)).make(config: config)
    }

    @Test func thePureBuiltinsRunInlineAndTheRestDoNot() throws {
        let inline = [
            "Mapper", "Filter", "Collector", "DataTransformer", "DataFlattener", "DataValidator", "ConditionalRouter",
            "TextClipper", "TextRenderer", "TimeProvider", "Failer",
        ]
        let needs: [String: JSONObject] = ["Filter": ["condition": ["a", "b"]]]
        for name in inline { #expect(try routine(name, needs[name] ?? [:]).runsInline, "\(name) should run inline") }
        for name in Builtins.types.map(\.name) where !inline.contains(name) {
            guard let r = try? routine(name) else { continue }  // a type that needs config is not inline anyway
            #expect(!r.runsInline, "\(name) may wait: it must not run inline")
        }
        var waits = RoutineDefinition()
        waits.inlineSlot("quick") { _, _ in }
        waits.slot("slow") { _, _ in }
        #expect(!waits.runsInline, "one slot that may wait makes the routine not inline")
    }

    /// The answer with its timing taken out (it differs between any two runs).
    func untimed(_ m: WireMessage) -> WireMessage {
        guard case .result(var h, let bodies) = m else { return m }
        h.handlerUs = 0
        return .result(h, bodies: bodies)
    }

    func both(_ type: String, config: JSONObject = [:], slot: String = "input", payload: JSONObject, merge: String? = nil, slotState: JSONObject? = nil, attempt: Int = 1) async throws -> (inline: WireMessage, task: WireMessage) {
        let task = TaskMessage(
            jobId: "j", taskId: 7, flowId: "f", routineId: "r", routineType: type, slot: slot, attempt: attempt, merge: merge, token: "t")
        let made = Result { try routine(type, config) }
        let state = slotState.map { RawJSON(.object($0)) }
        let inline = TaskRunner.runInline(
            task: task, payload: RawJSON(.object(payload)), slotState: state, routineState: nil, shared: nil, routine: made,
            merges: registry, workerId: "w", token: "t")
        let asTask = await TaskRunner.run(
            task: task, payload: RawJSON(.object(payload)), slotState: state, routineState: nil, shared: nil, routine: made,
            merges: registry, workerId: "w", token: "t", parts: nil)
        return (untimed(inline), untimed(asTask))
    }

    @Test func anInlineActivationAnswersAsATaskWould() async throws {
        let mapped = try await both("Mapper", config: ["mappings": ["name": "user.name"]], payload: ["data": ["user": ["name": "ada"]]])
        #expect(mapped.inline == mapped.task)
        guard case .result(let h, let bodies) = mapped.inline else { Issue.record("not a RESULT"); return }
        #expect(h.outcome == .ok && h.emissions == ["output"] && bodies.count == 1)
        #expect(try bodies[0].value()["mapped_data"]["name"] == "ada")

        // A stateful merge: the slot's new state goes back as well.
        let merged = try await both("Collector", config: ["merge": "append"], payload: ["x": 2], merge: "append", slotState: ["x": [1]])
        #expect(merged.inline == merged.task)
        guard case .result(let m, _) = merged.inline else { Issue.record("not a RESULT"); return }
        #expect(m.outcome == .ok && m.slotState == true)

        // A handler's error, and an input that is not an object.
        let failed = try await both("Failer", payload: ["fail": true])
        #expect(failed.inline == failed.task)
        guard case .result(let f, _) = failed.inline else { Issue.record("not a RESULT"); return }
        #expect(f.outcome == .error && f.errorType == "RoutineError")
        let noSlot = try await both("Mapper", slot: "nowhere", payload: [:])
        #expect(noSlot.inline == noSlot.task)
    }

    @Test func aSlotThatMayWaitIsNotRunInline() throws {
        let task = TaskMessage(jobId: "j", taskId: 1, flowId: "f", routineId: "d", routineType: "Delay", slot: "input", attempt: 1, token: "t")
        let answer = TaskRunner.runInline(
            task: task, payload: RawJSON([:]), slotState: nil, routineState: nil, shared: nil, routine: Result { try routine("Delay") },
            merges: registry, workerId: "w", token: "t")
        guard case .result(let h, _) = answer else { Issue.record("not a RESULT"); return }
        #expect(h.outcome == .error && h.error?.contains("cannot run inline") == true)
    }
}
