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

    /// What one run printed, and how it ended.
    private func run(_ arguments: [String]) async throws -> (code: Int32?, stdout: [UInt8], stderr: String) {
        let result: ExecutionResult<Void, BytesOutput, StringOutput<UTF8>>
        do {
            result = try await Subprocess.run(
                .path(FilePath(executable)), arguments: Arguments(arguments), output: .bytes(limit: 64 << 20),
                error: .string(limit: 1 << 20))
        } catch {
            throw RoutineError("worker \(executable): cannot run '\(arguments.joined(separator: " "))': \(error)")
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
