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
        let types = try f.strings("routine_types")
        guard types.count <= WireLimits.maxListLength else {
            throw WireError(messageType: "JOIN", reason: "header field 'routine_types' has too many entries (\(types.count); at most \(WireLimits.maxListLength))")
        }
        if let long = types.first(where: { $0.utf8.count > WireLimits.maxNameLength }) {
            throw WireError(messageType: "JOIN", reason: "header field 'routine_types' holds a name over \(WireLimits.maxNameLength) bytes ('\(long.prefix(40))...')")
        }
        self.init(
            workerId: try f.string("worker_id", maxLength: N), routineTypes: types,
            capacity: try f.int("capacity", in: 1...WireLimits.maxCredit), credit: try f.int("credit", in: 0...WireLimits.maxCredit),
            endpoint: try f.string("endpoint", maxLength: WireLimits.maxEndpointLength),
            heartbeatMs: try f.int("heartbeat_ms", in: 1...WireLimits.maxDurationMs), session: try f.string("session", maxLength: N),
            pid: try f.optionalInt("pid", in: 0...WireLimits.maxPid), host: try f.optionalString("host", maxLength: N),
            catalogue: try f.optionalBool("catalogue"), idSecret: try f.optionalString("id_secret", maxLength: N),
            maxMessageBytes: try f.optionalInt("max_message_bytes", in: 1...Int(Int32.max)))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("worker_id", workerId); w.put("routine_types", routineTypes); w.put("capacity", capacity)
        w.put("credit", credit); w.put("endpoint", endpoint); w.put("heartbeat_ms", heartbeatMs); w.put("session", session)
        w.put("pid", pid); w.put("host", host); w.put("catalogue", catalogue); w.put("id_secret", idSecret)
        w.put("max_message_bytes", maxMessageBytes)
    }
}

extension JoinedMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            workerId: try f.string("worker_id", maxLength: N), coordinatorId: try f.string("coordinator_id", maxLength: N),
            heartbeatMs: try f.int("heartbeat_ms", in: 1...WireLimits.maxDurationMs), session: try f.string("session", maxLength: N),
            token: try f.string("token", maxLength: N), maxMessageBytes: try f.optionalInt("max_message_bytes", in: 1...Int(Int32.max)),
            partWindow: try f.optionalInt("part_window", in: 1...WireLimits.maxPartWindow),
            maxCredit: try f.optionalInt("max_credit", in: 1...WireLimits.maxCredit))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("worker_id", workerId); w.put("coordinator_id", coordinatorId); w.put("heartbeat_ms", heartbeatMs)
        w.put("session", session); w.put("token", token); w.put("max_message_bytes", maxMessageBytes); w.put("part_window", partWindow)
        w.put("max_credit", maxCredit)
    }
}

extension RejectMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            workerId: try f.string("worker_id"), reason: try f.string("reason"), session: try f.optionalString("session", maxLength: N),
            retryMs: try f.optionalInt("retry_ms", in: 0...WireLimits.maxDurationMs))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("worker_id", workerId); w.put("reason", reason); w.put("session", session); w.put("retry_ms", retryMs)
    }
}

extension TaskMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            jobId: try f.string("job_id", maxLength: N), taskId: try f.taskId("task_id"), flowId: try f.string("flow_id"),
            routineId: try f.string("routine_id"), routineType: try f.string("routine_type"), slot: try f.string("slot"),
            attempt: try f.int("attempt", in: 1...WireLimits.maxAttempt), paramMapping: try f.optionalPairs("param_mapping"),
            merge: try f.optionalString("merge"), shared: try f.optionalBool("shared"), routineState: try f.optionalBool("routine_state"),
            token: try f.string("token", maxLength: N), timeoutMs: try f.optionalInt("timeout_ms", in: 1...WireLimits.maxDurationMs))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("job_id", jobId); w.put("task_id", taskId); w.put("flow_id", flowId)
        w.put("routine_id", routineId); w.put("routine_type", routineType); w.put("slot", slot); w.put("attempt", attempt)
        w.put("param_mapping", paramMapping); w.put("merge", merge); w.put("shared", shared); w.put("routine_state", routineState)
        w.put("token", token); w.put("timeout_ms", timeoutMs)
    }
}

extension ResultMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            workerId: try f.string("worker_id", maxLength: N), jobId: try f.string("job_id", maxLength: N), taskId: try f.taskId("task_id"),
            attempt: try f.int("attempt", in: 1...WireLimits.maxAttempt), outcome: try f.outcome("outcome"), error: try f.optionalString("error"),
            errorType: try f.optionalString("error_type"), emissions: try f.strings("emissions"), outputs: try f.strings("outputs"),
            handlerUs: try f.int("handler_us", in: 0...WireLimits.maxHandlerUs), credit: try f.int("credit", in: 0...WireLimits.maxCredit),
            slotState: try f.optionalBool("slot_state"), effects: try f.optionalBool("effects"), routineState: try f.optionalBool("routine_state"),
            token: try f.string("token", maxLength: N), parts: try f.optionalInt("parts", in: 0...WireLimits.maxParts))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("worker_id", workerId); w.put("job_id", jobId); w.put("task_id", taskId); w.put("attempt", attempt)
        w.put("outcome", outcome.rawValue); w.put("error", error); w.put("error_type", errorType); w.put("emissions", emissions)
        w.put("outputs", outputs); w.put("handler_us", handlerUs); w.put("credit", credit); w.put("slot_state", slotState); w.put("routine_state", routineState); w.put("effects", effects)
        w.put("token", token); w.put("parts", parts)
    }
}

