import Foundation
import Hummingbird
import Logging
import NIOCore
import RoutiluxCoordinator
import ServiceLifecycle

/// Runs the HTTP API on `host:port` until `until` returns, then shuts it down gracefully
/// (requests in progress finish); `onListening` gets the bound address (`port` 0 picks a free
/// one). Idle connections close after 60 s, request heads are bounded, bodies by
/// `CoordinatorAPI.maxBodyBytes`.
public enum HTTPServer {
    public static func run(
        _ api: CoordinatorAPI, host: String, port: Int, logger: Logger, onListening: @escaping @Sendable (String) -> Void,
        until: @escaping @Sendable () async -> Void
    ) async throws {
        let app = Application(
            router: api.router(),
            server: .http1(configuration: .init(idleTimeout: .seconds(60))),
            configuration: .init(address: .hostname(host, port: port), serverName: "routilux"),
            onServerRunning: { channel in
                let bound = channel.localAddress
                let actualPort = bound?.port ?? port
                onListening("http://\(host.contains(":") ? "[\(host)]" : host):\(actualPort)")
            },
            logger: logger)
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            tasks.addTask {
                await until()
                await group.triggerGracefulShutdown()
            }
            try await tasks.waitForAll()
        }
    }

    /// `HOST:PORT` (`[::1]:PORT` for IPv6) split; the error names the flag.
    public static func parseAddress(_ text: String) throws -> (host: String, port: Int) {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw HTTPAddressError("--http \(text): expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw HTTPAddressError("--http \(text): expected HOST:PORT, e.g. 127.0.0.1:8080") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
            throw HTTPAddressError("--http \(text): expected HOST:PORT with a port from 0 to 65535")
        }
        return (String(host), port)
    }

    /// Whether `host` is a loopback address (plaintext HTTP is allowed there only, unless --insecure).
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

public struct HTTPAddressError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ d: String) { description = d }
}
