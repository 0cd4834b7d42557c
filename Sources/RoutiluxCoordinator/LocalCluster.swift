import Foundation
import Logging
import RoutiluxCore
import RoutiluxStore
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
    /// With CURVE: the worker's options (its secret key file and the coordinator's public one).
    private let workerKeyArguments: [String]
    private let processes = Mutex<[LocalWorkerProcess]>([])
    private let runTask = Mutex<Task<Void, Never>?>(nil)

    /// `curve`: every link CURVE, with keys made in the cluster's temp directory
    /// (the benchmark measures what it costs).
    public init(
        workerExecutable: String, workers: Int, concurrency: Int = 1, link: Link = .ipc,
        catalogue: RoutineCatalogue, flows: [FlowDefinition], logger: Logger = Logger(label: "routilux.coordinator"),
        curve: Bool = false, store: (JobStore, StoredState)? = nil
    ) throws(CurveKeyError) {
        self.workerExecutable = workerExecutable
        self.workerCount = workers
        self.concurrency = concurrency
        self.link = link
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("routilux-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        self.directory = directory
        var security: CoordinatorSecurity?
        var keyArguments: [String] = []
        if curve {
            let keys = directory.appendingPathComponent("keys").path
            let coordinator = try CurveCertificates.generate(at: keys + "/coordinator.key")
            try CurveCertificates.generate(at: keys + "/authorized/workers/worker.key")
            try? FileManager.default.createDirectory(atPath: keys + "/authorized/clients", withIntermediateDirectories: true)
            try? FileManager.default.moveItem(atPath: keys + "/authorized/workers/worker.key_secret", toPath: keys + "/worker.key_secret")
            security = CoordinatorSecurity(keys: coordinator, authorizedKeysDir: keys + "/authorized")
            keyArguments = ["--curve-secret", keys + "/worker.key_secret", "--coordinator-key", keys + "/coordinator.key"]
        }
        workerKeyArguments = keyArguments
        let authenticated = security != nil
        service = CoordinatorService(logger: logger, security: security, store: store?.0, restored: store?.1) {
            let core = CoordinatorCore(
                config: CoordinatorConfig(coordinatorId: "local-\(getpid())", authenticated: authenticated), catalogue: catalogue, durable: store != nil)
            for f in flows { core.addFlow(f) }
            return core
        }
        if security != nil { try service.reloadKeys() }
    }

    /// Binds, starts the workers and waits (bounded) until all have joined.
    public func start(timeout: Double = 30) async throws -> String {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let endpoint = try await service.bind(link == .ipc ? "ipc://\(directory.path)/coordinator.sock" : "tcp://127.0.0.1:*")
        let service = self.service
        runTask.withLock { $0 = Task { await service.run() } }
        var env = ProcessInfo.processInfo.environment
        env["ROUTILUX_LOG_LEVEL"] = env["ROUTILUX_LOG_LEVEL"] ?? "warning"
        for i in 0..<workerCount {
            // Local workers run the user's own flow: Exec is allowed here.
            // Stopped at once when the run ends or is interrupted (no drain: the run is over).
            var args = ["join", endpoint, "--concurrency", "\(concurrency)", "--id", "local-\(getpid())-w\(i)", "--allow-exec", "--drain-timeout", "0"] + workerKeyArguments
            if link == .ipc { args += ["--bind", "ipc://\(directory.path)/worker-\(i).sock"] }
            let p = LocalWorkerProcess(
                index: i, executable: workerExecutable, arguments: args, environment: env,
                logPath: directory.appendingPathComponent("worker-\(i).log").path)
            processes.withLock { $0.append(p) }
        }
        // All joined, a worker gone first, or the time is up: whichever comes first.
        enum Start: Sendable { case joined, exited(String?), timedOut }
        let count = workerCount
        let outcome = await withTaskGroup(of: Start.self) { group in
            group.addTask { await service.waitForWorkers(count) ? .joined : .exited(nil) }
            group.addTask { .exited(await self.firstWorkerExit(log: 2000)) }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
                return .timedOut
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        switch outcome {
        case .joined: return endpoint
        case .exited(let why):
            throw StartError(description: "a local worker stopped before all had joined: \(why ?? "the coordinator stopped")")
        case .timedOut:
            throw StartError(description: "only \(service.workerCount) of \(workerCount) workers joined within \(Int(timeout)) s (logs in \(directory.path))")
        }
    }

    /// Stops the workers (SIGTERM, then SIGKILL after `grace` seconds) and the coordinator; removes the temp dir.
    public func stop(grace: Double = 5) async {
        let ps = processes.withLock { $0 }
        for p in ps { p.stop() }
        await withTaskGroup(of: Void.self) { group in
            for p in ps {
                group.addTask {
                    let timer = Task {
                        try await Task.sleep(for: .milliseconds(Int(grace * 1000)))
                        p.kill()
                    }
                    _ = await p.waitForExit()
                    timer.cancel()
                }
            }
        }
        service.stop()
        await runTask.withLock { $0 }?.value
        try? FileManager.default.removeItem(at: directory)
    }

    /// Returns (with a description) when a worker process exits while the
    /// cluster runs; never returns while they all live. Cancel it when done.
    public func firstWorkerExit() async -> String? { await firstWorkerExit(log: 2000) }

    private func firstWorkerExit(log: Int) async -> String? {
        let ps = processes.withLock { $0 }
        guard !ps.isEmpty else { return nil }
        return await withTaskGroup(of: String?.self) { group in
            for p in ps {
                group.addTask {
                    // Cancelled (the job ended first): stop waiting, leave the process alone.
                    guard let ending = await p.waitForExit() else { return nil }
                    let tail = p.logTail(log)
                    return "worker process \(p.index) \(LocalWorkerProcess.describe(ending))" + (tail.isEmpty ? "" : ":\n" + tail)
                }
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// The tail of every worker's log (for error reports).
    public func workerLogs() -> String {
        processes.withLock { $0 }.map { "worker \($0.index):\n" + $0.logTail(1500) }.joined(separator: "\n")
    }
}
