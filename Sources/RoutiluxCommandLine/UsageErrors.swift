import ArgumentParser
import Foundation

/// Exit codes shared by every Routilux executable: 0 success (for job
/// commands: the job completed), 1 a runtime failure (or a job that did not
/// complete), 2 bad input of any kind, usage errors included, 3 the
/// coordinator restarted and no longer knows the job waited for.
public enum CommandExit {
    public static let failure = ExitCode(1)
    public static let badInput = ExitCode(2)
    public static let jobLost = ExitCode(3)
}

/// A misconfiguration (a missing or unreadable key file, a secret others can
/// read, plaintext on a public address): bad input, exit 2, as one line naming
/// the program, without the usage text a syntax error gets.
public struct BadConfiguration: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension ParsableCommand {
    /// ArgumentParser's `main()`, except that a usage error (a missing argument,
    /// a malformed number, a failed `validate()`: 64 there) exits 2, the code
    /// for every other bad input.
    public static func mainExitingTwoOnBadInput() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let e as BadConfiguration {
            let name = (CommandLine.arguments.first as NSString?)?.lastPathComponent ?? "routilux"
            FileHandle.standardError.write(Data("\(name): \(e.description)\n".utf8))
            Foundation.exit(CommandExit.badInput.rawValue)
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(CommandExit.badInput.rawValue)
            }
            exit(withError: error)
        }
    }
}

