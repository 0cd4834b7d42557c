import Foundation
import Subprocess
import SystemPackage

/// Runs a command for `Exec` on swift-subprocess, without blocking a Swift
/// concurrency thread. The child starts clean: its own process group (so a
/// timeout ends everything it started), every signal at its default and an
/// empty signal mask (this process ignores SIGPIPE, SIGINT and SIGTERM, and
/// ignored signals would survive exec), and no descriptor but 0, 1 and 2.
/// Output is read as it comes; when the command exits, what is still buffered
/// is read and whatever it left running in its group is ended, so a background
/// child holding the pipes never holds the activation.
enum ChildProcess {
    struct Result: Sendable {
        /// The exit code, or 128 + the signal that ended it.
        var status: Int32
        var stdout: [UInt8]
        /// The last `stderrTail` bytes of stderr.
        var stderr: [UInt8]
        var timedOut: Bool
    }

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// Most stdout kept (a RESULT must fit the wire's frame limit).
    static let stdoutLimit = 256 << 20
    /// Stderr kept, from its end.
    static let stderrTail = 1 << 20

    private enum Outcome: Sendable {
        case exited(TerminationStatus, stdout: [UInt8], stderr: [UInt8], pid: pid_t)
        case timedOut
    }

    static func run(
        executable: String, argv: [String], stdin: [UInt8], timeout: Double, cwd: String?, env: [String: String]
    ) async throws -> Result {
        signal(SIGPIPE, SIG_IGN)  // a child that does not read its stdin must not kill us
        var options = PlatformOptions()
        options.processGroupID = 0  // its own group, led by the command
        // Cancelled (the timeout): the whole group gets SIGKILL at once.
        options.teardownSequence = [.send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .milliseconds(200))]
        let configuration = Configuration(
            executable: .path(FilePath(executable)),
            arguments: Arguments(executablePathOverride: argv.first, remainingValues: Array(argv.dropFirst())),
            // Typed keys (raw "K=V" entries would need their own NUL terminators).
            environment: .custom(Dictionary(uniqueKeysWithValues: env.compactMap { k, v in Environment.Key(rawValue: k).map { ($0, v) } })),
            workingDirectory: cwd.map { FilePath($0) },
            platformOptions: options)
        let outcome: Outcome
        do {
            outcome = try await withThrowingTaskGroup(of: Outcome.self) { group in
                group.addTask {
                    // stdin through the writer, not `.array`: swift-subprocess 1.0.2 traps
                    // ("FileDescriptor was not closed") when a child exits before an
                    // `.array` input is written; the writer path closes its end itself.
                    let r = try await Subprocess.run(
                        configuration, input: .inputWriter, output: .bytes(limit: stdoutLimit), error: .sequence
                    ) { execution in
                        let writer = execution.standardInputWriter
                        async let written: Void = {
                            _ = try? await writer.write(stdin)  // a child that does not read its stdin: fine
                            try? await writer.finish()
                        }()
                        var tail: [UInt8] = []
                        for try await chunk in execution.standardError {
                            chunk.withUnsafeBytes { tail.append(contentsOf: $0) }
                            if tail.count > stderrTail { tail.removeFirst(tail.count - stderrTail) }
                        }
                        await written
                        return (tail, execution.processIdentifier.value)
                    }
                    return .exited(r.terminationStatus, stdout: r.standardOutput, stderr: r.closureResult.0, pid: r.closureResult.1)
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
                    return .timedOut
                }
                let first = try await group.next()!
                group.cancelAll()  // the other one: the timer, or the command (teardown: its group is killed)
                while (try? await group.next()) != nil {}
                return first
            }
        } catch let e as SubprocessError {
            throw SpawnError(description: "\(executable): \(e)")
        }
        switch outcome {
        case .timedOut:
            return Result(status: 128 + SIGKILL, stdout: [], stderr: [], timedOut: true)
        case .exited(let status, let out, let err, let pid):
            // Whatever the command left running in its group (a background child) ends with it.
            if pid > 0 { kill(-pid, SIGKILL) }
            let code: Int32
            switch status {
            case .exited(let c): code = c
            case .signaled(let s): code = 128 + s
            }
            return Result(status: code, stdout: out, stderr: err, timedOut: false)
        }
    }
}
