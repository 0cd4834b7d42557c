import RoutiluxCore

/// Why a message was refused; says which message type and what is wrong.
public struct WireError: Error, CustomStringConvertible, Sendable {
    public var messageType: String?
    public var reason: String
    public init(messageType: String?, reason: String) {
        self.messageType = messageType
        self.reason = reason
    }
    public var description: String {
        (messageType.map { "\($0): " } ?? "") + reason
    }
}

/// Encodes and decodes messages to and from ZeroMQ frames.
///
/// Frame 0 is the tag `RTX<version> <TYPE>`; frame 1 the JSON header (snake_case
/// fields, with `v`); frames 2+ are bodies: user JSON, never mixed with control fields.
/// Stateless; one per thread or loop is customary.
public final class WireCodec: Sendable {
    public init() {}

    static func tag(_ t: MessageType) -> [UInt8] { Array("RTX\(protocolVersion) \(t.rawValue)".utf8) }

    public func encode(_ message: WireMessage) -> [[UInt8]] {
        var frames: [[UInt8]] = [Self.tag(message.type)]
        func header(_ h: some HeaderCoding) {
            var w = HeaderWriter()
            h.write(&w)
            frames.append(w.finished())
        }
        switch message {
        case .join(let h, let catalogue):
            header(h)
            if let catalogue { frames.append(catalogue.bytes) }
        case .joined(let h): header(h)
        case .reject(let h): header(h)
        case .task(let h, let payload, let config, let state, let routineState, let shared):
            header(h)
            frames.append(payload.bytes)
            frames.append(config.bytes)
            if let state { frames.append(state.bytes) }
            if let routineState { frames.append(routineState.bytes) }
            if let shared { frames.append(shared.bytes) }
        case .result(let h, let bodies):
            header(h)
            for b in bodies { frames.append(b.bytes) }
        case .credit(let h): header(h)
        case .heartbeat(let h): header(h)
        case .leave(let h): header(h)
        case .submit(let h, let params, let flow):
            header(h)
            frames.append(params.bytes)
            if let flow { frames.append(flow.bytes) }
        case .query(let h): header(h)
        case .control(let h, let bodies):
            header(h)
            for b in bodies { frames.append(b.bytes) }
        case .reply(let h, let js):
            header(h)
            if let js { frames.append(js.bytes) }
        case .describe(let h, let config):
            header(h)
            frames.append(config.bytes)
        case .described(let h, let ports):
            header(h)
            if let ports { frames.append(ports.bytes) }
        case .status(let h): header(h)
        case .part(let h, let bodies):
            header(h)
            for b in bodies { frames.append(b.bytes) }
        case .staged(let h): header(h)
        }
        return frames
    }

    /// What can be read of a message too big to decode (the transport kept its tag and,
    /// when small, its header): its type, if the tag is ours, and its header, if it parses.
    public func peek(_ frames: [[UInt8]]) -> (type: MessageType?, header: JSONValue?) {
        let tag = frames.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let parts = tag.split(separator: " ")
        let type = parts.count == 2 && parts[0] == "RTX\(protocolVersion)" ? MessageType(rawValue: String(parts[1])) : nil
        let header = frames.count >= 2 ? try? JSONValue.parse(frames[1]) : nil
        return (type, header)
    }

