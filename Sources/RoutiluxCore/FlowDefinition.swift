import OrderedCollections
/// A routine's place in a flow: its type and configuration.
public struct RoutineNode: Sendable, Hashable {
    public var id: String
    public var type: String
    public var config: JSONObject
    /// The routine-level error policy; it overrides the flow's.
    public var errorHandler: ErrorPolicy?
    /// Seconds a dispatched task of this routine may take (its lease); overrides
    /// the flow's `execution.task_timeout`; 0 means no deadline.
    public var taskTimeout: Double?

    public init(id: String, type: String, config: JSONObject = [:], errorHandler: ErrorPolicy? = nil, taskTimeout: Double? = nil) {
        self.taskTimeout = taskTimeout
        self.id = id
        self.type = type
        self.config = config
        self.errorHandler = errorHandler
    }
}

/// One edge: an event of one routine feeds a slot of another.
public struct Connection: Sendable, Hashable {
    public var sourceRoutine: String
    public var sourceEvent: String
    public var targetRoutine: String
    public var targetSlot: String
    public var paramMapping: ParamMapping

    public init(from: (String, String), to: (String, String), paramMapping: ParamMapping = ParamMapping()) {
        sourceRoutine = from.0
        sourceEvent = from.1
        targetRoutine = to.0
        targetSlot = to.1
        self.paramMapping = paramMapping
    }
}

/// How a flow's jobs run.
public struct ExecutionSettings: Sendable, Hashable {
    public enum Strategy: String, Sendable {
        case sequential
        case concurrent
    }
    /// What a job's `execution_history` keeps (`execution.history`).
    public enum History: Sendable, Hashable {
        /// Every record. With a state dir the coordinator holds the newest in memory
        /// (`--history-in-memory`) and the rest in the store; a JobState still gives all of them.
        case full
        /// No emission records (errors are still recorded): for jobs of millions of items.
        case none
        /// Only the newest this many records.
        case last(Int)

        public var json: JSONValue {
            switch self {
            case .full: "full"
            case .none: "none"
            case .last(let n): .int(n)
            }
        }

        /// Parses `full`, `none` or a count >= 1; nil: not one of them.
        public init?(json v: JSONValue) {
            if let s = v.stringValue {
                switch s {
                case "full": self = .full
                case "none": self = .none
                default: return nil
                }
            } else if let n = v.intValue, (1...Self.maxRecords).contains(n) {
                self = .last(n)
            } else {
                return nil
            }
        }

        /// The largest N of `.last(N)`.
        public static let maxRecords = 100_000_000

        /// The most records a JobState holds (nil: all; `none` records no emission, so it needs no limit).
        public var limit: Int? {
            switch self {
            case .full, .none: nil
            case .last(let n): n
            }
        }
    }
    public var strategy: Strategy
    /// How many of one job's tasks may be in flight at once (1 = strict FIFO).
    public var maxWorkers: Int
    /// Seconds before a job is failed with a timeout; nil means no limit.
    public var timeout: Double?
    /// Seconds a dispatched task may take before it is taken back and run
    /// again (its lease); nil means the default (300 s), 0 none.
    public var taskTimeout: Double?
    public var history: History = .full

    /// The lease when a flow says nothing.
    public static let defaultTaskTimeout = 300.0

    public init(strategy: Strategy = .sequential, maxWorkers: Int? = nil, timeout: Double? = nil, taskTimeout: Double? = nil) {
        self.taskTimeout = taskTimeout
        self.strategy = strategy
        // routilux: max_workers is forced to 1 unless the strategy is concurrent.
        self.maxWorkers = strategy == .concurrent ? max(1, maxWorkers ?? 5) : 1
        self.timeout = timeout
    }
}

/// Where a job's params are delivered.
public struct EntryPoint: Sendable, Hashable {
    public var routine: String
    public var slot: String
    public init(routine: String, slot: String = "trigger") {
        self.routine = routine
        self.slot = slot
    }
}

/// A flow: routines by id, connections in order, execution settings, entry.
public struct FlowDefinition: Sendable, Hashable {
    public var flowId: String
    /// Routines in the order they were written.
    public var routines: [RoutineNode]
    public var connections: [Connection]
    public var execution: ExecutionSettings
    public var entry: EntryPoint?
    /// The flow-level error policy, for routines without their own; none means stop.
    public var errorHandler: ErrorPolicy?

    public init(
        flowId: String, routines: [RoutineNode], connections: [Connection] = [],
        execution: ExecutionSettings = ExecutionSettings(), entry: EntryPoint? = nil, errorHandler: ErrorPolicy? = nil
    ) {
        self.flowId = flowId
        self.routines = routines
        self.connections = connections
        self.execution = execution
        self.entry = entry
        self.errorHandler = errorHandler
    }

    public func routine(_ id: String) -> RoutineNode? { routines.first { $0.id == id } }

    /// The lease of `routine`'s tasks in seconds: its own, else the flow's, else
    /// the default; nil when it has none (0).
    public func taskTimeout(for routine: String) -> Double? {
        let t = self.routine(routine)?.taskTimeout ?? execution.taskTimeout ?? ExecutionSettings.defaultTaskTimeout
        return t > 0 ? t : nil
    }

    /// The policy that applies to `routine`'s errors: its own, else the flow's, else nil (stop).
    public func errorPolicy(for routine: String) -> ErrorPolicy? {
        self.routine(routine)?.errorHandler ?? errorHandler
    }

    /// Connections leaving `routine.event`, in connection order. A repeated
    /// connect of the same event and slot keeps its first position and the last mapping.
    public func targets(of routine: String, event: String) -> [Connection] {
        var out: [Connection] = []
        for c in connections where c.sourceRoutine == routine && c.sourceEvent == event {
            if let i = out.firstIndex(where: { $0.targetRoutine == c.targetRoutine && $0.targetSlot == c.targetSlot }) {
                out[i].paramMapping = c.paramMapping
            } else {
                out.append(c)
            }
        }
        return out
    }
}
