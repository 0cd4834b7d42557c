import Foundation
import RoutiluxCore
import RoutiluxTestSupport
import Testing

/// Where the built executables are: $ROUTILUX_BIN_DIR, beside the test
/// bundle, or the package's .build/debug.
let binDirectory: URL = {
    var candidates: [URL] = []
    if let d = ProcessInfo.processInfo.environment["ROUTILUX_BIN_DIR"] { candidates.append(URL(fileURLWithPath: d)) }
    candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
    candidates.append(packageRoot.appendingPathComponent(".build/debug"))
    for c in candidates where FileManager.default.isExecutableFile(atPath: c.appendingPathComponent("routilux-coordinator").path) {
        return c
    }
    return candidates.last!
}()

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

struct HarnessError: Error, CustomStringConvertible {
    var description: String
}

/// A started executable whose stdout and stderr go to files.
final class Spawned: @unchecked Sendable {
    let name: String
    let process: Process
    let stdoutURL: URL
    let stderrURL: URL

    init(name: String, process: Process, stdoutURL: URL, stderrURL: URL) {
        self.name = name
        self.process = process
        self.stdoutURL = stdoutURL
        self.stderrURL = stderrURL
    }

    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }

    /// Waits (bounded) for the process to exit; returns its exit status.
    func exitCode(timeout: Double = 60) async throws -> Int32 {
        try await waitUntil("\(name) to exit\n--- stderr:\n\(stderr.suffix(3000))", timeout: timeout) { !process.isRunning }
        return process.terminationStatus
    }

    func kill(_ signal: Int32 = SIGKILL) {
        if process.isRunning { Foundation.kill(process.processIdentifier, signal) }
    }
}

/// Starts the real executables in a private temp directory and stops every
/// one of them (SIGTERM, then SIGKILL) in `shutdown()`.
final class ProcessHarness: @unchecked Sendable {
    let directory: URL
    private var spawned: [Spawned] = []
    private var counter = 0

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("routilux-it-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Writes a file in the temp directory; returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try Data(text.utf8).write(to: directory.appendingPathComponent(name))
        return path(name)
    }

    func start(_ executable: String, _ arguments: [String], executablePath: String? = nil, env extra: [String: String] = [:]) throws -> Spawned {
        counter += 1
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executablePath ?? binDirectory.appendingPathComponent(executable).path)
        p.arguments = arguments
        p.currentDirectoryURL = packageRoot
        let out = directory.appendingPathComponent("\(counter)-\(executable).out")
        let err = directory.appendingPathComponent("\(counter)-\(executable).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        p.standardInput = FileHandle.nullDevice
        var env = ProcessInfo.processInfo.environment
        env["ROUTILUX_LOG_LEVEL"] = "info"
        for (k, v) in extra { env[k] = v }
        p.environment = env
        try p.run()
        let s = Spawned(name: "\(executable) \(arguments.joined(separator: " "))", process: p, stdoutURL: out, stderrURL: err)
        spawned.append(s)
        return s
    }

    /// Starts a coordinator and returns it with the endpoint it printed. It
    /// journals to `stateDir` (default: a fresh directory in the temp directory).
    func coordinator(bind: String = "tcp://127.0.0.1:*", flows: [String] = [], extra: [String] = [], stateDir: String? = nil) async throws -> (Spawned, String) {
        let state = extra.contains("--state-dir") ? [] : ["--state-dir", stateDir ?? path("state-\(counter + 1)")]
        let c = try start("routilux-coordinator", ["start", "--bind", bind] + flows.flatMap { ["--flow", $0] } + state + extra)
        try await waitUntil("the coordinator to print its endpoint\n--- stderr:\n\(c.stderr)", timeout: 30) {
            guard c.isRunning else { throw HarnessError(description: "the coordinator exited: \(c.stderr)") }
            return c.stdout.contains("listening on ")
        }
        let line = c.stdout.split(separator: "\n").first { $0.contains("listening on ") }!
        return (c, String(line.split(separator: " ").last!))
    }

    /// Starts `count` stock workers and waits until the coordinator's log shows them joined.
    func workers(_ count: Int, coordinator: (Spawned, String), extra: [String] = []) async throws -> [Spawned] {
        let before = coordinator.0.stderr.components(separatedBy: " joined from ").count - 1
        var ws: [Spawned] = []
        for i in 0..<count {
            ws.append(try start("routilux-worker", ["join", coordinator.1, "--id", "it-w\(counter)-\(i)"] + extra))
        }
        try await waitUntil("\(count) workers to join\n--- coordinator stderr:\n\(coordinator.0.stderr.suffix(3000))") {
            coordinator.0.stderr.components(separatedBy: " joined from ").count - 1 >= before + count
        }
        return ws
    }

    /// Runs `routilux ARGS` to its end; returns exit code, stdout, stderr.
    func routilux(_ arguments: [String], timeout: Double = 120, env: [String: String] = [:]) async throws -> (code: Int32, out: String, err: String) {
        let s = try start("routilux", arguments, env: env)
        let code = try await s.exitCode(timeout: timeout)
        return (code, s.stdout, s.stderr)
    }

    /// Stops everything started here and removes the temp directory.
    func shutdown() async {
        for s in spawned where s.isRunning { s.kill(SIGTERM) }
        // Up to 5 s for all of them to leave; then whatever is left is killed.
        try? await waitUntil("the started processes to exit", timeout: 5) { !spawned.contains(where: \.isRunning) }
        for s in spawned where s.isRunning { s.kill(SIGKILL) }
        for s in spawned { s.process.waitUntilExit() }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Parses a printed JobState.
func jobState(_ text: String) throws -> JobState {
    try JobState(json: try JSONValue.parse(text))
}
