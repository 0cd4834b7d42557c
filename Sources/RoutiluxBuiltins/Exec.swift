import Foundation
import RoutiluxCore

/// Runs a command per activation: routines in any language.
///
/// The slot data goes to the command's stdin as one JSON object. Each stdout
/// line is one JSON object:
/// - `{"event": NAME, "data": {...}}` emits NAME (one of `events`);
/// - `{"output": TYPE, "data": ...}` appends to the job's output log;
/// - `{"shared_data": {k: v, ...}}` updates the job's shared data;
/// - `{"shared_log": {...}}` appends to the shared log;
/// - `{"deferred": NAME, "data": {...}}` defers an event to the job's resume;
/// - `{"pause": REASON}` pauses the job after this activation.
/// A non-zero exit is a routine error carrying the tail of stderr (error type
/// `ExecError`, or the `error_type` a last line `{"error_type": T}` names); a
/// run longer than `timeout` is killed with everything it started (its own
/// process group; `TimeoutError`). Blank lines are skipped; any other line is an
/// error naming its number. The command starts with SIGINT, SIGTERM and SIGPIPE
/// at their defaults (see `ChildProcess`).
///
/// Config: `command` (a string run by `/bin/sh -c`, or an argv list), `timeout`
/// (seconds, default 60), `env` (extra variables), `cwd`, `events` (default
/// `[output]`), `slots` (default `[input, trigger]`). The environment also gets
/// ROUTILUX_JOB_ID, ROUTILUX_ROUTINE_ID, ROUTILUX_SLOT, ROUTILUX_ATTEMPT and
/// ROUTILUX_SHARED_DATA (the job's shared data as JSON, as of dispatch).
public let execType = RoutineType(
    "Exec", summary: "runs a command per activation: JSON on stdin, one JSON line per emission on stdout"
) { config in
    try Config.allowOnly(config, ["command", "timeout", "env", "cwd", "events", "slots"])
    let argv: [String]
    switch config["command"] {
    case .string(let s)?: argv = ["/bin/sh", "-c", s]
    case .array(let a)? where !a.isEmpty && a.allSatisfy({ $0.stringValue != nil }): argv = a.map { $0.stringValue! }
    default: throw RoutineConfigError(key: "command", "must be a command string or a non-empty list of strings")
    }
    let timeout = config["timeout"]?.doubleValue ?? 60
    guard timeout > 0, timeout <= 86_400 else { throw RoutineConfigError(key: "timeout", "must be seconds from 0 to 86400") }
    var env: [String: String] = [:]
    for (k, v) in try Config.object(config, "env") ?? [:] {
        guard let s = v.stringValue else { throw RoutineConfigError(key: "env.\(k)", "must be a string") }
        env[k] = s
    }
    let cwd = try Config.string(config, "cwd")
    func names(_ key: String, _ defaults: [String]) throws -> [String] {
        guard let v = config[key], v != .null else { return defaults }
        guard let a = v.arrayValue, !a.isEmpty, a.allSatisfy({ $0.stringValue?.isEmpty == false }) else {
            throw RoutineConfigError(key: key, "must be a non-empty list of names")
        }
        return a.map { $0.stringValue! }
    }
    let events = try names("events", ["output"])
    let slots = try names("slots", ["input", "trigger"])
    var r = RoutineDefinition(config: config)
    for e in events { r.event(e) }
    let run = ExecRun(argv: argv, timeout: timeout, env: env, cwd: cwd)
    for s in slots {
        r.slot(s) { data, ctx in try await run.activate(data, ctx) }
    }
    return r
}

/// One configured command, run once per activation.
struct ExecRun: Sendable {
    let argv: [String]
    let timeout: Double
    let env: [String: String]
    let cwd: String?

