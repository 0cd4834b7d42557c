import OrderedCollections
import Foundation
import Synchronization

/// One event a handler emitted, in emission order.
public struct Emission: Sendable, Hashable {
    public var event: String
    public var data: JSONObject
    public init(event: String, data: JSONObject) {
        self.event = event
        self.data = data
    }
}

/// One `send_output` record a handler produced.
public struct OutputRecord: Sendable, Hashable {
    public var outputType: String
    public var data: JSONValue
    public init(outputType: String, data: JSONValue) {
        self.outputType = outputType
        self.data = data
    }
}

/// An error a routine raises on purpose; its message reaches the JobState.
/// `type` is the error type name that `retryable_errors` matches (default
/// "RoutineError"), like a Python exception class name.
public struct RoutineError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var type: String
    public init(_ message: String, type: String = "RoutineError") {
        self.message = message
        self.type = type
    }
    public var description: String { message }
}

/// What a slot handler sees of its job: its config and ids, the job's shared
/// data, and the means to emit events, send output, update shared data and
/// the shared log, defer events and pause the job. Everything is collected
/// and returned to the coordinator with the task's result, in order; none of
/// it takes effect if the handler throws. Given a `PartSink` (the worker's),
/// emissions and outputs leave in parts as the handler runs; long emission loops
/// call `waitForRoom()` now and then so that the worker holds only a few parts.
public final class HandlerContext: Sendable {
    public let jobId: String
    public let routineId: String
    public let slot: String
    public let attempt: Int
    public let config: JSONObject
    private let declaredEvents: Set<String>
    private struct Collected {
        var emissions: [Emission] = []
        var outputs: [OutputRecord] = []
        var effects = HandlerEffects()
        var shared: JSONObject
        var state: JSONObject
        /// With a sink: what is not sent yet, and how many parts were.
        var part = EmissionPart()
        var partsSent = 0
    }
    private let collected: Mutex<Collected>
    private let sink: (any PartSink)?

    /// `sharedData`: the job's shared data when the task was dispatched.
    public init(
        jobId: String, routineId: String, slot: String, attempt: Int = 1, config: JSONObject,
        events: Set<String>, sharedData: JSONObject = [:], state: JSONObject = [:], sink: (any PartSink)? = nil
    ) {
        self.sink = sink
        self.jobId = jobId
        self.routineId = routineId
        self.slot = slot
        self.attempt = attempt
        self.config = config
        self.declaredEvents = events
        collected = Mutex(Collected(shared: sharedData, state: state))
    }

    private func checkEvent(_ event: String) throws {
        guard declaredEvents.contains(event) else {
            throw RoutineError(
                "event '\(event)' does not exist in routine '\(routineId)' (events: \(declaredEvents.sorted().joined(separator: ", ")))"
            )
        }
    }

    /// Emits `event` with `data`. Non-blocking: the coordinator routes it
    /// once the handler has returned successfully.
    public func emit(_ event: String, _ data: JSONObject = [:]) throws {
        try checkEvent(event)
        if let path = JSONValue.object(data).firstNonFinitePath() {
            throw RoutineError("payload of event '\(event)' is not JSON-encodable: \(path) is not a finite number", type: "TypeError")
        }
        guard let sink else {
            collected.withLock { $0.emissions.append(Emission(event: event, data: data)) }
            return
        }
        let payload = RawJSON(bytes: JSONValue.object(data).serialized())
        collected.withLock { c in
            Self.add(&c, sink, bytes: payload.bytes.count + event.utf8.count + 4) { $0.emissions.append((event, payload)) }
        }
    }

    /// Adds an entry of `bytes` (its body and name) to the part being filled: a part that it would take
    /// over the sink's byte size goes first, and the part goes once it is full.
    private static func add(_ c: inout Collected, _ sink: any PartSink, bytes: Int, _ append: (inout EmissionPart) -> Void) {
        if !c.part.isEmpty && c.part.bytes + bytes > sink.maxBytes { send(&c, sink) }
        append(&c.part)
        c.part.bytes += bytes
        if c.part.count >= sink.maxEntries || c.part.bytes >= sink.maxBytes { send(&c, sink) }
    }

    private static func send(_ c: inout Collected, _ sink: any PartSink) {
        sink.send(c.part)
        c.part = EmissionPart()
        c.partsSent += 1
    }

    /// With a sink, suspends while the coordinator is behind on this activation's parts (the
    /// worker then holds a few parts at most); returns at once otherwise, or without a sink.
    /// Throws when the attempt was stopped (its lease ended, or the coordinator gave it up).
    public func waitForRoom() async throws {
        try Task.checkCancellation()
        try await sink?.waitForRoom()
    }

