import RoutiluxCore
import RoutiluxWire

/// Routine instances built on this worker, one per (flow, routine id), rebuilt
/// when the coordinator sends a different config for the same id.
struct RoutineHost {
    let registry: RoutineRegistry
    private var instances: [String: (config: [UInt8], routine: RoutineDefinition)] = [:]

    init(registry: RoutineRegistry) { self.registry = registry }

    mutating func instance(for task: TaskMessage, config: RawJSON) throws -> RoutineDefinition {
        let key = task.flowId + "\u{1}" + task.routineId
        if let hit = instances[key], hit.config == config.bytes { return hit.routine }
        guard let type = registry.lookup(task.routineType) else {
            throw RoutineError("this worker does not host routine type '\(task.routineType)' (hosted: \(registry.typeNames.joined(separator: ", ")))")
        }
        guard case .object(let cfg) = try config.value() else {
            throw RoutineError("config of routine '\(task.routineId)' is not a JSON object")
        }
        let routine: RoutineDefinition
        do { routine = try type.make(config: cfg) } catch let e as RoutineConfigError {
            throw RoutineError("routine '\(task.routineId)' config\(e.key.map { ".\($0)" } ?? ""): \(e.message)")
        }
        instances[key] = (config.bytes, routine)
        return routine
    }
}
