import OrderedCollections
/// A job's lifecycle status (routilux §3.2).
public enum JobStatus: String, Sendable, Hashable, CaseIterable {
    case pending, running, paused, completed, failed, cancelled

    /// Completed, failed and cancelled are final.
    public var isTerminal: Bool { self == .completed || self == .failed || self == .cancelled }

    /// The transitions a job may make: pending → running → completed | failed |
    /// cancelled, running ⇄ paused, paused → failed | cancelled (a timeout or a
    /// cancel while paused). Nothing leaves a terminal status.
    public func canBecome(_ next: JobStatus) -> Bool {
        switch (self, next) {
        case (.pending, .running), (.pending, .cancelled), (.pending, .failed): return true
        case (.running, .paused), (.running, .completed), (.running, .failed), (.running, .cancelled): return true
        case (.paused, .running), (.paused, .failed), (.paused, .cancelled): return true
        default: return false
        }
    }
}

/// A status change the job's state machine does not allow.
public struct JobStatusError: Error, CustomStringConvertible, Sendable, Equatable {
    public var jobId: String
    public var from: JobStatus
    public var to: JobStatus
    public var description: String {
        switch to {
        case .paused: return "job \(jobId) is \(from.rawValue): only a running job can be paused"
        case .running where from != .pending: return "job \(jobId) is \(from.rawValue): only a paused job can be resumed"
        case .cancelled: return "job \(jobId) is already \(from.rawValue)"
        default: return "job \(jobId) cannot go from \(from.rawValue) to \(to.rawValue)"
        }
    }
}

/// One history record (routilux `ExecutionRecord`).
public struct ExecutionRecord: Sendable, Hashable {
    public var routineId: String
    public var eventName: String
    /// The record's data, kept as JSON bytes until someone reads it.
    public var data: RawJSON
    public var timestamp: Timestamp

    public init(routineId: String, eventName: String, data: RawJSON, timestamp: Timestamp) {
        self.routineId = routineId
        self.eventName = eventName
        self.data = data
        self.timestamp = timestamp
    }

    public init(routineId: String, eventName: String, data: JSONValue, timestamp: Timestamp) {
        self.init(routineId: routineId, eventName: eventName, data: RawJSON(data), timestamp: timestamp)
    }

    public var json: JSONValue {
        [
            "_type": "ExecutionRecord", "routine_id": .string(routineId), "event_name": .string(eventName),
            "data": data.valueOrError, "timestamp": .string(timestamp.iso),
        ]
    }
}

/// One record of a job's output log: its data as JSON bytes, its time as a number (both
/// formatted only when the JobState is exported).
public struct OutputEntry: Sendable, Hashable {
    public var routineId: String
    public var outputType: String
    public var data: RawJSON
    public var timestamp: Timestamp

    public init(routineId: String, outputType: String, data: RawJSON, timestamp: Timestamp) {
        self.routineId = routineId
        self.outputType = outputType
        self.data = data
        self.timestamp = timestamp
    }

    /// From routilux's shape (a record of an exported or journalled JobState).
    public init(json: JSONValue) {
        routineId = json["routine_id"].stringValue ?? ""
        outputType = json["output_type"].stringValue ?? ""
        data = RawJSON(json["data"])
        timestamp = json["timestamp"].stringValue.flatMap { Timestamp(iso: $0) } ?? Timestamp(seconds: json["timestamp"].doubleValue ?? 0)
    }

    /// Routilux's shape.
    public var json: JSONValue {
        ["routine_id": .string(routineId), "output_type": .string(outputType), "data": data.valueOrError, "timestamp": .string(timestamp.iso)]
    }
}

/// The state of one job: status, per-routine states, history, shared data
/// and outputs. Field names and the JSON shape are routilux 0.10's (§3.1).
public struct JobState: Sendable, Hashable {
    public var flowId: String
    public var jobId: String
    public var status: JobStatus
    public var currentRoutineId: String?
    public var routineStates: JSONObject
    public var executionHistory: [ExecutionRecord]
    public var pendingTasks: [JSONValue]
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    public var pausePoints: [JSONValue]
    public var deferredEvents: [JSONValue]
    public var sharedData: JSONObject
    public var sharedLog: [JSONValue]
    /// The output log (routilux `send_output`), kept compactly: each record's data as its JSON bytes.
    public var outputs: [OutputEntry]
    /// The output log in routilux's shape (`routine_id`, `output_type`, `data`, `timestamp`), built on demand.
    public var outputLog: [JSONValue] {
        get { outputs.map(\.json) }
        set { outputs = newValue.map(OutputEntry.init(json:)) }
    }
    /// Merge state of stateful slots (append, custom), by `routine.slot`. An
    /// addition to routilux's fields (which kept it on the routine, shared by
    /// all jobs); written as `slot_states` only when not empty.
    public var slotStates: JSONObject
    /// State of stateful routines (`keepState()`), by routine id; written as
    /// `routine_data` only when not empty (an addition, like `slot_states`).
    public var routineData: JSONObject
    /// Per-routine performance and the flow summary (routilux's ExecutionTracker
    /// figures, for every routine); written as `execution_tracker` when present.
    public var executionTracker: JSONValue?
    /// Why a pending job has not started (e.g. "waiting for a worker hosting Greeter"); not in routilux.
    public var waitingFor: String?

    public init(flowId: String, jobId: String, now: Timestamp = .now()) {
        self.flowId = flowId
        self.jobId = jobId
        status = .pending
        currentRoutineId = nil
        routineStates = [:]
        executionHistory = []
        pendingTasks = []
        createdAt = now
        updatedAt = now
        pausePoints = []
        deferredEvents = []
        sharedData = [:]
        sharedLog = []
        outputs = []
        slotStates = [:]
        routineData = [:]
    }