    /// What was not sent in parts yet (all of it, without a sink), and how many parts were sent.
    public func takeRemainder() -> (part: EmissionPart, partsSent: Int) {
        collected.withLock { c in
            var part = c.part
            if sink == nil {
                part = EmissionPart()
                for e in c.emissions { part.emissions.append((e.event, RawJSON(bytes: JSONValue.object(e.data).serialized()))) }
                for o in c.outputs { part.outputs.append((o.outputType, RawJSON(bytes: o.data.serialized()))) }
            }
            return (part, c.partsSent)
        }
    }

    /// Emits a Codable value; it must encode to a JSON object.
    public func emit<T: Encodable>(_ event: String, value: T) throws {
        let bytes: Data
        do { bytes = try JSONEncoder().encode(value) } catch {
            throw RoutineError("payload of event '\(event)' (\(T.self)) is not JSON-encodable: \(error)", type: "TypeError")
        }
        guard case .object(let o) = try JSONValue.parse(Array(bytes)) else {
            throw RoutineError("payload of event '\(event)' must encode to a JSON object")
        }
        try emit(event, o)
    }

    /// Appends a record to the job's output log (routilux `send_output`).
    public func sendOutput(_ outputType: String, _ data: JSONValue) {
        guard let sink else {
            collected.withLock { $0.outputs.append(OutputRecord(outputType: outputType, data: data)) }
            return
        }
        let body = RawJSON(bytes: data.serialized())
        collected.withLock { c in
            Self.add(&c, sink, bytes: body.bytes.count + outputType.utf8.count + 4) { $0.outputs.append((outputType, body)) }
        }
    }

    /// The job's shared data as this handler sees it: as of dispatch, plus its own updates.
    public var sharedData: JSONObject { collected.withLock { $0.shared } }

    /// routilux `get_shared_data(key, default)`.
    public func sharedData(_ key: String, default defaultValue: JSONValue = .null) -> JSONValue {
        collected.withLock { $0.shared[key] } ?? defaultValue
    }

    /// routilux `update_shared_data(key, value)`; applied to the job, in order, when the handler succeeds.
    public func updateSharedData(_ key: String, _ value: JSONValue) {
        collected.withLock {
            $0.shared[key] = value
            $0.effects.sharedUpdates.append(.init(key: key, value: value))
        }
    }

    /// routilux `append_to_shared_log(entry)`; the coordinator adds a `timestamp` if the entry has none.
    public func appendToSharedLog(_ entry: JSONObject) {
        collected.withLock { $0.effects.sharedLog.append(entry) }
    }

    /// routilux `emit_deferred_event`: kept in the job's `deferred_events` and
    /// emitted, inside the job, when it is resumed.
    public func emitDeferred(_ event: String, _ data: JSONObject = [:]) throws {
        try checkEvent(event)
        collected.withLock { $0.effects.deferred.append(Emission(event: event, data: data)) }
    }

    /// The routine's state in this job (routines that `keepState()`): read it,
    /// change it; the change is kept only if the handler succeeds.
    public var state: JSONObject {
        get { collected.withLock { $0.state } }
        set { collected.withLock { $0.state = newValue } }
    }

    /// Runs `slot` of this routine, in this job, after `seconds` with `data`;
    /// a timer set again under the same `id` replaces the earlier one.
    public func setTimer(_ id: String, after seconds: Double, slot: String, data: JSONObject = [:]) {
        collected.withLock {
            $0.effects.cancelledTimers.removeAll { $0 == id }
            $0.effects.timers.removeAll { $0.id == id }
            $0.effects.timers.append(.init(id: id, after: max(0, seconds), slot: slot, data: data))
        }
    }

    /// Cancels the timer `id` (set earlier, by this or another activation).
    public func cancelTimer(_ id: String) {
        collected.withLock {
            $0.effects.timers.removeAll { $0.id == id }
            $0.effects.cancelledTimers.append(id)
        }
    }

    /// Pauses the job once this handler has returned (the "wait for a human"
    /// pattern); what the handler emitted is routed first and waits, queued.
    public func pauseJob(reason: String = "", checkpoint: JSONValue? = nil) {
        collected.withLock { $0.effects.pause = .init(reason: reason, checkpoint: checkpoint) }
    }

    /// Reads a config value, or `defaultValue` when absent.
    public func config(_ key: String, default defaultValue: JSONValue = .null) -> JSONValue {
        config[key] ?? defaultValue
    }

    /// What the handler emitted, in order (with a sink: none; see `takeRemainder`).
    public var emissions: [Emission] { collected.withLock { $0.emissions } }
    /// What the handler sent to the output log, in order (with a sink: none).
    public var outputs: [OutputRecord] { collected.withLock { $0.outputs } }
    /// Its other requests of the job.
    public var effects: HandlerEffects { collected.withLock { $0.effects } }
}

extension JSONObject {
    /// Decodes this object into a Codable type (typed payloads).
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(JSONValue.object(self).serialized()))
    }
}