    /// Decodes frames; any problem is a `WireError` naming the type and the fault.
    public func decode(_ frames: [[UInt8]]) throws(WireError) -> WireMessage {
        guard let first = frames.first else { throw WireError(messageType: nil, reason: "empty message") }
        let tag = String(decoding: first, as: UTF8.self)
        let parts = tag.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].hasPrefix("RTX") else {
            throw WireError(messageType: nil, reason: "frame 0 is not a routilux tag (got \(tag.prefix(40).debugDescription))")
        }
        guard parts[0] == "RTX\(protocolVersion)" else {
            throw WireError(messageType: String(parts[1]), reason: "unsupported protocol version '\(parts[0])' (this build speaks RTX\(protocolVersion))")
        }
        if parts[1] == "BATCH" {
            throw WireError(messageType: "BATCH", reason: "a batch holds messages: unpack it (BatchFraming.unpack), then decode each")
        }
        guard let type = MessageType(rawValue: String(parts[1])) else {
            throw WireError(messageType: String(parts[1]), reason: "unknown message type")
        }
        guard frames.count >= 2 else { throw WireError(messageType: type.rawValue, reason: "missing header frame") }
        let body = Array(frames.dropFirst(2)).map { RawJSON(bytes: $0) }
        func header<T: VersionedHeader & HeaderCoding>(_: T.Type) throws(WireError) -> T {
            let fields: [(key: String, value: JSONValue)]?
            do { fields = try JSONValue.parseFields(frames[1]) } catch {
                throw WireError(messageType: type.rawValue, reason: "header is not valid JSON (\(error))")
            }
            guard let fields else {
                // Valid JSON, not an object: say what it is.
                let value = (try? JSONValue.parse(frames[1])) ?? .null
                throw WireError(messageType: type.rawValue, reason: "header has the wrong type: expected a JSON object, got \(value.typeName)")
            }
            let h = try T(HeaderFields(fields: fields, type: type))
            guard h.v == protocolVersion else {
                throw WireError(messageType: type.rawValue, reason: "header says protocol version \(h.v), the tag says \(protocolVersion)")
            }
            return h
        }
        func bodies(_ n: ClosedRange<Int>) throws(WireError) {
            guard n.contains(body.count) else {
                throw WireError(messageType: type.rawValue, reason: "expected \(n.lowerBound == n.upperBound ? "\(n.lowerBound)" : "\(n.lowerBound)-\(n.upperBound)") body frames, got \(body.count)")
            }
        }
        let message: WireMessage
        switch type {
        case .join:
            let h = try header(JoinMessage.self)
            let n = h.catalogue == true ? 1 : 0
            try bodies(n...n)
            message = .join(h, catalogue: body.first)
        case .joined:
            try bodies(0...0)
            message = .joined(try header(JoinedMessage.self))
        case .reject:
            try bodies(0...0)
            message = .reject(try header(RejectMessage.self))
        case .task:
            let h = try header(TaskMessage.self)
            let hasState = h.merge != nil
            let hasRoutineState = h.routineState == true
            let hasShared = h.shared == true
            let n = 2 + (hasState ? 1 : 0) + (hasRoutineState ? 1 : 0) + (hasShared ? 1 : 0)
            try bodies(n...n)
            message = .task(
                h, payload: body[0], config: body[1], slotState: hasState ? body[2] : nil,
                routineState: hasRoutineState ? body[2 + (hasState ? 1 : 0)] : nil, shared: hasShared ? body[n - 1] : nil)
        case .result:
            let h = try header(ResultMessage.self)
            let n = h.emissions.count + h.outputs.count + (h.slotState == true ? 1 : 0) + (h.routineState == true ? 1 : 0)
                + (h.effects == true ? 1 : 0)
            try bodies(n...n)
            message = .result(h, bodies: body)
        case .credit:
            try bodies(0...0)
            message = .credit(try header(CreditMessage.self))
        case .heartbeat:
            try bodies(0...0)
            message = .heartbeat(try header(HeartbeatMessage.self))
        case .leave:
            try bodies(0...0)
            message = .leave(try header(LeaveMessage.self))
        case .submit:
            try bodies(1...2)
            message = .submit(try header(SubmitMessage.self), params: body[0], flow: body.count > 1 ? body[1] : nil)
        case .query:
            try bodies(0...0)
            message = .query(try header(QueryMessage.self))
        case .control:
            let h = try header(ControlMessage.self)
            switch h.op {
            case .pause: try bodies(0...1)
            case .resume, .cancel: try bodies(0...0)
            case .resumeFrom: try bodies(1...2)
            }
            message = .control(h, bodies: body)
        case .reply:
            try bodies(0...1)
            message = .reply(try header(ReplyMessage.self), jobState: body.first)
        case .describe:
            try bodies(1...1)
            message = .describe(try header(DescribeMessage.self), config: body[0])
        case .described:
            let h = try header(DescribedMessage.self)
            let n = h.ok ? 1 : 0
            try bodies(n...n)
            message = .described(h, ports: body.first)
        case .status:
            try bodies(0...0)
            message = .status(try header(StatusMessage.self))
        case .part:
            let h = try header(PartMessage.self)
            let n = h.emissions.count + h.outputs.count
            try bodies(n...n)
            message = .part(h, bodies: body)
        case .staged:
            try bodies(0...0)
            message = .staged(try header(StagedMessage.self))
        }
        return message
    }
}
