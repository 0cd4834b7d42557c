import ArgumentParser
import Foundation
import Logging
import RoutiluxCommandLine
import RoutiluxCore
import RoutiluxTransport
import Synchronization

/// The `routilux-worker` command line, reusable by custom worker executables:
/// `WorkerCommand.main(registry: myRegistry)` gives them `join` and `types`.
public enum WorkerCommand {
    nonisolated(unsafe) static var registry = RoutineRegistry()

    /// Parses the process arguments and runs the chosen verb with `registry`.
    public static func main(registry: RoutineRegistry) async {
        WorkerCommand.registry = registry
        await Root.mainExitingTwoOnBadInput()
    }

    struct Root: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: (CommandLine.arguments.first as NSString?)?.lastPathComponent ?? "routilux-worker",
            abstract: "A Routilux worker: hosts routines and runs their handlers for a coordinator.",
            version: versionText(),
            subcommands: [Join.self, Types.self, Describe.self])
    }

    struct Join: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Join a coordinator and serve tasks until SIGINT/SIGTERM.")

        @Argument(help: "The coordinator's inbox, e.g. tcp://10.0.0.5:5555 or ipc:///tmp/routilux/coordinator.sock (default: $ROUTILUX_COORDINATOR).")
        var coordinator: String?
        @Option(help: "Endpoint to bind this worker's task inbox (default: a free loopback port, or all interfaces for a remote coordinator).")
        var bind: String?
        @Option(help: "Endpoint the coordinator should connect to (default: the bound one, wildcard replaced by this host's name).")
        var advertise: String?
        @Option(help: "Handlers run at once.")
        var concurrency: Int = 4
        @Option(help: "Tasks accepted beyond --concurrency and queued here (default: --concurrency).")
        var prefetch: Int?
        @Option(help: "Worker id (default: host-pid-random).")
        var id: String?
        @Flag(help: "Let flows run commands on this host through the Exec routine (off by default; also ROUTILUX_ALLOW_EXEC=1).")
        var allowExec = false
        @Option(help: "Log level: trace, debug, info, notice, warning, error.")
        var logLevel: String = ProcessInfo.processInfo.environment["ROUTILUX_LOG_LEVEL"] ?? "info"
        @Option(help: "On SIGTERM/SIGINT: seconds to finish the tasks held (their results are sent) before what still runs is stopped and re-queued; a second signal stops at once.")
        var drainTimeout: Double = 30
        @Option(help: "Drain and exit after this many tasks (with --processes: the supervisor starts a fresh process in its place).")
        var maxTasks: Int?
        @Option(help: "Run this many worker processes under a supervisor: ids ID-0 ... ID-(N-1) (ID: --id, default HOST-PID), the same after a restart; a process that ends is restarted (with backoff; given up after repeated fast crashes); SIGTERM drains them all.")
        var processes: Int?
        @OptionGroup var curve: CurveArguments
        @OptionGroup var limit: MessageLimitArguments

        func validate() throws {
            if concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
            if !(drainTimeout >= 0 && drainTimeout <= 86_400) { throw ValidationError("--drain-timeout must be 0 to 86400 seconds") }
            if let m = maxTasks, m < 1 { throw ValidationError("--max-tasks must be at least 1") }
            if let n = processes, !(1...256).contains(n) { throw ValidationError("--processes must be 1 to 256") }
            if let p = prefetch, p < 0 { throw ValidationError("--prefetch must not be negative") }
            _ = try EndpointArguments.coordinator(coordinator)
            if let bind { try EndpointArguments.check(bind, what: "--bind", forBinding: true) }
            if let advertise { try EndpointArguments.check(advertise, what: "--advertise") }
        }

        func run() async throws {
            let endpoint = try EndpointArguments.coordinator(coordinator)
            let keys = try curve.peerKeys(coordinator: endpoint, endpoints: [bind, advertise].compactMap { $0 })
            LogSetup.bootstrap(level: logLevel)
            raiseOpenFileLimit()
            if allowExec { ExecPermission.allow() }
            var options = WorkerOptions(
                coordinator: endpoint, bind: bind, advertise: advertise, concurrency: concurrency, prefetch: prefetch,
                workerId: id, keys: keys, maxMessageBytes: limit.maxMessageBytes)
            options.maxTasks = maxTasks
            options.drainTimeout = drainTimeout
            // Read once and removed: the commands an Exec routine runs inherit the environment.
            options.idSecret = environmentValue("ROUTILUX_WORKER_ID_SECRET")
            let supervised = environmentValue("ROUTILUX_SUPERVISED") == "1"
            unsetenv("ROUTILUX_WORKER_ID_SECRET")
            unsetenv("ROUTILUX_SUPERVISED")
            if supervised { options.supervisorPid = getppid() }
            if options.keys == nil, bind == nil, isExposed(options.defaultBind), !curve.insecure {
                // A remote coordinator means an inbox on every interface: plaintext there needs --insecure too.
                throw BadConfiguration(CurveArguments.plaintextRefusal(options.defaultBind))
            }
            if let n = processes {
                try await supervise(n)
                return
            }
            let runtime = WorkerRuntime(registry: WorkerCommand.registry, options: options)
            let drain = drainTimeout
            // Under a supervisor, SIGINT is the supervisor's to act on (it sends SIGTERM).
            do {
                try await runUntilSignalled(logger: Logger(label: "routilux.worker"), interrupts: !supervised) {
                    try await runtime.run()
                } graceful: {
                    runtime.drain(timeout: drain)
                } immediate: {
                    runtime.stop()
                }
            } catch {
                FileHandle.standardError.write(Data("routilux-worker: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }

        /// Runs `n` copies of this command (without --processes) under a supervisor.
        func supervise(_ n: Int) async throws {
            let executable = FileManager.default.fileExists(atPath: "/proc/self/exe")
                ? ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]) : CommandLine.arguments[0]
            let base = id ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
            setenv("ROUTILUX_SUPERVISED", "1", 1)
            let logger = Logger(label: "routilux.supervisor")
            let supervisor = WorkerSupervisor(
                executable: executable, arguments: WorkerSupervisor.childArguments(Array(CommandLine.arguments.dropFirst())), baseId: base,
                processes: n, logger: logger)
            logger.info("supervising \(n) worker process(es): \(base)-0 ... \(base)-\(n - 1)")
            let code = Mutex<Int32>(0)
            try await runUntilSignalled(logger: logger) {
                let c = await supervisor.run()
                code.withLock { $0 = c }
            } graceful: {
                supervisor.stop(immediately: false)
            } immediate: {
                supervisor.stop(immediately: true)
            }
            if code.withLock({ $0 }) != 0 { throw ExitCode(code.withLock { $0 }) }
        }
    }

    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Describe a routine type as built from a config: its slots, events, merges, state and error policy.",
            discussion: "Prints the ports as JSON. Exit codes: 0 described, 2 unknown type, bad JSON or a config the type refuses.")
        @Argument(help: "The routine type (or an alias).")
        var type: String
        @Option(help: "The routine's config, a JSON object.")
        var config: String = "{}"
        @Flag(help: "Print a config error as JSON too (`{\"config_error\": MESSAGE, \"error_key\": KEY}` on stdout, exit 2), for tools.")
        var json = false

        func run() throws {
            guard let object = (try? JSONValue.parse(Array(config.utf8)))?.objectValue else {
                throw ValidationError("--config must be a JSON object")
            }
            switch WorkerCommand.registry.describe(type, config: object) {
            case nil:
                throw ValidationError("unknown routine type '\(type)' (hosted: \(WorkerCommand.registry.names.joined(separator: ", ")))")
            case .configError(let key, let message)?:
                if json {
                    var o: JSONObject = ["config_error": .string(message)]
                    if let key { o["error_key"] = .string(key) }
                    print(JSONValue.object(o).jsonString())
                    throw ExitCode(2)
                }
                throw ValidationError("config\(key.map { ".\($0)" } ?? ""): \(message)")
            case .ports(let p)?:
                print(JSONValue.object(p.json).jsonString(pretty: true))
            }
        }
    }

    struct Types: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the routine types this worker hosts.")
        @Flag(help: "Print the catalogue as JSON (for `routilux run --worker` and `routilux-coordinator --catalogue`).")
        var json = false

        func run() throws {
            let reg = WorkerCommand.registry
            if json {
                print(reg.catalogue.json().jsonString(pretty: true))
                return
            }
            for name in reg.typeNames {
                let t = reg.lookup(name)!
                let ports = (try? t.make(config: [:]).ports) ?? RoutinePorts(slots: nil, events: nil)
                let aliases = t.aliases.isEmpty ? "" : " (alias \(t.aliases.joined(separator: ", ")))"
                print("\(name)\(aliases): slots \(ports.slots?.joined(separator: ", ") ?? "any") -> events \(ports.events?.joined(separator: ", ") ?? "any")  \(t.summary)")
            }
        }
    }
}
