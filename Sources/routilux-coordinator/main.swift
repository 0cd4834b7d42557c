import ArgumentParser
import Foundation
import Logging
import RoutiluxBuiltins
import RoutiluxCommandLine
import RoutiluxCoordinator
import RoutiluxHTTP
import RoutiluxCore
import RoutiluxTransport
import RoutiluxWire

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
    @Option(help: "Silence after which a worker is declared dead and its tasks re-queued, ms (a worker silent for 1.5 heartbeats is sent no new task meanwhile).")
    var workerTimeoutMs: Int = 3000
    @Option(help: "The coordinator's secret key file, NAME.key_secret from `routilux keys generate` (default: $ROUTILUX_CURVE_SECRET). With --authorized-keys: CURVE on every link.")
    var curveSecret: String?
    @Option(help: "Directory of the public keys let in: DIR/workers/*.key may join as workers, DIR/clients/*.key may submit, query and control jobs (default: $ROUTILUX_AUTHORIZED_KEYS). SIGHUP reloads it.")
    var authorizedKeys: String?
    @Flag(help: "Accept plaintext on a non-loopback tcp address (anyone on that network can then join, read and forge messages).")
    var insecure = false
    @Option(help: "Credit one worker may hold, whatever it claims.")
    var maxCredit: Int = 64
    @Option(help: "Workers joined at once; a JOIN beyond is refused.")
    var maxWorkersJoined: Int = 256
    @OptionGroup var limit: MessageLimitArguments
    @OptionGroup var state: StateDirArguments
    @Option(
        name: [.customLong("finished-jobs-memory"), .customLong("finished-jobs-bytes")],
        help: "Finished jobs are held in memory up to about this many bytes in all (and the last 1000 at most), the oldest dropped first; with a state dir, queries about the others read them from it.")
    var finishedJobsBytes: Int = 128 << 20
    @Option(help: "Queued tasks held in memory, all jobs together; with a state dir, the rest wait in it and are read back in order as their jobs run.")
    var maxQueuedInMemory: Int = 100_000
    @Option(help: "History records of a job held in memory; with a state dir, older ones stay in it only (job status and wait still return them all). 0: no limit.")
    var historyInMemory: Int = 10_000
    @Option(help: "PARTs of one running activation's emissions that may await the coordinator at once (the worker sends them as its handler runs); 0: workers send everything an activation emits in its RESULT.")
    var partWindow: Int = 8
    @Option(help: "Body bytes one activation may emit in all (streamed in parts, staged in the state dir, or in memory without one); beyond, it fails with ResultTooLarge.")
    var maxResultBytes: Int = 4 << 30
    @Option(help: "Serve the HTTP API (JSON under /api/v1, /health/live, /health/ready) on HOST:PORT, e.g. 127.0.0.1:8080 (port 0: any free one). Off unless given; plaintext is refused off loopback without --insecure.")
    var http: String?
    @Option(help: "The HTTP API's bearer tokens: a file of `TOKEN [NAME] [read-only]` lines (default: $ROUTILUX_HTTP_TOKENS). Required with --http.")
    var httpTokens: String?
    @Option(help: "Largest HTTP request body, bytes.")
    var httpMaxBody: Int = 10 << 20
    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = ProcessInfo.processInfo.environment["ROUTILUX_LOG_LEVEL"] ?? "info"

    func validate() throws {
        try EndpointArguments.check(bind, what: "--bind", forBinding: true)
        if !(1...WireLimits.maxCredit).contains(maxCredit) { throw ValidationError("--max-credit must be 1 to \(WireLimits.maxCredit)") }
        if !(1...100_000).contains(maxWorkersJoined) { throw ValidationError("--max-workers-joined must be 1 to 100000") }
        if finishedJobsBytes < 0 { throw ValidationError("--finished-jobs-memory must not be negative") }
        if !(100...100_000_000).contains(maxQueuedInMemory) { throw ValidationError("--max-queued-in-memory must be 100 to 100000000") }
        if historyInMemory != 0 && !(100...100_000_000).contains(historyInMemory) { throw ValidationError("--history-in-memory must be 0 or 100 to 100000000") }
        if !(0...WireLimits.maxPartWindow).contains(partWindow) { throw ValidationError("--part-window must be 0 to \(WireLimits.maxPartWindow)") }
        if maxResultBytes < 1024 { throw ValidationError("--max-result-bytes must be at least 1024") }
        if !(1024...(1 << 30)).contains(httpMaxBody) { throw ValidationError("--http-max-body must be 1024 to 1073741824") }
    }

    /// The HTTP API's address and tokens (nil: no --http); refused as one line, exit 2.
    func httpSetup() throws -> (host: String, port: Int, tokens: BearerTokens)? {
        guard let http else { return nil }
        let (host, port) = try HTTPServer.parseAddress(http)
        if !HTTPServer.isLoopback(host) && !insecure {
            throw BadConfiguration("--http \(http): plaintext HTTP off loopback would send bearer tokens and payloads in the clear; bind 127.0.0.1 (behind a TLS proxy) or give --insecure")
        }
        guard let file = httpTokens ?? environmentValue("ROUTILUX_HTTP_TOKENS") else {
            throw BadConfiguration("--http needs --http-tokens FILE (lines of `TOKEN [NAME] [read-only]`; make one with `openssl rand -hex 32 > tokens`)")
        }
        return (host, port, try BearerTokens.load(file))
    }

    /// The CURVE set-up, or nil for plaintext (refused on an exposed address without --insecure).
    func security() throws -> CoordinatorSecurity? {
        let secret = curveSecret ?? environmentValue("ROUTILUX_CURVE_SECRET")
        let authorizedKeys = authorizedKeys ?? environmentValue("ROUTILUX_AUTHORIZED_KEYS")
        switch (secret, authorizedKeys) {
        case (let s?, let dir?):
            do {
                // The directory is read (and checked) once, by the service's first reloadKeys.
                return CoordinatorSecurity(keys: try CurveCertificates.loadSecret(s), authorizedKeysDir: dir)
            } catch {
                throw BadConfiguration(error.description)
            }
        case (_?, nil): throw BadConfiguration("--curve-secret needs --authorized-keys DIR (the worker and client keys to let in)")
        case (nil, _?): throw BadConfiguration("--authorized-keys needs --curve-secret FILE (the coordinator's secret key)")
        case (nil, nil):
            if isExposed(bind) && !insecure {
                throw BadConfiguration("--bind " + CurveArguments.plaintextRefusal(bind).replacingOccurrences(of: "--curve-secret and --coordinator-key", with: "--curve-secret and --authorized-keys"))
            }
            return nil
        }
    }

    func run() async throws {
        // Keys and plaintext first: a misconfiguration is one line, exit 2, before anything starts.
        let security = try security()
        let httpSetup: (host: String, port: Int, tokens: BearerTokens)?
        do { httpSetup = try self.httpSetup() } catch let e as BadConfiguration { throw e } catch {
            throw BadConfiguration("\(error)")
        }
        LogSetup.bootstrap(level: logLevel)
        // The state dir next: locked, checked, read (a second coordinator on it is refused here).
        let opened = try state.open(default: "routilux-state")
        raiseOpenFileLimit()
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
        var config = CoordinatorConfig(
            coordinatorId: "\(ProcessInfo.processInfo.hostName)-\(getpid())", heartbeatMs: heartbeatMs,
            workerTimeoutMs: workerTimeoutMs, maxCredit: maxCredit, maxWorkersJoined: maxWorkersJoined, maxMessageBytes: limit.maxMessageBytes,
            authenticated: security != nil, finishedJobsBytes: finishedJobsBytes)
        config.maxQueuedInMemory = maxQueuedInMemory
        config.historyInMemory = historyInMemory
        config.partWindow = partWindow
        config.maxResultBytes = maxResultBytes
        let log = Logger(label: "routilux.coordinator")
        if let (store, stored) = opened {
            log.info("state dir \(store.directory) (durability \(store.durability.rawValue)): \(stored.jobs.count) unfinished job(s) to continue, \(stored.finishedJobs) finished kept, \(stored.flows.count) flow(s)")
        } else {
            log.warning("--state-dir none: jobs are held in memory only; a coordinator restart loses them")
        }
        let service = CoordinatorService(
            limits: TransportLimits(maxMessageBytes: limit.maxMessageBytes), security: security, store: opened?.0, restored: opened?.1
        ) { [loaded, catalogue, config] in
            let core = CoordinatorCore(config: config, catalogue: catalogue, durable: opened != nil)
            for f in loaded { core.addFlow(f) }
            return core
        }
        if let security {
            do {
                let n = try service.reloadKeys()
                log.info("CURVE on: key \(CurveCertificates.fingerprint(security.keys.publicKey)); \(n.workers) worker key(s), \(n.clients) client key(s) from \(security.authorizedKeysDir)")
            } catch {
                FileHandle.standardError.write(Data("routilux-coordinator: \(error)\n".utf8))
                throw ExitCode(2)
            }
            ProcessSignals.onHangUp {
                do {
                    let n = try service.reloadKeys()
                    log.notice("SIGHUP: reloaded \(security.authorizedKeysDir): \(n.workers) worker key(s), \(n.clients) client key(s)")
                } catch {
                    log.error("SIGHUP: kept the previous keys: \(error)")
                }
            }
        } else if isExposed(bind) {
            log.warning("plaintext on \(bind) (--insecure): anyone who reaches it can join, submit and read payloads")
        }
        let endpoint: String
        do { endpoint = try await service.bind(bind) } catch {
            FileHandle.standardError.write(Data("routilux-coordinator: cannot bind \(bind): \(error)\n".utf8))
            throw ExitCode(1)
        }
        // One line on stdout that scripts (and tests) can read.
        FileHandle.standardOutput.write(Data("routilux-coordinator listening on \(endpoint)\n".utf8))
        log.info("listening on \(endpoint); flows: \(loaded.map(\.flowId).joined(separator: ", "))")
        // SIGTERM/SIGINT: waiters are told, new jobs refused, the journal committed, exit 0.
        let api = httpSetup.map { CoordinatorAPI(service: service, tokens: $0.tokens, maxBodyBytes: httpMaxBody) }
        try await runUntilSignalled(logger: log) {
            guard let httpSetup, let api else { return await service.run() }
            let (stopped, stop) = AsyncStream.makeStream(of: Void.self)
            async let server: Void = {
                do {
                    try await HTTPServer.run(api, host: httpSetup.host, port: httpSetup.port, logger: Logger(label: "routilux.http")) { url in
                        FileHandle.standardOutput.write(Data("routilux-coordinator http on \(url)\n".utf8))
                        log.info("HTTP API on \(url) (\(httpSetup.tokens.count) token(s))")
                    } until: {
                        for await _ in stopped {}
                    }
                } catch {
                    log.error("HTTP API on \(httpSetup.host):\(httpSetup.port) stopped: \(error)")
                }
            }()
            await service.run()
            stop.finish()
            await server
        } graceful: {
            service.stop()
        } immediate: {
            service.stop()
        }
        if let failure = service.failure {
            FileHandle.standardError.write(Data("routilux-coordinator: \(failure)\n".utf8))
            throw ExitCode(1)
        }
    }
}
