import Foundation
import Subprocess
import SystemPackage

/// One local worker process of `routilux run` (or the benchmark), supervised
/// through swift-subprocess: its stdout and stderr go to a log file, `stop()`
/// asks it to leave (SIGTERM), `kill()` ends it, and `waitForExit()` returns
/// when it has ended, with no polling.
final class LocalWorkerProcess: Sendable {
    let index: Int
    let logPath: String
    private let stopRequests: AsyncStream<Void>.Continuation
    /// Runs the process for its whole life; cancelling it kills the process.
    private let supervisor: Task<Void, Never>
    /// How it ended: a status, or why it could not be run.
    private let ending = AsyncLatch<Ending>()

    enum Ending: Sendable {
        case status(TerminationStatus)
        case notRun(String)
    }

    init(index: Int, executable: String, arguments: [String], environment: [String: String], logPath: String) {
        self.index = index
        self.logPath = logPath
        let (stops, stopRequests) = AsyncStream.makeStream(of: Void.self)
        self.stopRequests = stopRequests
        // In routilux's own process group, so that a terminal's Ctrl-C reaches the
        // workers too (they leave); `kill()` sends SIGKILL to the worker alone.
        var options = PlatformOptions()
        options.teardownSequence = [.send(signal: .kill, allowedDurationToNextStep: .milliseconds(200))]
        let configuration = Configuration(
            executable: .path(FilePath(executable)), arguments: Arguments(arguments),
            environment: .custom(Dictionary(uniqueKeysWithValues: environment.compactMap { k, v in Environment.Key(rawValue: k).map { ($0, v) } })),
            platformOptions: options)
        let ending = self.ending
        supervisor = Task {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            let log = FileHandle(forWritingAtPath: logPath)
            defer { try? log?.close() }
            do {
                let r = try await Subprocess.run(configuration, input: .none, output: .sequence, error: .combinedWithOutput) { execution in
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask {
                            // The first stop request: SIGTERM (it sends LEAVE and exits).
                            for await _ in stops {
                                try? execution.send(signal: .terminate)
                                return
                            }
                        }
                        // Its output, until it exits (or closes it).
                        do {
                            for try await chunk in execution.standardOutput {
                                // A full disk loses log lines, never the run.
                                chunk.withUnsafeBytes { try? log?.write(contentsOf: Data($0)) }
                            }
                        } catch {}
                        group.cancelAll()
                    }
                }
                ending.set(.status(r.terminationStatus))
            } catch {
                ending.set(.notRun("\(error)"))
            }
        }
    }

    /// How it ended, once it has; nil if the waiting task is cancelled first.
    func waitForExit() async -> Ending? { await ending.wait() }

    /// Asks the worker to leave (SIGTERM).
    func stop() { stopRequests.yield() }

    /// Ends the worker at once (SIGKILL to the worker process).
    func kill() { supervisor.cancel() }

    /// How it ended, in words.
    static func describe(_ ending: Ending) -> String {
        switch ending {
        case .status(.exited(let code)): return "exited with \(code)"
        case .status(.signaled(let signal)): return "was killed by signal \(signal)"
        case .notRun(let why): return "could not be run: \(why)"
        }
    }

    /// The tail of its log.
    func logTail(_ n: Int = 2000) -> String {
        ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(n).description
    }
}
