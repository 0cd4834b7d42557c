import Foundation
import RoutiluxCore
import RoutiluxWire

/// Runs one slot activation: decode, map, call the handler, package the result.
enum TaskRunner {
    static func run(
        task: TaskMessage, payload: RawJSON, routine: Result<RoutineDefinition, any Error>, workerId: String
    ) async -> WireMessage {
        let start = ContinuousClock.now
        func failure(_ error: any Error) -> WireMessage {
            let elapsed = ContinuousClock.now - start
            let type: String
            switch error {
            case let e as RoutineError: type = e.type
            case is JSONParseError: type = "PayloadError"
            default: type = String(describing: Swift.type(of: error))
            }
            return .result(
                ResultMessage(
                    workerId: workerId, jobId: task.jobId, taskId: task.taskId, attempt: task.attempt, outcome: .error,
                    error: "\(error)", errorType: type, handlerUs: micros(elapsed)), bodies: [])
        }
        do {
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
            let ctx = HandlerContext(
                jobId: task.jobId, routineId: task.routineId, slot: task.slot, attempt: task.attempt,
                config: routine.config, events: Set(routine.events))
            if let handler = slot.handler { try await handler(data, ctx) }
            let emissions = ctx.emissions
            let outputs = ctx.outputs
            var bodies: [RawJSON] = []
            bodies.reserveCapacity(emissions.count + outputs.count)
            for e in emissions { bodies.append(RawJSON(bytes: JSONValue.object(e.data).serialized())) }
            for o in outputs { bodies.append(RawJSON(bytes: o.data.serialized())) }
            let header = ResultMessage(
                workerId: workerId, jobId: task.jobId, taskId: task.taskId, attempt: task.attempt, outcome: .ok,
                emissions: emissions.map(\.event), outputs: outputs.map(\.outputType),
                handlerUs: micros(ContinuousClock.now - start))
            return .result(header, bodies: bodies)
        } catch {
            return failure(error)
        }
    }

    static func micros(_ d: Duration) -> Int {
        Int(d.components.seconds) * 1_000_000 + Int(d.components.attoseconds / 1_000_000_000_000)
    }
}
