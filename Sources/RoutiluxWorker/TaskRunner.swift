import Foundation
import RoutiluxCore
import RoutiluxWire

/// Runs one slot activation: decode, map, call the handler, package the result.
enum TaskRunner {
    /// An activation ready to call its handler: the slot, its merged input and the context.
    struct Prepared {
        let routine: RoutineDefinition
        let slot: SlotDefinition
        let data: JSONObject
        let ctx: HandlerContext
        /// The slot's new merge state (stateful slots), sent back only if the handler succeeds.
        let newState: JSONObject?
    }

    /// Runs one activation whose handler may wait (a task of its own on the worker).
    static func run(
        task: TaskMessage, payload: RawJSON, slotState: RawJSON?, routineState: RawJSON?, shared: RawJSON?,
        routine: Result<RoutineDefinition, any Error>,
        merges: RoutineRegistry, workerId: String, token: String, parts: AttemptParts? = nil
    ) async -> WireMessage {
        let start = ContinuousClock.now
        do {
            let p = try prepare(task: task, payload: payload, slotState: slotState, routineState: routineState, shared: shared, routine: routine, merges: merges, parts: parts)
            if let handler = p.slot.handler { try await handler(p.data, p.ctx) }
            let (rest, partsSent) = p.ctx.takeRemainder()
            if let f = parts?.failure { throw RoutineError(f.message, type: f.type) }
            // The parts go first (the RESULT says how many); those the window held back are sent now.
            try await parts?.flushed()
            return answer(p, rest: rest, partsSent: partsSent, task: task, workerId: workerId, token: token, since: start)
        } catch {
            // A part over the limit stopped the handler (its wait threw): that is the error to report.
            if let f = parts?.failure { return failure(RoutineError(f.message, type: f.type), task: task, workerId: workerId, token: token, since: start) }
            return failure(error, task: task, workerId: workerId, token: token, since: start)
        }
    }

    /// Runs one activation of a routine that `runsInline`, here and now (its handler never
    /// waits; what it emits goes in the RESULT). A slot without an inline handler is an error.
    static func runInline(
        task: TaskMessage, payload: RawJSON, slotState: RawJSON?, routineState: RawJSON?, shared: RawJSON?,
        routine: Result<RoutineDefinition, any Error>, merges: RoutineRegistry, workerId: String, token: String
    ) -> WireMessage {
        let start = ContinuousClock.now
        do {
            let p = try prepare(task: task, payload: payload, slotState: slotState, routineState: routineState, shared: shared, routine: routine, merges: merges, parts: nil)
            if p.slot.handler != nil {
                guard let handler = p.slot.inlineHandler else {
                    throw RoutineError("slot \(task.routineId).\(task.slot) has a handler that may wait: it cannot run inline")
                }
                try handler(p.data, p.ctx)
            }
            let (rest, _) = p.ctx.takeRemainder()
            return answer(p, rest: rest, partsSent: 0, task: task, workerId: workerId, token: token, since: start)
        } catch {
            return failure(error, task: task, workerId: workerId, token: token, since: start)
        }
    }

