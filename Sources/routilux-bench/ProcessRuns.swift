import Foundation
import RoutiluxCore

/// A child process run to its end: its exit status and what it printed (in files, read after).
struct ChildRun {
    var status: Int32
    var stdout: String
    var stderr: String
    var seconds: Double
}

/// What the benchmark measures by starting other programs: the Python peers, `routilux run`,
/// an idle `routilux-coordinator`.
enum ProcessRuns {
    /// Runs `executable` with `arguments` to its end (no thread waits: its termination resumes us).
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> ChildRun {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("routilux-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("stdout"), err = dir.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment { p.environment = environment }
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        let start = ContinuousClock.now
        let status: Int32 = try await withCheckedThrowingContinuation { c in
            p.terminationHandler = { c.resume(returning: $0.terminationStatus) }
            do { try p.run() } catch { c.resume(throwing: error) }
        }
        let elapsed = seconds(ContinuousClock.now - start)
        return ChildRun(
            status: status, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "", stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "",
            seconds: elapsed)
    }

    /// A peer script's result: the last line it printed, as JSON.
    static func peer(python: String, script: String, _ arguments: [String]) async throws -> JSONValue {
        let r = try await run(python, [script] + arguments)
        guard r.status == 0, let last = r.stdout.split(separator: "\n").last, let v = try? JSONValue.parse(Array(last.utf8)) else {
            throw BenchError("\(script) \(arguments.joined(separator: " ")) failed (exit \(r.status)):\n\(r.stderr.suffix(2000))")
        }
        return v
    }

    /// Seconds from starting `routilux run FLOW --max-workers 4` to its exit (the whole job included).
    static func coldStart(routilux: String, flow: String, params: String) async throws -> Double {
        let r = try await run(routilux, ["run", flow, "--params", "@" + params, "--max-workers", "4"])
        guard r.status == 0 else { throw BenchError("routilux run failed (exit \(r.status)):\n\(r.stderr.suffix(2000))") }
        return r.seconds
    }

    /// The resident set of a `routilux-coordinator start` (journal at its default: a state dir) once it has
    /// listened for `settle` seconds with nothing to do, bytes.
    static func idleCoordinatorRSS(coordinator: String, flow: String, settle: Double = 2) async throws -> Int {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("routilux-bench-idle-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("stdout")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: coordinator)
        p.arguments = ["start", "--bind", "tcp://127.0.0.1:*", "--flow", flow, "--state-dir", dir.appendingPathComponent("state").path]
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = FileHandle.nullDevice
        let ended = AsyncStream<Void>.makeStream()
        p.terminationHandler = { _ in ended.continuation.finish() }
        try p.run()
        defer {
            if p.isRunning { p.terminate() }
        }
        // Listening (it says so on stdout), within 30 s.
        let deadline = Date().addingTimeInterval(30)
        while !((try? String(contentsOf: out, encoding: .utf8)) ?? "").contains("listening on") {
            guard p.isRunning, Date() < deadline else { throw BenchError("routilux-coordinator did not start listening within 30 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(Int(settle * 1000)))
        let rss = residentBytes(pid: p.processIdentifier)
        p.terminate()
        for await _ in ended.stream {}
        return rss
    }

    /// A process's resident set (a field of /proc/PID/status: VmRSS, or VmHWM its peak), bytes.
    static func residentBytes(pid: Int32? = nil, field: String = "VmRSS:") -> Int {
        guard let s = try? String(contentsOfFile: "/proc/\(pid.map(String.init) ?? "self")/status", encoding: .utf8),
            let line = s.split(separator: "\n").first(where: { $0.hasPrefix(field) })
        else { return 0 }
        return (Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0) * 1024
    }
}
