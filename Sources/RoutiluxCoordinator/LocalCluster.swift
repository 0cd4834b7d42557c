import Foundation
import Logging
import RoutiluxCore
import RoutiluxTransport
import Synchronization

/// An in-process coordinator plus N local worker processes, for `routilux run`
/// and the benchmark. Workers are real `routilux-worker` processes on ipc://
/// (a private temp dir) or loopback TCP.
public final class LocalCluster: Sendable {
    public enum Link: Sendable { case ipc, tcp }

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    public let service: CoordinatorService
    public let directory: URL
    private let workerExecutable: String
    private let workerCount: Int
    private let concurrency: Int
    private let link: Link
    private let processes = Mutex<[Process]>([])
    private let runTask = Mutex<Task<Void, Never>?>(nil)

    public init(
        workerExecutable: String, workers: Int, concurrency: Int = 1, link: Link = .ipc,
        catalogue: RoutineCatalogue, flows: [FlowDefinition], logger: Logger = Logger(label: "routilux.coordinator")
    ) {
        self.workerExecutable = workerExecutable
        self.workerCount = workers
        self.concurrency = concurrency
        self.link = link
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("routilux-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        service = CoordinatorService(logger: logger) {
            let core = CoordinatorCore(config: CoordinatorConfig(coordinatorId: "local-\(getpid())"), catalogue: catalogue)
            for f in flows { core.addFlow(f) }
            return core
        }
    }

    /// Binds, starts the workers and waits (bounded) until all have joined.
    public func start(timeout: Double = 30) async throws -> String {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let endpoint = try await service.bind(link == .ipc ? "ipc://\(directory.path)/coordinator.sock" : "tcp://127.0.0.1:*")
        let service = self.service
        runTask.withLock { $0 = Task { await service.run() } }
        for i in 0..<workerCount {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: workerExecutable)
            // Local workers run the user's own flow: Exec is allowed here.
            var args = ["join", endpoint, "--concurrency", "\(concurrency)", "--id", "local-\(getpid())-w\(i)", "--allow-exec"]
            if link == .ipc { args += ["--bind", "ipc://\(directory.path)/worker-\(i).sock"] }
            p.arguments = args
            let log = directory.appendingPathComponent("worker-\(i).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            p.standardOutput = handle
            p.standardError = handle
            p.standardInput = FileHandle.nullDevice
            var env = ProcessInfo.processInfo.environment
            env["ROUTILUX_LOG_LEVEL"] = env["ROUTILUX_LOG_LEVEL"] ?? "warning"
            p.environment = env
            do { try p.run() } catch {
                throw StartError(description: "cannot start worker \(workerExecutable): \(error)")
            }
            processes.withLock { $0.append(p) }
        }
        let deadline = Date().addingTimeInterval(timeout)
        while service.workerCount < workerCount {
            if let dead = processes.withLock({ $0.firstIndex { !$0.isRunning } }) {
                let log = (try? String(contentsOf: directory.appendingPathComponent("worker-\(dead).log"), encoding: .utf8)) ?? ""
                throw StartError(description: "worker \(dead) exited before joining:\n\(log.suffix(2000))")
            }
            if Date() > deadline {
                throw StartError(description: "only \(service.workerCount) of \(workerCount) workers joined within \(Int(timeout)) s (logs in \(directory.path))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return endpoint
    }

    /// Stops the workers (SIGTERM, then SIGKILL after `grace` seconds) and the coordinator; removes the temp dir.
    public func stop(grace: Double = 5) async {
        let ps = processes.withLock { $0 }
        for p in ps where p.isRunning { p.terminate() }
        let deadline = Date().addingTimeInterval(grace)
        for p in ps {
            while p.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        service.stop()
        await runTask.withLock { $0 }?.value
        try? FileManager.default.removeItem(at: directory)
    }

    /// Returns (with a description) when a worker process exits while the
    /// cluster runs; never returns while they all live. Cancel it when done.
    public func firstWorkerExit() async -> String? {
        while !Task.isCancelled {
            if let i = processes.withLock({ $0.firstIndex { !$0.isRunning } }) {
                let p = processes.withLock { $0[i] }
                let log = (try? String(contentsOf: directory.appendingPathComponent("worker-\(i).log"), encoding: .utf8)) ?? ""
                return "worker process \(i) (pid \(p.processIdentifier)) exited with \(p.terminationStatus)"
                    + (p.terminationReason == .uncaughtSignal ? " (signal)" : "") + (log.isEmpty ? "" : ":\n" + log.suffix(2000))
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    /// The tail of every worker's log (for error reports).
    public func workerLogs() -> String {
        (0..<workerCount).map { i in
            let s = (try? String(contentsOf: directory.appendingPathComponent("worker-\(i).log"), encoding: .utf8)) ?? ""
            return "worker \(i):\n" + s.suffix(1500)
        }.joined(separator: "\n")
    }
}