    /// Moves to `next` if the state machine allows it; otherwise throws and changes nothing.
    public mutating func transition(to next: JobStatus, at now: Timestamp) throws(JobStatusError) {
        guard status.canBecome(next) else { throw JobStatusError(jobId: jobId, from: status, to: next) }
        status = next
        updatedAt = now
    }

    /// Appends a history record.
    public mutating func record(_ routineId: String, _ event: String, _ data: RawJSON, at now: Timestamp) {
        executionHistory.append(ExecutionRecord(routineId: routineId, eventName: event, data: data, timestamp: now))
        updatedAt = now
    }

    /// Replaces a routine's state (routilux replaces, it does not merge).
    public mutating func setRoutineState(_ routineId: String, _ state: JSONObject, at now: Timestamp) {
        routineStates[routineId] = .object(state)
        updatedAt = now
    }

    /// Appends to the output log (routilux `send_output`).
    public mutating func sendOutput(routineId: String, outputType: String, data: JSONValue, at now: Timestamp) {
        sendOutput(routineId: routineId, outputType: outputType, raw: RawJSON(data), at: now)
    }

    /// Appends to the output log data kept as the bytes it came in (a worker's, checked on the way in).
    public mutating func sendOutput(routineId: String, outputType: String, raw: RawJSON, at now: Timestamp) {
        outputs.append(OutputEntry(routineId: routineId, outputType: outputType, data: raw, timestamp: now))
        updatedAt = now
    }

    /// History, optionally for one routine, in timestamp order (stable).
    public func history(routineId: String? = nil) -> [ExecutionRecord] {
        let rs = routineId.map { id in executionHistory.filter { $0.routineId == id } } ?? executionHistory
        return rs.enumerated().sorted { a, b in
            a.element.timestamp == b.element.timestamp ? a.offset < b.offset : a.element.timestamp < b.element.timestamp
        }.map(\.element)
    }

    /// The serialized JobState, as routilux's `serialize()` writes it.
    public var json: JSONValue {
        var o: JSONObject = [
            "_type": "JobState",
            "flow_id": .string(flowId),
            "job_id": .string(jobId),
            "status": .string(status.rawValue),
            "current_routine_id": currentRoutineId.map { .string($0) } ?? .null,
            "routine_states": .object(routineStates),
            "execution_history": .array(executionHistory.map(\.json)),
            "created_at": .string(createdAt.iso),
            "updated_at": .string(updatedAt.iso),
            "pause_points": .array(pausePoints),
            "pending_tasks": .array(pendingTasks),
            "deferred_events": .array(deferredEvents),
            "shared_data": .object(sharedData),
            "shared_log": .array(sharedLog),
            "output_log": .array(outputLog),
        ]
        if !slotStates.isEmpty { o["slot_states"] = .object(slotStates) }
        if !routineData.isEmpty { o["routine_data"] = .object(routineData) }
        if let t = executionTracker { o["execution_tracker"] = t }
        if let w = waitingFor { o["waiting_for"] = .string(w) }
        return .object(o)
    }

    /// Reads a serialized JobState (ours or one written by routilux 0.10).
    public init(json: JSONValue) throws(RoutineError) {
        guard let o = json.objectValue, o["_type"]?.stringValue == "JobState" else {
            throw RoutineError("Invalid JobState file format: expected an object with \"_type\": \"JobState\"")
        }
        guard let flowId = o["flow_id"]?.stringValue else { throw RoutineError("JobState.flow_id is missing") }
        let now = Timestamp.now()
        self.init(flowId: flowId, jobId: o["job_id"]?.stringValue ?? "", now: now)
        let statusText = o["status"]?.stringValue ?? "pending"
        guard let st = JobStatus(rawValue: statusText) else {
            throw RoutineError("JobState.status: unknown status '\(statusText)'")
        }
        status = st
        currentRoutineId = o["current_routine_id"]?.stringValue
        routineStates = o["routine_states"]?.objectValue ?? [:]
        for (i, r) in (o["execution_history"]?.arrayValue ?? []).enumerated() {
            guard let ro = r.objectValue, let rid = ro["routine_id"]?.stringValue,
                let ev = ro["event_name"]?.stringValue
            else { throw RoutineError("JobState.execution_history[\(i)]: needs routine_id and event_name") }
            let ts = ro["timestamp"]?.stringValue.flatMap { Timestamp(iso: $0) } ?? now
            executionHistory.append(ExecutionRecord(routineId: rid, eventName: ev, data: ro["data"] ?? .null, timestamp: ts))
        }
        pendingTasks = o["pending_tasks"]?.arrayValue ?? []
        createdAt = o["created_at"]?.stringValue.flatMap { Timestamp(iso: $0) } ?? now
        updatedAt = o["updated_at"]?.stringValue.flatMap { Timestamp(iso: $0) } ?? now
        pausePoints = o["pause_points"]?.arrayValue ?? []
        deferredEvents = o["deferred_events"]?.arrayValue ?? []
        sharedData = o["shared_data"]?.objectValue ?? [:]
        sharedLog = o["shared_log"]?.arrayValue ?? []
        outputLog = o["output_log"]?.arrayValue ?? []
        slotStates = o["slot_states"]?.objectValue ?? [:]
        routineData = o["routine_data"]?.objectValue ?? [:]
        executionTracker = o["execution_tracker"]?.nonNull
        waitingFor = o["waiting_for"]?.stringValue
    }
}
