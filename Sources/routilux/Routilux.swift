import ArgumentParser
import Foundation
import Logging
import RoutiluxCommandLine
import RoutiluxTransport

@main
struct Routilux: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routilux",
        abstract: "Run Routilux flows: embedded (`run`), or against a running coordinator (`job`).",
        version: versionText(),
        subcommands: [Run.self, JobCommand.self, FlowCommand.self, ClusterCommand.self, KeysCommand.self])

    static func main() async { await mainExitingTwoOnBadInput() }
}

/// Exit codes: 0 the job completed; 1 it did not (or a runtime error); 2 bad input.
enum Exit {
    static let notCompleted = CommandExit.failure
    static let badInput = CommandExit.badInput
    static let jobLost = CommandExit.jobLost
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
