import OrderedCollections
/// A slot handler: it gets the merged data and its context. Throwing is a routine error.
public typealias SlotHandler = @Sendable (JSONObject, HandlerContext) async throws -> Void

/// An input of a routine.
public struct SlotDefinition: Sendable {
    public var name: String
    public var merge: MergeStrategy
    public var handler: SlotHandler?

    public init(name: String, merge: MergeStrategy = .override, handler: SlotHandler?) {
        self.name = name
        self.merge = merge
        self.handler = handler
    }
}

/// A routine instance's shape and behaviour: its slots (with handlers) and its
/// events, built from its configuration. Handlers keep no state between calls;
/// a job's state lives in the JobState on the coordinator.
public struct RoutineDefinition: Sendable {
    public private(set) var slots: [SlotDefinition] = []
    public private(set) var events: [String] = []
    public let config: JSONObject
    /// The routine keeps state per job across its activations (`ctx.state`):
    /// the coordinator stores it, sends it with each task, and runs one of the
    /// job's activations of this routine at a time.
    public private(set) var keepsState = false
    /// Its handlers never wait (no I/O, sleeps, timers or `ctx.waitForRoom()`) and return within
    /// microseconds: a worker may run them on its own loop, without a task each (`runInline()`).
    /// What such a handler emits goes in one RESULT, never in streamed parts.
    public private(set) var runsInline = false

    public init(config: JSONObject = [:]) { self.config = config }

    /// Declares that the handlers only compute on their input (see `runsInline`).
    public mutating func runInline() { runsInline = true }

    /// Declares that the routine keeps per-job state in `ctx.state` (and may set timers).
    public mutating func keepState() { keepsState = true }

    /// The routine's own error policy (routilux's routine-level handler); an
    /// `error_handler` for the routine in the flow file overrides it, and it
    /// overrides the flow's.
    public private(set) var errorPolicy: ErrorPolicy?

    /// routilux `set_error_handler`.
    public mutating func setErrorPolicy(_ policy: ErrorPolicy?) { errorPolicy = policy }

    /// routilux `set_as_optional(strategy)`: errors are recorded and the job goes on (continue, or skip).
    public mutating func setAsOptional(_ strategy: ErrorPolicy.Strategy = .continue) { errorPolicy = .optional(strategy) }

    /// routilux `set_as_critical(...)`: retried, and the job fails when retries run out.
    public mutating func setAsCritical(maxRetries: Int = 3, retryDelay: Double = 1.0, retryBackoff: Double = 2.0) {
        errorPolicy = .critical(maxRetries: maxRetries, retryDelay: retryDelay, retryBackoff: retryBackoff)
    }

    /// Declares an input slot; a duplicate name is a programming error.
    public mutating func slot(_ name: String, merge: MergeStrategy = .override, _ handler: SlotHandler? = nil) {
        precondition(!slots.contains { $0.name == name }, "slot '\(name)' already exists")
        slots.append(SlotDefinition(name: name, merge: merge, handler: handler))
    }

    /// Declares an output event.
    public mutating func event(_ name: String) {
        precondition(!events.contains(name), "event '\(name)' already exists")
        events.append(name)
    }

    public func slotNamed(_ name: String) -> SlotDefinition? { slots.first { $0.name == name } }

    /// The names a flow may connect to.
    public var ports: RoutinePorts {
        var merges: [String: String] = [:]
        for s in slots where s.merge.isStateful { merges[s.name] = s.merge.description }
        return RoutinePorts(slots: slots.map(\.name), events: events, merges: merges, stateful: keepsState, errorPolicy: errorPolicy)
    }
}

/// An error in a routine's configuration, reported at flow load.
public struct RoutineConfigError: Error, CustomStringConvertible, Sendable {
    /// The config key, or nil for the config as a whole.
    public var key: String?
    public var message: String
    public init(key: String?, _ message: String) {
        self.key = key
        self.message = message
    }
    public var description: String { message }
}

/// A routine type: a name (plus aliases) and a factory from config.
public struct RoutineType: Sendable {
    public let name: String
    public let aliases: [String]
    public let summary: String
    private let factory: @Sendable (JSONObject) throws -> RoutineDefinition

    public init(
        _ name: String, aliases: [String] = [], summary: String = "",
        make: @escaping @Sendable (JSONObject) throws -> RoutineDefinition
    ) {
        self.name = name
        self.aliases = aliases
        self.summary = summary
        self.factory = make
    }

    /// Builds an instance; config problems throw `RoutineConfigError`.
    public func make(config: JSONObject) throws -> RoutineDefinition {
        try factory(config)
    }
}

/// The slot and event names a routine exposes; nil means "any" (ports that
/// are only known at run time). `merges` names the slots whose deliveries are
/// merged with earlier ones (strategy other than override), so the coordinator
/// keeps their state per job.
public struct RoutinePorts: Sendable, Hashable {
    public var slots: [String]?
    public var events: [String]?
    public var merges: [String: String]
    /// The routine keeps per-job state (`RoutineDefinition.keepState()`).
    public var stateful: Bool
    /// The routine's own error policy (`setAsOptional`, `setAsCritical`, `setErrorPolicy`).
    public var errorPolicy: ErrorPolicy?
    public init(
        slots: [String]?, events: [String]?, merges: [String: String] = [:], stateful: Bool = false, errorPolicy: ErrorPolicy? = nil
    ) {
        self.slots = slots
        self.events = events
        self.merges = merges
        self.stateful = stateful
        self.errorPolicy = errorPolicy
    }
}
