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

    let transport = Transport(name: "client")
    let coordinator: String
    private let ipcInbox = Mutex<String?>(nil)

    public init(coordinator: String) {
        self.coordinator = coordinator
        transport.connect(peer: "coordinator", endpoint: coordinator, options: .lingering)
    }

    /// Sends `make(replyTo, requestId)` and waits up to `timeout` seconds for the REPLY.
    public func request(timeout: Double, _ make: (String, String) -> WireMessage) async throws -> (ReplyMessage, JobState?) {
        let inbox = advertisable(try await transport.bindInbox(replyInboxEndpoint()))
        let requestId = UUID().uuidString.lowercased()
        let codec = WireCodec()
        transport.send(to: "coordinator", frames: codec.encode(make(inbox, requestId)))
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
                guard case .reply(let r, let js) = try? codec.decode(m.frames), r.requestId == requestId else { continue }
                var state: JobState?
                if let js { state = try JobState(json: try js.value()) }
                return (r, state)
            }
        }
        throw ClientError(description: "no reply from the coordinator at \(coordinator) within \(timeout < 10 ? String(format: "%.1f", timeout) : String(Int(timeout))) s")
    }

    /// One request on a fresh client: sends it, waits up to `timeout` seconds for the REPLY, closes.
    public static func once(
        _ coordinator: String, timeout: Double, _ make: (String, String) -> WireMessage
    ) async throws -> (ReplyMessage, JobState?) {
        let client = CoordinatorClient(coordinator: coordinator)
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

