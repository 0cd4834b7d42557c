import RoutiluxCore

/// A flow prepared for routing: connections indexed by (routine, event),
/// routine types and pre-serialized configs by routine id.
struct CompiledFlow: Sendable {
    struct Route: Sendable {
        var targetRoutine: String
        var targetSlot: String
        var mapping: [[String]]?
    }

    let definition: FlowDefinition
    private let routes: [String: [String: [Route]]]
    let types: [String: String]
    let configs: [String: RawJSON]

    init(_ flow: FlowDefinition) {
        definition = flow
        var routes: [String: [String: [Route]]] = [:]
        var types: [String: String] = [:]
        var configs: [String: RawJSON] = [:]
        for r in flow.routines {
            types[r.id] = r.type
            configs[r.id] = RawJSON(.object(r.config))
            var byEvent: [String: [Route]] = [:]
            let events = Set(flow.connections.filter { $0.sourceRoutine == r.id }.map(\.sourceEvent))
            for e in events {
                byEvent[e] = flow.targets(of: r.id, event: e).map {
                    Route(
                        targetRoutine: $0.targetRoutine, targetSlot: $0.targetSlot,
                        mapping: $0.paramMapping.isEmpty ? nil : $0.paramMapping.pairs.map { [$0.source, $0.target] }
                    )
                }
            }
            routes[r.id] = byEvent
        }
        self.routes = routes
        self.types = types
        self.configs = configs
    }

    /// Targets of `routine.event`, in connection order.
    func routes(from routine: String, event: String) -> [Route] {
        routes[routine]?[event] ?? []
    }
}