extension PartMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        let emissions = try f.strings("emissions")
        let outputs = try f.strings("outputs")
        guard emissions.count + outputs.count <= WireLimits.maxPartEntries else {
            throw WireError(messageType: "PART", reason: "header fields 'emissions' and 'outputs' hold \(emissions.count + outputs.count) entries (at most \(WireLimits.maxPartEntries))")
        }
        self.init(
            workerId: try f.string("worker_id", maxLength: N), jobId: try f.string("job_id", maxLength: N), taskId: try f.taskId("task_id"),
            attempt: try f.int("attempt", in: 1...WireLimits.maxAttempt), seq: try f.int("seq", in: 0...WireLimits.maxParts - 1),
            emissions: emissions, outputs: outputs, token: try f.string("token", maxLength: N))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("worker_id", workerId); w.put("job_id", jobId); w.put("task_id", taskId); w.put("attempt", attempt)
        w.put("seq", seq); w.put("emissions", emissions); w.put("outputs", outputs); w.put("token", token)
    }
}

extension StagedMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            jobId: try f.string("job_id", maxLength: N), taskId: try f.taskId("task_id"), attempt: try f.int("attempt", in: 1...WireLimits.maxAttempt),
            seq: try f.int("seq", in: 0...WireLimits.maxParts - 1), stop: try f.optionalBool("stop"), token: try f.string("token", maxLength: N))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("job_id", jobId); w.put("task_id", taskId); w.put("attempt", attempt); w.put("seq", seq)
        if stop == true { w.put("stop", true) }
        w.put("token", token)
    }
}

extension CreditMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            workerId: try f.string("worker_id", maxLength: N), credit: try f.int("credit", in: 0...WireLimits.maxCredit),
            token: try f.string("token", maxLength: N), draining: try f.optionalBool("draining"))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("worker_id", workerId); w.put("credit", credit); w.put("token", token)
        if draining == true { w.put("draining", true) }
    }
}

extension HeartbeatMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            senderId: try f.string("sender_id", maxLength: N), token: try f.optionalString("token", maxLength: N),
            held: try f.optionalTaskIds("held", maxCount: WireLimits.maxListLength),
            received: try f.optionalInt("received", in: 0...Int(Int64.max >> 1)))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("sender_id", senderId); w.put("token", token); w.put("held", held); w.put("received", received)
    }
}

extension LeaveMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(workerId: try f.string("worker_id", maxLength: N), reason: try f.string("reason"), token: try f.string("token", maxLength: N))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) { w.put("v", v); w.put("worker_id", workerId); w.put("reason", reason); w.put("token", token) }
}

extension SubmitMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            requestId: try f.string("request_id", maxLength: N), replyTo: try f.string("reply_to", maxLength: WireLimits.maxEndpointLength),
            flowId: try f.optionalString("flow_id"), entryRoutine: try f.optionalString("entry_routine"), entrySlot: try f.optionalString("entry_slot"),
            maxWorkers: try f.optionalInt("max_workers", in: 1...WireLimits.maxCredit), wait: try f.bool("wait"),
            failFast: try f.optionalBool("fail_fast"))
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
        self.init(
            requestId: try f.string("request_id", maxLength: N), replyTo: try f.string("reply_to", maxLength: WireLimits.maxEndpointLength),
            jobId: try f.string("job_id", maxLength: N), wait: try f.bool("wait"),
            historyTail: try f.optionalInt("history_tail", in: 0...WireLimits.maxCredit),
            waitMs: try f.optionalInt("wait_ms", in: 1...86_400_000))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("request_id", requestId); w.put("reply_to", replyTo); w.put("job_id", jobId); w.put("wait", wait)
        w.put("history_tail", historyTail); w.put("wait_ms", waitMs)
    }
}

extension StatusMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(requestId: try f.string("request_id", maxLength: N), replyTo: try f.string("reply_to", maxLength: WireLimits.maxEndpointLength))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) { w.put("v", v); w.put("request_id", requestId); w.put("reply_to", replyTo) }
}

extension ControlMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            requestId: try f.string("request_id", maxLength: N), replyTo: try f.string("reply_to", maxLength: WireLimits.maxEndpointLength),
            jobId: try f.string("job_id", maxLength: N), op: try f.controlOperation("op"), reason: try f.optionalString("reason"),
            flowId: try f.optionalString("flow_id"))
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
            jobId: try f.optionalString("job_id"), status: try f.optionalString("status"), kind: try f.optionalString("kind"),
            instance: try f.optionalString("instance", maxLength: N))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("request_id", requestId); w.put("ok", ok); w.put("error", error); w.put("job_id", jobId)
        w.put("status", status); w.put("kind", kind); w.put("instance", instance)
    }
}

extension DescribeMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(requestId: try f.string("request_id", maxLength: N), routineType: try f.string("routine_type"), token: try f.string("token", maxLength: N))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("request_id", requestId); w.put("routine_type", routineType); w.put("token", token)
    }
}

extension DescribedMessage: HeaderCoding {
    init(_ f: HeaderFields) throws(WireError) {
        self.init(
            workerId: try f.string("worker_id", maxLength: N), requestId: try f.string("request_id", maxLength: N), ok: try f.bool("ok"),
            configError: try f.optionalString("config_error"), errorKey: try f.optionalString("error_key"),
            error: try f.optionalString("error"), token: try f.string("token", maxLength: N))
        v = try f.int("v")
    }
    func write(_ w: inout HeaderWriter) {
        w.put("v", v); w.put("worker_id", workerId); w.put("request_id", requestId); w.put("ok", ok)
        w.put("config_error", configError); w.put("error_key", errorKey); w.put("error", error); w.put("token", token)
    }
}

/// Ids, tokens and names: at most this many bytes.
private let N = WireLimits.maxNameLength
