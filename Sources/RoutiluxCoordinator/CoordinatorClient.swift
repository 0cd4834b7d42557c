import Foundation
import RoutiluxCore
import RoutiluxTransport
import RoutiluxWire
import Synchronization

/// Talks to a running coordinator over its inbox (the `routilux job` verbs):
/// binds a private reply inbox, sends a request, waits for the REPLY.
public final class CoordinatorClient: Sendable {
    public struct ClientError: Error, CustomStringConvertible {
        public var description: String
    }

    /// A request that is never sent: over the message size limit (bad input).
    public struct OversizeRequest: Error, CustomStringConvertible {
        public var description: String
    }

    let transport: Transport
    let coordinator: String
    let keys: CurvePeerKeys?
    private let ipcInbox = Mutex<String?>(nil)

    /// With `keys`, both links are CURVE: the request proves this client's key,
    /// and the reply inbox takes a message only from the coordinator's.
    public init(coordinator: String, keys: CurvePeerKeys? = nil, limits: TransportLimits = .standard) {
        self.coordinator = coordinator
        self.keys = keys
        transport = Transport(name: "client", limits: limits)
        transport.connect(peer: "coordinator", endpoint: coordinator, options: SocketOptions.lingering.with(keys?.setting))
    }

    /// Sends `make(replyTo, requestId)` and waits up to `timeout` seconds for the
    /// REPLY; a reply's body is a JobState unless its kind says otherwise.
    public func request(timeout: Double, _ make: (String, String) -> WireMessage) async throws -> (ReplyMessage, JobState?) {
        let (r, body) = try await requestRaw(timeout: timeout, make)
        var state: JobState?
        if let body, r.kind == nil { state = try JobState(json: try body.value()) }
        return (r, state)
    }

    /// Sends a request and returns the REPLY with its body as sent.
    public func requestRaw(timeout: Double, _ make: (String, String) -> WireMessage) async throws -> (ReplyMessage, RawJSON?) {
        let inbox = advertisable(try await transport.bindInbox(replyInboxEndpoint(), options: SocketOptions.standard.with(keys?.setting)))
        let requestId = UUID().uuidString.lowercased()
        let codec = WireCodec()
        let message = make(inbox, requestId)
        let frames = codec.encode(message)
        let bytes = frames.reduce(0) { $0 + $1.count }
        guard bytes <= transport.limits.maxMessageBytes else {
            throw OversizeRequest(description: "the \(message.type.rawValue) is \(bytes) bytes, over the \(transport.limits.maxMessageBytes)-byte message limit (--max-message-bytes; the coordinator's must allow it too); not sent")
        }
        transport.send(to: "coordinator", frames: frames)
        let deadline = Date().addingTimeInterval(timeout)
        let stream = transport.inbound
        let timer = Task { [transport] in
            // Cancelled (an answer came): leave the transport to its owner.
            do { try await Task.sleep(for: .seconds(max(0, deadline.timeIntervalSinceNow))) } catch { return }
            await transport.shutdown()
        }
        defer { timer.cancel() }
        for await batch in stream {
            for m in batch {
                if let bytes = m.oversizeBytes {
                    // Our answer, too big to take: say so rather than read a reply without its body.
                    guard codec.peek(m.frames).header?["request_id"].stringValue == requestId else { continue }
                    throw OversizeRequest(description: "the coordinator's answer is \(bytes) bytes, over this client's \(transport.limits.maxMessageBytes)-byte message limit: give --max-message-bytes \(bytes) or more (or ask for less: job status --history-tail N)")
                }
                guard case .reply(let r, let js) = try? codec.decode(m.frames), r.requestId == requestId else { continue }
                return (r, js)
            }
        }
        throw ClientError(description: "no reply from the coordinator at \(coordinator) within \(timeout < 10 ? String(format: "%.1f", timeout) : String(Int(timeout))) s")
    }

    /// One request on a fresh client: sends it, waits up to `timeout` seconds for the REPLY, closes.
    public static func once(
        _ coordinator: String, keys: CurvePeerKeys? = nil, limits: TransportLimits = .standard, timeout: Double,
        _ make: (String, String) -> WireMessage
    ) async throws -> (ReplyMessage, JobState?) {
        let client = CoordinatorClient(coordinator: coordinator, keys: keys, limits: limits)
        do {
            let answer = try await client.request(timeout: timeout, make)
            await client.close()
            return answer
        } catch {
            await client.close()
            throw error
        }
    }

    public func close() async {
        await transport.shutdown()
        // An ipc reply inbox leaves a socket file behind.
        if let path = ipcInbox.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }

    private func replyInboxEndpoint() -> String {
        if coordinator.hasPrefix("ipc://") {
            let path = "\(NSTemporaryDirectory())routilux-client-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
            ipcInbox.withLock { $0 = path }
            return "ipc://" + path
        }
        // Reply over TCP: loopback for a local coordinator, else all interfaces.
        return isLoopback(coordinator) ? "tcp://127.0.0.1:*" : "tcp://0.0.0.0:*"
    }
}

