import ArgumentParser
import Foundation
import Logging
import RoutiluxBuiltins
import RoutiluxCommandLine
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxTransport

@main
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routilux-coordinator",
        abstract: "The Routilux coordinator: holds flows and job state, routes emissions to workers.",
        version: versionText(),
        subcommands: [Start.self])

    static func main() async { await mainExitingTwoOnBadInput() }
}

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Bind the inbox and serve until SIGINT/SIGTERM.")

    @Option(help: "Endpoint to bind, e.g. tcp://0.0.0.0:5555, tcp://127.0.0.1:* or ipc:///run/routilux/coordinator.sock")
    var bind: String
    @Option(name: .customLong("flow"), help: "A flow file (YAML or JSON) to load; repeatable.")
    var flows: [String] = []
    @Option(name: .customLong("catalogue"), help: "Routine types of custom workers (from `WORKER types --json`), to check flows before such a worker joins; repeatable. Not needed: joining workers describe their types.")
    var catalogues: [String] = []
    @Option(help: "Heartbeat interval towards workers, ms.")
    var heartbeatMs: Int = 1000
    @Option(help: "Silence after which a worker is declared dead, ms.")
    var workerTimeoutMs: Int = 5000
    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = ProcessInfo.processInfo.environment["ROUTILUX_LOG_LEVEL"] ?? "info"

    func validate() throws { try EndpointArguments.check(bind, what: "--bind", forBinding: true) }

    func run() async throws {
        LogSetup.bootstrap(level: logLevel)
        guard heartbeatMs >= 10, workerTimeoutMs >= 2 * heartbeatMs, workerTimeoutMs <= 3_600_000 else {
            FileHandle.standardError.write(Data("routilux-coordinator: --worker-timeout-ms (\(workerTimeoutMs)) must be at least twice --heartbeat-ms (\(heartbeatMs), at least 10) and at most an hour\n".utf8))
            throw ExitCode(2)
        }
        var catalogue = Builtins.registry.catalogue
        do {
            for c in catalogues { catalogue.merge(try CatalogueFiles.load(c)) }
        } catch {
            FileHandle.standardError.write(Data("routilux-coordinator: \(error)\n".utf8))
            throw ExitCode(2)
        }
        var loaded: [FlowDefinition] = []
        var fileOf: [String: String] = [:]
        for f in flows {
            do {
                // Types not known here yet are checked when a worker hosting them joins.
                let flow = try FlowLoader.load(file: f, catalogue: catalogue, allowUnknownTypes: true)
                if let first = fileOf[flow.flowId] {
                    throw FlowValidationError(file: f, path: "flow_id", message: "flow '\(flow.flowId)' is already defined by \(first)")
                }
                fileOf[flow.flowId] = f
                loaded.append(flow)
                let unknown = Set(flow.routines.map(\.type).filter { !catalogue.knows($0) }).sorted()
                if !unknown.isEmpty {
                    Logger(label: "routilux.coordinator").info("flow \(flow.flowId) (\(f)): routine types \(unknown.joined(separator: ", ")) are not known yet; its jobs wait for a worker hosting them, which describes them")
                }
            } catch {
                FileHandle.standardError.write(Data("routilux-coordinator: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        let config = CoordinatorConfig(
            coordinatorId: "\(ProcessInfo.processInfo.hostName)-\(getpid())", heartbeatMs: heartbeatMs,
            workerTimeoutMs: workerTimeoutMs)
        let service = CoordinatorService { [loaded, catalogue] in
            let core = CoordinatorCore(config: config, catalogue: catalogue)
            for f in loaded { core.addFlow(f) }
            return core
        }
        let endpoint: String
        do { endpoint = try await service.bind(bind) } catch {
            FileHandle.standardError.write(Data("routilux-coordinator: cannot bind \(bind): \(error)\n".utf8))
            throw ExitCode(1)
        }
        ProcessSignals.onTerminate { _ in service.stop() }
        // One line on stdout that scripts (and tests) can read.
        FileHandle.standardOutput.write(Data("routilux-coordinator listening on \(endpoint)\n".utf8))
        Logger(label: "routilux.coordinator").info("listening on \(endpoint); flows: \(loaded.map(\.flowId).joined(separator: ", "))")
        await service.run()
    }
}
