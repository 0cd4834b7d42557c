import ArgumentParser
import Foundation
import Logging
import RoutiluxBuiltins
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxStore
import RoutiluxTransport
import Synchronization

/// What ends `routilux run`'s wait.
private enum Either: Sendable {
    case reply(ControlReply)
    case workerExit(String?)
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one job of a flow on an embedded coordinator and local worker processes.",
        discussion: "Exits 0 iff the job completed, 1 if it did not, 2 on invalid input (nothing starts).")

    @Argument(help: "The flow file (YAML or JSON).")
    var flowFile: String
    @Option(help: "Entry point ROUTINE or ROUTINE.SLOT (default: the flow's entry, slot 'trigger').")
    var entry: String?
    @Option(help: "Job params: a JSON object, or @FILE.")
    var params: String?
    @Option(help: "Worker processes to start, and the job's max tasks in flight (default: execution.max_workers).")
    var maxWorkers: Int?
    @Option(help: "Write the final JobState as JSON to this file.")
    var output: String?
    @Flag(help: "Print the final JobState as JSON instead of a summary.")
    var json = false
    @Option(help: "Worker executable (default: routilux-worker beside this one). A custom worker's routine types are learned when its processes join.")
    var worker: String?
    @Option(help: "Link between coordinator and workers: ipc or tcp (loopback).")
    var link: String = "ipc"
    @Option(help: "Journal the job in this directory (default: memory only): a run interrupted or killed continues when `routilux run` is given the same flow and directory again.")
    var stateDir: String?
    @Option(help: "Log level for the embedded coordinator.")
    var logLevel: String = ProcessInfo.processInfo.environment["ROUTILUX_LOG_LEVEL"] ?? "warning"

    func run() async throws {
        bootstrapLogging(logLevel)
        if let m = maxWorkers, m < 1 { throw fail("--max-workers must be at least 1", code: Exit.badInput) }
        guard link == "ipc" || link == "tcp" else { throw fail("--link must be ipc or tcp", code: Exit.badInput) }
        let workerPath = worker ?? siblingExecutable("routilux-worker")
        // Builtins are checked now; a custom worker's own types are described by
        // the worker processes when they join, before the job starts.
        let catalogue = Builtins.registry.catalogue
        var flow: FlowDefinition
        let jobParams: JSONValue
        do {
            flow = try FlowLoader.load(file: flowFile, catalogue: catalogue, allowUnknownTypes: worker != nil)
            if let e = parseEntry(entry) {
                try FlowLoader.checkEntry(&flow, entry: e, catalogue: catalogue, file: flowFile, path: "--entry")
            }
            jobParams = try parseParams(params)
        } catch {
            throw fail("\(error)", code: Exit.badInput)
        }
        let workers = maxWorkers ?? flow.execution.maxWorkers
        var opened: (JobStore, StoredState)?
        if let stateDir {
            do {
                let store = try JobStore(directory: stateDir)
                opened = (store, try store.load())
            } catch {
                throw fail("\(error)", code: Exit.badInput)
            }
        }
        // An unfinished job of this flow in the state dir is continued rather than a new one started.
        let unfinished = opened?.1.jobs.first { (try? JSONValue.parse($0.meta))?["state"]["flow_id"].stringValue == flow.flowId }
        if let u = unfinished {
            FileHandle.standardError.write(Data("routilux: continuing job \(u.jobId) (\(u.status)) from \(stateDir ?? "")\n".utf8))
        }
        // Plaintext on a private ipc directory or loopback: nothing to make keys for.
        let cluster = try LocalCluster(
            workerExecutable: workerPath, workers: workers, concurrency: 1, link: link == "ipc" ? .ipc : .tcp,
            catalogue: catalogue, flows: [flow], store: opened)
        // Ctrl-C or SIGTERM: stop the embedded coordinator, so the workers are stopped and the temp dir removed.
        let interrupted = Atomic<Bool>(false)
        ProcessSignals.onTerminate { _ in
            interrupted.store(true, ordering: .relaxed)
            cluster.service.stop()
        }
        do { _ = try await cluster.start() } catch {
            await cluster.stop()
            if interrupted.load(ordering: .relaxed) { throw fail("interrupted; the local workers were stopped", code: Exit.notCompleted) }
            throw fail("\(error)", code: Exit.notCompleted)
        }
        let started = Date()
        // Every worker has joined: a type none of them hosts will never run (fail fast).
        let request = SubmitRequest(
            flow: .id(flow.flowId), params: RawJSON(jobParams), maxWorkers: workers, wait: true, untilPaused: true, failFast: true)
        // The job's answer, unless a local worker process dies first (then nothing could finish it).
        let outcome = await withTaskGroup(of: Either.self) { group in
            group.addTask {
                guard let u = unfinished else { return .reply(await cluster.service.submit(request)) }
                // A paused one is shown as it is (this command cannot resume it).
                return .reply(await cluster.service.query(jobId: u.jobId, wait: u.status != "paused"))
            }
            group.addTask { .workerExit(await cluster.firstWorkerExit()) }
            let first = await group.next()!
            group.cancelAll()
            // Stopping the coordinator answers the pending submit, so the group can end.
            if case .workerExit = first { cluster.service.stop() }
            return first
        }
        let elapsed = Date().timeIntervalSince(started)
        await cluster.stop()
        if interrupted.load(ordering: .relaxed) { throw fail("interrupted; the local workers were stopped", code: Exit.notCompleted) }
        guard case .reply(let reply) = outcome else {
            if case .workerExit(let why?) = outcome { throw fail(why, code: Exit.notCompleted) }
            throw fail("the job did not run", code: Exit.notCompleted)
        }
        guard reply.ok, let state = reply.jobState else {
            // Refused before it started: the flow does not fit the workers' routine types.
            // (A stopped coordinator is not the flow's fault: exit 1.)
            let stopped = reply.error == "coordinator stopped"
            throw fail("\(flowFile): \(reply.error ?? "the job did not run")", code: reply.ok || stopped ? Exit.notCompleted : Exit.badInput)
        }
        if let output {
            try writeJobState(state, to: output)
        }
        writeStdout(json ? state.json.jsonString(pretty: true) : summarize(state, elapsed: elapsed))
        if state.status == .paused {
            let reason = state.pausePoints.last?["reason"].stringValue ?? ""
            let hint = output.map { "its state is in \($0); continue it on a coordinator with `routilux job resume --from \($0) --coordinator ENDPOINT`" }
                ?? "run again with --output FILE to keep its state, then `routilux job resume --from FILE --coordinator ENDPOINT`"
            FileHandle.standardError.write(Data("routilux: job paused\(reason.isEmpty ? "" : " (\(reason))"): \(hint)\n".utf8))
        }
        if state.status != .completed { throw Exit.notCompleted }
    }
}
