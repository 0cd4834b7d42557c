import OrderedCollections
/// A slot handler: it gets the merged data and its context. Throwing is a routine error.
public typealias SlotHandler = @Sendable (JSONObject, HandlerContext) async throws -> Void

/// A handler that never waits: it only computes on its input (no I/O, sleeps, timers or
/// `ctx.waitForRoom()`) and returns within microseconds. A worker runs it on its I/O thread,
/// where the task arrived, with no task of its own (see `RoutineDefinition.inlineSlot`).
public typealias InlineSlotHandler = @Sendable (JSONObject, HandlerContext) throws -> Void

/// An input of a routine.
public struct SlotDefinition: Sendable {
    public var name: String
    public var merge: MergeStrategy
    public var handler: SlotHandler?
    /// The same handler, callable without waiting, when the slot was declared with `inlineSlot`.
    public var inlineHandler: InlineSlotHandler?

    public init(name: String, merge: MergeStrategy = .override, handler: SlotHandler?) {
        self.name = name
        self.merge = merge
        self.handler = handler
    }

    /// A slot whose handler never waits (it is also the slot's `handler`).
    public init(name: String, merge: MergeStrategy = .override, inline: @escaping InlineSlotHandler) {
        self.name = name
        self.merge = merge
        self.handler = { data, ctx in try inline(data, ctx) }
        self.inlineHandler = inline
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
    /// Every slot's handler never waits (each was declared with `inlineSlot`): a worker may run
    /// its activations on its I/O thread, without a task each. What such a handler emits goes in
    /// one RESULT, never in streamed parts.
    public var runsInline: Bool { slots.allSatisfy { $0.handler == nil || $0.inlineHandler != nil } }

    public init(config: JSONObject = [:]) { self.config = config }

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

    /// Declares an input slot whose handler never waits and returns within microseconds (see
    /// `InlineSlotHandler`); a routine whose slots are all such runs inline on its worker (`runsInline`).
    public mutating func inlineSlot(_ name: String, merge: MergeStrategy = .override, _ handler: @escaping InlineSlotHandler) {
        precondition(!slots.contains { $0.name == name }, "slot '\(name)' already exists")
        slots.append(SlotDefinition(name: name, merge: merge, inline: handler))
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
