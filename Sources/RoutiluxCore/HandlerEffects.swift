/// What a handler asks of its job besides emissions and outputs: shared-data
/// updates, shared-log entries, deferred events and a pause. The coordinator
/// applies them in this order when the task succeeds; a failed attempt's
/// effects are dropped with its emissions.
public struct HandlerEffects: Sendable, Hashable {
    public struct SharedUpdate: Sendable, Hashable {
        public var key: String
        public var value: JSONValue
        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }
    /// Run `slot` of the same routine, in the same job, after `after` seconds with
    /// `data`. Setting a timer with an existing id replaces it.
    public struct Timer: Sendable, Hashable {
        public var id: String
        public var after: Double
        public var slot: String
        public var data: JSONObject
        public init(id: String, after: Double, slot: String, data: JSONObject) {
            self.id = id
            self.after = after
            self.slot = slot
            self.data = data
        }
    }
    public struct PauseRequest: Sendable, Hashable {
        public var reason: String
        public var checkpoint: JSONValue?
        public init(reason: String, checkpoint: JSONValue?) {
            self.reason = reason
            self.checkpoint = checkpoint
        }
    }

    /// `update_shared_data(key, value)` calls, in order (the last one for a key wins).
    public var sharedUpdates: [SharedUpdate] = []
    /// `append_to_shared_log(entry)` entries, in order.
    public var sharedLog: [JSONObject] = []
    /// `emit_deferred_event` calls: emitted when the job is resumed.
    public var deferred: [Emission] = []
    /// The handler paused its job ("wait for a human").
    public var pause: PauseRequest?
    /// Timers to set and to cancel (stateful routines: batch flushes, debounce windows, timeouts).
    public var timers: [Timer] = []
    public var cancelledTimers: [String] = []

    public init() {}

    public var isEmpty: Bool {
        sharedUpdates.isEmpty && sharedLog.isEmpty && deferred.isEmpty && pause == nil && timers.isEmpty && cancelledTimers.isEmpty
    }

    /// The wire form (a RESULT body frame).
    public var json: JSONValue {
        var o = JSONObject()
        if !sharedUpdates.isEmpty { o["shared_data"] = .array(sharedUpdates.map { [.string($0.key), $0.value] }) }
        if !sharedLog.isEmpty { o["shared_log"] = .array(sharedLog.map { .object($0) }) }
        if !deferred.isEmpty { o["deferred"] = .array(deferred.map { ["event": .string($0.event), "data": .object($0.data)] }) }
        if let p = pause { o["pause"] = ["reason": .string(p.reason), "checkpoint": p.checkpoint ?? .null] }
        if !cancelledTimers.isEmpty { o["cancel_timers"] = .array(cancelledTimers.map { .string($0) }) }
        if !timers.isEmpty {
            o["timers"] = .array(timers.map { ["id": .string($0.id), "after": .double($0.after), "slot": .string($0.slot), "data": .object($0.data)] })
        }
        return .object(o)
    }

    public init(json: JSONValue) throws(RoutineError) {
        guard let o = json.objectValue else { throw RoutineError("handler effects must be a JSON object") }
        for (i, u) in (o["shared_data"]?.arrayValue ?? []).enumerated() {
            guard let pair = u.arrayValue, pair.count == 2, let k = pair[0].stringValue else {
                throw RoutineError("effects.shared_data[\(i)] must be [key, value]")
            }
            sharedUpdates.append(SharedUpdate(key: k, value: pair[1]))
        }
        for (i, e) in (o["shared_log"]?.arrayValue ?? []).enumerated() {
            guard let entry = e.objectValue else { throw RoutineError("effects.shared_log[\(i)] must be an object") }
            sharedLog.append(entry)
        }
        for (i, d) in (o["deferred"]?.arrayValue ?? []).enumerated() {
            guard let event = d["event"].stringValue, let data = d["data"].objectValue else {
                throw RoutineError("effects.deferred[\(i)] must be {event, data}")
            }
            deferred.append(Emission(event: event, data: data))
        }
        for (i, t) in (o["timers"]?.arrayValue ?? []).enumerated() {
            guard let id = t["id"].stringValue, let after = t["after"].doubleValue, after >= 0, let slot = t["slot"].stringValue,
                let data = t["data"].objectValue
            else { throw RoutineError("effects.timers[\(i)] must be {id, after >= 0, slot, data}") }
            timers.append(Timer(id: id, after: after, slot: slot, data: data))
        }
        cancelledTimers = o["cancel_timers"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if let p = o["pause"], p != .null {
            pause = PauseRequest(reason: p["reason"].stringValue ?? "", checkpoint: p["checkpoint"].nonNull)
        }
    }
}