    /// Decodes the input, maps and merges it, and builds the handler's context.
    static func prepare(
        task: TaskMessage, payload: RawJSON, slotState: RawJSON?, routineState: RawJSON?, shared: RawJSON?,
        routine: Result<RoutineDefinition, any Error>, merges: RoutineRegistry, parts: AttemptParts?
    ) throws -> Prepared {
        let routine = try routine.get()
        guard let slot = routine.slotNamed(task.slot) else {
            throw RoutineError("routine '\(task.routineId)' (\(task.routineType)) has no slot '\(task.slot)' (slots: \(routine.slots.map(\.name).joined(separator: ", ")))")
        }
        guard case .object(var data) = try payload.value() else {
            throw RoutineError("the payload for \(task.routineId).\(task.slot) is not a JSON object")
        }
        if let m = task.paramMapping {
            data = ParamMapping(m.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }).apply(to: data)
        }
        // Stateful slots: merge with the state the coordinator keeps for this
        // (job, routine, slot); the new state goes back only if the handler succeeds.
        var newState: JSONObject?
        if slot.merge.isStateful {
            guard task.merge == slot.merge.description else {
                throw RoutineError("slot \(task.routineId).\(task.slot) merges with '\(slot.merge)' here but the coordinator expects '\(task.merge ?? "override")' (worker and coordinator catalogues differ)")
            }
            var state = try slotState?.value().objectValue ?? [:]
            data = try slot.merge.merge(state: &state, new: data, custom: merges.merge)
            newState = state
        }
        let ctx = HandlerContext(
            jobId: task.jobId, routineId: task.routineId, slot: task.slot, attempt: task.attempt,
            config: routine.config, events: Set(routine.events), sharedData: try shared?.value().objectValue ?? [:],
            state: try routineState?.value().objectValue ?? [:], sink: parts)
        if routine.keepsState != (task.routineState == true) {
            throw RoutineError("routine \(task.routineId) (\(task.routineType)) \(routine.keepsState ? "keeps" : "keeps no") state here but the coordinator thinks otherwise (worker and coordinator catalogues differ)")
        }
        return Prepared(routine: routine, slot: slot, data: data, ctx: ctx, newState: newState)
    }

    /// The RESULT of a handler that returned: what it emitted and output (beyond streamed parts) and the new states.
    static func answer(
        _ p: Prepared, rest: EmissionPart, partsSent: Int, task: TaskMessage, workerId: String, token: String, since start: ContinuousClock.Instant
    ) -> WireMessage {
        var bodies: [RawJSON] = []
        bodies.reserveCapacity(rest.emissions.count + rest.outputs.count + 3)
        for e in rest.emissions { bodies.append(e.payload) }
        for o in rest.outputs { bodies.append(o.data) }
        if let newState = p.newState { bodies.append(RawJSON(.object(newState))) }
        if p.routine.keepsState { bodies.append(RawJSON(.object(p.ctx.state))) }
        let effects = p.ctx.effects
        if !effects.isEmpty { bodies.append(RawJSON(effects.json)) }
        let header = ResultMessage(
            workerId: workerId, jobId: task.jobId, taskId: task.taskId, attempt: task.attempt, outcome: .ok,
            emissions: rest.emissions.map(\.event), outputs: rest.outputs.map(\.type),
            handlerUs: micros(ContinuousClock.now - start), slotState: p.newState == nil ? nil : true,
            effects: effects.isEmpty ? nil : true, routineState: p.routine.keepsState ? true : nil, token: token,
            parts: partsSent > 0 ? partsSent : nil)
        return .result(header, bodies: bodies)
    }

    /// The RESULT of an activation that failed.
    static func failure(_ error: any Error, task: TaskMessage, workerId: String, token: String, since start: ContinuousClock.Instant) -> WireMessage {
        var type: String
        switch error {
        case let e as RoutineError: type = e.type
        case is JSONParseError: type = "PayloadError"
        default: type = String(describing: Swift.type(of: error))
        }
        // The worker's own word for a lease it gave up: a routine cannot use it.
        if type == "LeaseExpired" { type = "RoutineError" }
        return .result(
            ResultMessage(
                workerId: workerId, jobId: task.jobId, taskId: task.taskId, attempt: task.attempt, outcome: .error,
                error: "\(error)", errorType: type, handlerUs: micros(ContinuousClock.now - start), token: token), bodies: [])
    }

    /// A result too big for one message becomes the task's error, with the sizes.
    static func limited(_ result: WireMessage, frames: [[UInt8]], limit: Int, codec: WireCodec) -> [[UInt8]] {
        let bytes = frames.reduce(0) { $0 + $1.count }
        guard bytes > limit, case .result(let h, let bodies) = result else { return frames }
        let largest = bodies.map(\.bytes.count).max() ?? 0
        let header = ResultMessage(
            workerId: h.workerId, jobId: h.jobId, taskId: h.taskId, attempt: h.attempt, outcome: .error,
            error: "PayloadTooLarge: the result of this activation is \(bytes) bytes (\(bodies.count) body frame(s), the largest \(largest) bytes), over the \(limit)-byte message limit (--max-message-bytes)",
            errorType: "PayloadTooLarge", handlerUs: h.handlerUs, credit: h.credit, token: h.token)
        return codec.encode(.result(header, bodies: []))
    }

    /// The answer to a TASK over this worker's limit, from the frames kept of it
    /// (tag and header); nil when it is not a TASK of this session.
    static func refusal(of frames: [[UInt8]], bytes: Int, limit: Int, workerId: String, token: String) -> WireMessage? {
        let (type, header) = WireCodec().peek(frames)
        guard type == .task, let h = header, h["token"].stringValue == token, !token.isEmpty, let job = h["job_id"].stringValue, let id = h["task_id"].intValue, id > 0,
            let attempt = h["attempt"].intValue, (1...WireLimits.maxAttempt).contains(attempt)
        else { return nil }
        return .result(
            ResultMessage(
                workerId: workerId, jobId: job, taskId: UInt64(id), attempt: attempt, outcome: .error,
                error: "PayloadTooLarge: the TASK for \(h["routine_id"].stringValue ?? "?").\(h["slot"].stringValue ?? "?") is \(bytes) bytes, over this worker's \(limit)-byte message limit (--max-message-bytes)",
                errorType: "PayloadTooLarge", token: token),
            bodies: [])
    }

    static func micros(_ d: Duration) -> Int {
        Int(d.components.seconds) * 1_000_000 + Int(d.components.attoseconds / 1_000_000_000_000)
    }
}
