import ArgumentParser
import Foundation
import Logging
import RoutiluxTransport

@main
struct Routilux: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routilux",
        abstract: "Run Routilux flows: embedded (`run`), or against a running coordinator (`job`).",
        subcommands: [Run.self, JobCommand.self, FlowCommand.self])

    /// Like ArgumentParser's, except that a usage error (a missing argument, a
    /// malformed number: 64 there) exits 2, the code for every other bad input.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(Exit.badInput.rawValue)
            }
            exit(withError: error)
        }
    }
}

/// Exit codes: 0 the job completed; 1 it did not (or a runtime error); 2 bad input.
enum Exit {
    static let notCompleted = ExitCode(1)
    static let badInput = ExitCode(2)
}

func fail(_ message: String, code: ExitCode) -> ExitCode {
    FileHandle.standardError.write(Data("routilux: \(message)\n".utf8))
    return code
}

/// Sets up swift-log once per process.
func bootstrapLogging(_ level: String) { LogSetup.bootstrap(level: level, fallback: .warning) }

func writeStdout(_ s: String) {
    FileHandle.standardOutput.write(Data((s.hasSuffix("\n") ? s : s + "\n").utf8))
}
