import Foundation
import Subprocess
import SystemPackage

/// Runs a command for `Exec` on swift-subprocess, without blocking a Swift
/// concurrency thread. The child starts clean: its own process group (so a
/// timeout, a cancelled activation or a stopping worker ends everything it
/// started), every signal at its default and an empty signal mask (this process
/// ignores SIGPIPE, SIGINT and SIGTERM, and ignored signals would survive exec),
/// and no descriptor but 0, 1 and 2. Output is read as it comes; when the
/// command exits, what is still buffered is read and whatever it left running
/// in its group is ended, so a background child holding the pipes never holds
/// the activation.
enum ChildProcess {
    struct Result: Sendable {
        /// The exit code, or 128 + the signal that ended it.
        var status: Int32
        var stdout: [UInt8]
        /// The last `stderrTail` bytes of stderr.
        var stderr: [UInt8]
        var timedOut: Bool
        /// Stdout went past `stdoutLimit`; the command was killed.
        var stdoutOverflow: Bool
    }

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// Most stdout kept; past it the command is killed (a RESULT must stay well
    /// under the wire's 256 MiB frame limit).
    static let stdoutLimit = 64 << 20
    /// Stderr kept, from its end.
    static let stderrTail = 1 << 20

    private struct Exited: Sendable {
        var status: TerminationStatus
        var stdout: [UInt8]
        var stderr: [UInt8]
        var overflow: Bool
        var pid: pid_t
    }

    private enum Outcome: Sendable {
        case exited(Exited)
        case timedOut
    }

    static func run(
        executable: String, argv: [String], stdin: [UInt8], timeout: Double, cwd: String?, env: [String: String]
    ) async throws -> Result {
        signal(SIGPIPE, SIG_IGN)  // a child that does not read its stdin must not kill us
        var options = PlatformOptions()
        options.processGroupID = 0  // its own group, led by the command
        // Cancelled (the timeout, or the activation): the whole group gets SIGKILL at once.
        // (Then the command itself, in case it moved to another group.)
        options.teardownSequence = [
            .send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .milliseconds(200)),
            .send(signal: .kill, toProcessGroup: false, allowedDurationToNextStep: .milliseconds(200)),
        ]
        let configuration = Configuration(
            executable: .path(FilePath(executable)),
            arguments: Arguments(executablePathOverride: argv.first, remainingValues: Array(argv.dropFirst())),
            // Typed keys (raw "K=V" entries would need their own NUL terminators).
            environment: .custom(Dictionary(uniqueKeysWithValues: env.compactMap { k, v in Environment.Key(rawValue: k).map { ($0, v) } })),
            workingDirectory: cwd.map { FilePath($0) },
            platformOptions: options)
        var outcomes: [Outcome] = []
        do {
            outcomes = try await withThrowingTaskGroup(of: Outcome.self) { group in
                group.addTask { .exited(try await execute(configuration, stdin: stdin)) }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(max(1, Int((timeout * 1000).rounded(.up)))))
                    return .timedOut
                }
                var all = [try await group.next()!]
                group.cancelAll()  // the other one: the timer, or the command (teardown: its group is killed)
                while let next = try? await group.next() { all.append(next) }
                return all
            }
        } catch let e as SubprocessError {
            throw SpawnError(description: "\(executable): \(e)")
        }
        var exited: Exited?
        for case .exited(let e) in outcomes { exited = e }
        if let pid = exited?.pid, pid > 0 {
            // Whatever the command left running in its group (a background child) ends with it.
            kill(-pid, SIGKILL)
        }
        if case .timedOut = outcomes[0] {
            return Result(status: 128 + SIGKILL, stdout: [], stderr: exited?.stderr ?? [], timedOut: true, stdoutOverflow: false)
        }
        guard let e = exited else { throw SpawnError(description: "\(executable): no outcome") }
        let code: Int32
        switch e.status {
        case .exited(let c): code = c
        case .signaled(let s): code = 128 + s
        }
        return Result(status: code, stdout: e.stdout, stderr: e.stderr, timedOut: false, stdoutOverflow: e.overflow)
    }

    /// One run: stdin written, stdout (bounded) and stderr (its tail) drained at once.
    private static func execute(_ configuration: Configuration, stdin: [UInt8]) async throws -> Exited {
        // stdin through the writer, not `.array`: swift-subprocess 1.0.2 traps
        // ("FileDescriptor was not closed") when a child exits before an
        // `.array` input is written; the writer path closes its end itself.
        let r = try await Subprocess.run(configuration, input: .inputWriter, output: .sequence, error: .sequence) { execution in
            let leader = execution.processIdentifier
            // Once the command has exited, a background child that keeps writing must not keep
            // the activation: its group is killed (the unreaped leader still holds the group id).
            @Sendable func endGroupIfLeaderExited() {
                if hasExited(leader.processDescriptor) { try? execution.send(signal: .kill, toProcessGroup: true) }
            }
            let writer = execution.standardInputWriter
            async let written: Void = {
                _ = try? await writer.write(stdin)  // a child that does not read its stdin: fine
                try? await writer.finish()
            }()
            let errors = execution.standardError
            async let tail: [UInt8] = {
                var tail: [UInt8] = []
                do {
                    for try await chunk in errors {
                        chunk.withUnsafeBytes { tail.append(contentsOf: $0) }
                        // Trimmed now and then, not per chunk (amortised).
                        if tail.count > 2 * stderrTail { tail.removeFirst(tail.count - stderrTail) }
                        if Task.isCancelled { break }
                        endGroupIfLeaderExited()
                    }
                } catch {}
                return Array(tail.suffix(stderrTail))
            }()
            var out: [UInt8] = []
            var overflow = false
            for try await chunk in execution.standardOutput {
                if out.count + chunk.count > stdoutLimit {
                    overflow = true
                    try? execution.send(signal: .kill, toProcessGroup: true)
                    break
                }
                chunk.withUnsafeBytes { out.append(contentsOf: $0) }
                endGroupIfLeaderExited()
            }
            let stderr = await tail
            await written
            return Exited(status: .exited(0), stdout: out, stderr: stderr, overflow: overflow, pid: execution.processIdentifier.value)
        }
        var e = r.closureResult
        e.status = r.terminationStatus
        return e
    }

    /// Whether the process behind a pidfd has exited (readable: it has; -1: unknown, so no).
    private static func hasExited(_ pidfd: CInt) -> Bool {
        guard pidfd >= 0 else { return false }
        var p = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0 && p.revents & Int16(POLLIN) != 0
    }
}
