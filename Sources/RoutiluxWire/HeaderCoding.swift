import RoutiluxCore

/// The wire form of each header: snake_case fields written and read by hand on
/// `JSONValue`. (Foundation's JSONEncoder/Decoder with key strategies cost
/// about 40% of all CPU on the task path; the Codable conformances stay for
/// users and produce the same JSON with `.convertToSnakeCase`, which the
/// golden tests check.)
protocol HeaderCoding {
    init(_ f: HeaderFields) throws(WireError)
    func write(_ w: inout HeaderWriter)
}

extension JoinMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            workerId: try f.string("worker_id"), routineTypes: try f.strings("routine_types"), capacity: try f.int("capacity"),
            credit: try f.int("credit"), endpoint: try f.string("endpoint"), heartbeatMs: try f.int("heartbeat_ms"),
            session: try f.string("session"), pid: try f.optionalInt("pid"), host: try f.optionalString("host"),
            catalogue: try f.optionalBool("catalogue"))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("worker_id", workerId); w.put("routine_types", routineTypes); w.put("capacity", capacity)
        w.put("credit", credit); w.put("endpoint", endpoint); w.put("heartbeat_ms", heartbeatMs); w.put("session", session)
        w.put("pid", pid); w.put("host", host); w.put("catalogue", catalogue)
    }
}

extension JoinedMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(workerId: try f.string("worker_id"), coordinatorId: try f.string("coordinator_id"), heartbeatMs: try f.int("heartbeat_ms"))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("worker_id", workerId); w.put("coordinator_id", coordinatorId); w.put("heartbeat_ms", heartbeatMs)
    }
}

extension RejectMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(workerId: try f.string("worker_id"), reason: try f.string("reason"))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) { w.put("v", v); w.put("worker_id", workerId); w.put("reason", reason) }
}

extension TaskMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            jobId: try f.string("job_id"), taskId: try f.uint64("task_id"), flowId: try f.string("flow_id"),
            routineId: try f.string("routine_id"), routineType: try f.string("routine_type"), slot: try f.string("slot"),
            attempt: try f.int("attempt"), paramMapping: try f.optionalPairs("param_mapping"), merge: try f.optionalString("merge"),
            shared: try f.optionalBool("shared"), routineState: try f.optionalBool("routine_state"))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("job_id", jobId); w.put("task_id", taskId); w.put("flow_id", flowId)
        w.put("routine_id", routineId); w.put("routine_type", routineType); w.put("slot", slot); w.put("attempt", attempt)
        w.put("param_mapping", paramMapping); w.put("merge", merge); w.put("shared", shared); w.put("routine_state", routineState)
    }
}

extension ResultMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            workerId: try f.string("worker_id"), jobId: try f.string("job_id"), taskId: try f.uint64("task_id"),
            attempt: try f.int("attempt"), outcome: try f.outcome("outcome"), error: try f.optionalString("error"),
            errorType: try f.optionalString("error_type"), emissions: try f.strings("emissions"), outputs: try f.strings("outputs"),
            handlerUs: try f.int("handler_us"), credit: try f.int("credit"), slotState: try f.optionalBool("slot_state"),
            effects: try f.optionalBool("effects"), routineState: try f.optionalBool("routine_state"))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("worker_id", workerId); w.put("job_id", jobId); w.put("task_id", taskId); w.put("attempt", attempt)
        w.put("outcome", outcome.rawValue); w.put("error", error); w.put("error_type", errorType); w.put("emissions", emissions)
        w.put("outputs", outputs); w.put("handler_us", handlerUs); w.put("credit", credit); w.put("slot_state", slotState); w.put("routine_state", routineState); w.put("effects", effects)
    }
}

extension CreditMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(workerId: try f.string("worker_id"), credit: try f.int("credit"))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) { w.put("v", v); w.put("worker_id", workerId); w.put("credit", credit) }
}

extension HeartbeatMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(senderId: try f.string("sender_id"))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) { w.put("v", v); w.put("sender_id", senderId) }
}

extension LeaveMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(workerId: try f.string("worker_id"), reason: try f.string("reason"))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) { w.put("v", v); w.put("worker_id", workerId); w.put("reason", reason) }
}

extension SubmitMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            requestId: try f.string("request_id"), replyTo: try f.string("reply_to"), flowId: try f.optionalString("flow_id"),
            entryRoutine: try f.optionalString("entry_routine"), entrySlot: try f.optionalString("entry_slot"),
            maxWorkers: try f.optionalInt("max_workers"), wait: try f.bool("wait"), failFast: try f.optionalBool("fail_fast"))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("request_id", requestId); w.put("reply_to", replyTo); w.put("flow_id", flowId)
        w.put("entry_routine", entryRoutine); w.put("entry_slot", entrySlot); w.put("max_workers", maxWorkers); w.put("wait", wait)
        w.put("fail_fast", failFast)
    }
}

extension QueryMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(requestId: try f.string("request_id"), replyTo: try f.string("reply_to"), jobId: try f.string("job_id"), wait: try f.bool("wait"))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("request_id", requestId); w.put("reply_to", replyTo); w.put("job_id", jobId); w.put("wait", wait)
    }
}

extension ControlMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            requestId: try f.string("request_id"), replyTo: try f.string("reply_to"), jobId: try f.string("job_id"),
            op: try f.controlOperation("op"), reason: try f.optionalString("reason"), flowId: try f.optionalString("flow_id"))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("request_id", requestId); w.put("reply_to", replyTo); w.put("job_id", jobId)
        w.put("op", op.rawValue); w.put("reason", reason); w.put("flow_id", flowId)
    }
}

extension ReplyMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            requestId: try f.string("request_id"), ok: try f.bool("ok"), error: try f.optionalString("error"),
            jobId: try f.optionalString("job_id"), status: try f.optionalString("status"))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("request_id", requestId); w.put("ok", ok); w.put("error", error); w.put("job_id", jobId)
        w.put("status", status)
    }
}

extension DescribeMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(requestId: try f.string("request_id"), routineType: try f.string("routine_type"))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) { w.put("v", v); w.put("request_id", requestId); w.put("routine_type", routineType) }
}

extension DescribedMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            workerId: try f.string("worker_id"), requestId: try f.string("request_id"), ok: try f.bool("ok"),
            configError: try f.optionalString("config_error"), errorKey: try f.optionalString("error_key"),
            error: try f.optionalString("error"))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("worker_id", workerId); w.put("request_id", requestId); w.put("ok", ok)
        w.put("config_error", configError); w.put("error_key", errorKey); w.put("error", error)
    }
}
