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
    /// Merge strategy of each stateful slot, by routine id then slot.
    private let merges: [String: [String: String]]
    /// Routines that keep per-job state.
    let stateful: Set<String>
    /// The routines' own error policies (set in code), by routine id.
    private let ownPolicies: [String: ErrorPolicy]
    /// Each routine's ports as configured, by routine id (absent: not known here).
    let ports: [String: RoutinePorts]
    /// Each routine's task lease in seconds (absent: none).
    let leases: [String: Double]
    /// Each routine's distance from the entry routine along connections (unreachable: 0).
    let depths: [String: Int]

    /// `ports`: each routine's ports as configured (validated against the flow).
    init(_ flow: FlowDefinition, ports portsById: [String: RoutinePorts]) {
        var merges: [String: [String: String]] = [:]
        var stateful: Set<String> = []
        var own: [String: ErrorPolicy] = [:]
        for r in flow.routines {
            guard let ports = portsById[r.id] else { continue }
            if !ports.merges.isEmpty { merges[r.id] = ports.merges }
            if ports.stateful { stateful.insert(r.id) }
            if let p = ports.errorPolicy { own[r.id] = p }
        }
        self.merges = merges
        self.stateful = stateful
        var leases: [String: Double] = [:]
        for r in flow.routines { if let t = flow.taskTimeout(for: r.id) { leases[r.id] = t } }
        self.leases = leases
        var depths: [String: Int] = [:]
        if let entry = flow.entry?.routine ?? flow.routines.first?.id {
            depths[entry] = 0
            var frontier = [entry]
            while !frontier.isEmpty {
                var next: [String] = []
                for r in frontier {
                    for c in flow.connections where c.sourceRoutine == r && depths[c.targetRoutine] == nil {
                        depths[c.targetRoutine] = depths[r]! + 1
                        next.append(c.targetRoutine)
                    }
                }
                frontier = next
            }
        }
        self.depths = depths
        ownPolicies = own
        ports = portsById
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

    /// The policy for `routine`'s errors: the flow file's for the routine, else the
    /// routine's own (set in code), else the flow's, else nil (stop).
    func errorPolicy(for routine: String) -> ErrorPolicy? {
        definition.routine(routine)?.errorHandler ?? ownPolicies[routine] ?? definition.errorHandler
    }

    /// The merge strategy of `routine.slot` if it keeps state (append, custom), else nil.
    func merge(_ routine: String, _ slot: String) -> String? { merges[routine]?[slot] }

    /// Targets of `routine.event`, in connection order.
    func routes(from routine: String, event: String) -> [Route] {
        routes[routine]?[event] ?? []
    }
}
