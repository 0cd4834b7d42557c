import Foundation
import RoutiluxCore
import Subprocess
import SystemPackage

/// Asks a worker executable about its routine types, offline (`routilux flow
/// validate --worker`): its catalogue (`WORKER types --json`) and a type's ports
/// for one config (`WORKER describe TYPE --config JSON`), through swift-subprocess.
public struct WorkerQuery: Sendable {
    public let executable: String

    public init(executable: String) { self.executable = executable }

    /// Longest one question may take.
    public static let timeout = 30.0

    /// What one run printed, and how it ended (killed after `timeout`).
    private func run(_ arguments: [String]) async throws -> (code: Int32?, stdout: [UInt8], stderr: String) {
        let executable = self.executable
        let result: ExecutionResult<Void, BytesOutput, StringOutput<UTF8>>?
        do {
            result = try await withThrowingTaskGroup(of: ExecutionResult<Void, BytesOutput, StringOutput<UTF8>>?.self) { group in
                group.addTask {
                    try await Subprocess.run(
                        .path(FilePath(executable)), arguments: Arguments(arguments), output: .bytes(limit: 64 << 20),
                        error: .string(limit: 1 << 20))
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(Self.timeout))
                    return nil
                }
                let first = try await group.next()!
                group.cancelAll()  // the timer, or the run (its teardown kills the worker)
                return first
            }
        } catch {
            throw RoutineError("worker \(executable): cannot run '\(arguments.joined(separator: " "))': \(error)")
        }
        guard let result else {
            throw RoutineError("worker \(executable): '\(arguments.joined(separator: " "))' did not answer within \(Int(Self.timeout)) s")
        }
        if case .exited(let c) = result.terminationStatus { return (c, result.standardOutput, result.standardError) }
        return (nil, result.standardOutput, result.standardError)
    }

    /// The worker's catalogue.
    public func catalogue() async throws -> RoutineCatalogue {
        let r = try await run(["types", "--json"])
        guard r.code == 0 else {
            throw RoutineError("worker \(executable) 'types --json' \(r.code.map { "exited with \($0)" } ?? "was killed"): \(r.stderr.suffix(500))")
        }
        do { return try RoutineCatalogue.fromJSON(try JSONValue.parse(r.stdout)) } catch {
            throw RoutineError("worker \(executable) 'types --json': \(error)")
        }
    }

    /// `type`'s ports as built from `config`, or the config error the worker reports.
    public func describe(_ type: String, config: JSONObject) async throws -> PortsOrConfigError {
        let r = try await run(["describe", type, "--config", JSONValue.object(config).jsonString(), "--json"])
        switch r.code {
        case 0?:
            do { return .ports(try RoutinePorts(json: try JSONValue.parse(r.stdout), path: "describe \(type)")) } catch {
                throw RoutineError("worker \(executable) 'describe \(type)': \(error)")
            }
        case 2? where (try? JSONValue.parse(r.stdout))?["config_error"].stringValue != nil:
            let answer = try JSONValue.parse(r.stdout)
            return .configError(key: answer["error_key"].stringValue, message: answer["config_error"].stringValue!)
        default:
            throw RoutineError("worker \(executable) 'describe \(type)' \(r.code.map { "exited with \($0)" } ?? "was killed"): \(r.stderr.suffix(500))")
        }
    }
}