    func activate(_ data: JSONObject, _ ctx: HandlerContext) async throws {
        guard ExecPermission.isAllowed else {
            throw RoutineError("Exec is disabled on this worker: start it with --allow-exec to let flows run commands here", type: "PermissionError")
        }
        let environment = ProcessInfo.processInfo.environment
            .merging(env) { _, new in new }
            .merging([
                "ROUTILUX_JOB_ID": ctx.jobId, "ROUTILUX_ROUTINE_ID": ctx.routineId, "ROUTILUX_SLOT": ctx.slot,
                "ROUTILUX_ATTEMPT": String(ctx.attempt),
                "ROUTILUX_SHARED_DATA": JSONValue.object(ctx.sharedData).jsonString(),
            ]) { _, new in new }
        let result: ChildProcess.Result
        do {
            result = try await ChildProcess.run(
                executable: try ExecProcess.executable(argv[0], path: environment["PATH"], cwd: cwd), argv: argv,
                stdin: JSONValue.object(data).serialized(), timeout: timeout, cwd: cwd, env: environment)
        } catch let e as ChildProcess.SpawnError {
            throw RoutineError("Exec: \(e)")
        }
        let stderrTail = String(decoding: result.stderr.suffix(2000), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if result.timedOut {
            throw RoutineError(
                "Exec \(argv.last ?? ""): timed out after \(timeout) s and was killed\(stderrTail.isEmpty ? "" : ": \(stderrTail)")", type: "TimeoutError")
        }
        if result.stdoutOverflow {
            throw RoutineError("Exec \(argv.last ?? ""): wrote more than \(ChildProcess.stdoutLimit >> 20) MiB to stdout and was killed", type: "ExecError")
        }
        let lines = result.stdout.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        var errorType = "ExecError"
        var effects: [() throws -> Void] = []
        for (i, line) in lines.enumerated() {
            let text = line.drop { $0 == 32 || $0 == 9 || $0 == 13 }
            if text.isEmpty { continue }
            let v: JSONValue
            do { v = try JSONValue.parse(Array(text)) } catch {
                throw RoutineError("Exec \(argv.last ?? ""): stdout line \(i + 1) is not JSON (\(error)): \(String(decoding: text.prefix(120), as: UTF8.self))")
            }
            guard let o = v.objectValue else { throw RoutineError("Exec: stdout line \(i + 1) must be a JSON object") }
            if let event = o["event"]?.stringValue {
                let payload = o["data"]?.objectValue ?? [:]
                effects.append { try ctx.emit(event, payload) }
            } else if let type = o["output"]?.stringValue {
                let payload = o["data"] ?? .null
                effects.append { ctx.sendOutput(type, payload) }
            } else if let updates = o["shared_data"]?.objectValue {
                effects.append { for (k, v) in updates { ctx.updateSharedData(k, v) } }
            } else if let entry = o["shared_log"]?.objectValue {
                effects.append { ctx.appendToSharedLog(entry) }
            } else if let event = o["deferred"]?.stringValue {
                let payload = o["data"]?.objectValue ?? [:]
                effects.append { try ctx.emitDeferred(event, payload) }
            } else if let reason = o["pause"] {
                effects.append { ctx.pauseJob(reason: reason.stringValue ?? "", checkpoint: o["checkpoint"]) }
            } else if let t = o["error_type"]?.stringValue {
                errorType = t
            } else {
                throw RoutineError("Exec: stdout line \(i + 1) has none of event, output, shared_data, shared_log, deferred, pause, error_type")
            }
        }
        guard result.status == 0 else {
            let tail = String(decoding: result.stderr.suffix(2000), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw RoutineError("Exec \(argv.last ?? ""): exited with \(result.status)\(tail.isEmpty ? "" : ": \(tail)")", type: errorType)
        }
        for apply in effects { try apply() }
    }
}

/// Runs a child process without blocking a Swift concurrency thread: pipes
/// are drained by dispatch handlers, the exit arrives through a termination
/// handler, and a timer kills the child at the deadline.
/// Command lookup for Exec.
enum ExecProcess {
    /// A program name without a slash is looked up in PATH, as a shell would; a
    /// relative path is taken from `cwd` when one is set.
    static func executable(_ name: String, path: String?, cwd: String?) throws -> String {
        if name.hasPrefix("/") { return name }
        if name.contains("/") { return cwd.map { ($0 as NSString).appendingPathComponent(name) } ?? name }
        let dirs = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        for d in dirs {
            var isDirectory: ObjCBool = false
            let candidate = "\(d)/\(name)"
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
                FileManager.default.isExecutableFile(atPath: candidate)
            {
                return candidate
            }
        }
        throw RoutineError("Exec: '\(name)' is not in PATH (\(dirs.joined(separator: ":")))")
    }
}
