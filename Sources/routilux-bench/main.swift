import ArgumentParser
import Foundation
import Logging
import RoutiluxBuiltins
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxStore
import RoutiluxTransport
import RoutiluxWorker

// The benchmark starts its worker processes from its own binary (`routilux-bench
// join ...` is the stock worker), so `swift run -c release routilux-bench` needs
// nothing else built.
if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "join" {
    await WorkerCommand.main(registry: Builtins.registry)
} else {
    await runBench()
}

/// The async entry (at top level, `Bench.main()` would pick the synchronous overload).
func runBench() async { await Bench.main() }

/// Throughput of the 4-stage linear pipeline over real worker processes.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routilux-bench",
        abstract: "Runs source → stage → stage → sink over worker processes and prints items/s as one JSON line.")

    @Option(help: "Items per job.")
    var items = 20_000
    @Option(help: "Worker processes.")
    var workers = 2
    @Option(help: "Handlers each worker runs at once.")
    var concurrency = 4
    @Option(help: "The job's max tasks in flight (execution.max_workers).")
    var maxInFlight = 64
    @Option(help: "Timed runs (the median is reported); one untimed warm-up run comes first.")
    var runs = 3
    @Option(help: "Link: tcp (loopback) or ipc.")
    var link = "tcp"
    @Flag(help: "CURVE on every link (keys made for the run).")
    var curve = false
    @Option(help: "Journal to a fresh state dir under this directory (the coordinator's default is on); 'none': memory only.")
    var journal = "none"
    @Option(help: "With --journal: normal or full (an fsync per commit).")
    var durability = "normal"

    static let flow = """
        flow_id: bench
        routines:
          source: {type: Splitter, config: {field: items}}
          stage1:
            type: Mapper
            config: {mappings: {len: {path: text, transform: length}}}
          stage2:
            type: Mapper
            config: {mappings: {upper: {path: text, transform: upper}}}
          sink: {type: Collector}
        connections:
          - {from: source.item, to: stage1.input, param_mapping: {item: data}}
          - {from: stage1.output, to: stage2.input, param_mapping: {mapped_data: data}}
          - {from: stage2.output, to: sink.input, param_mapping: {mapped_data: data}}
        execution: {strategy: concurrent, max_workers: 64}
        """

    func run() async throws {
        LogSetup.bootstrap(level: "warning")
        guard items > 0, workers > 0, concurrency > 0, maxInFlight > 0, runs > 0 else {
            throw ValidationError("--items, --workers, --concurrency, --max-in-flight and --runs must be positive")
        }
        let catalogue = Builtins.registry.catalogue
        let doc = try FlowLoader.parseDocument(Array(Self.flow.utf8), isJSON: false, file: "bench")
        let flow = try FlowLoader.build(doc, file: "bench", defaultFlowId: "bench", catalogue: catalogue)
        var store: (JobStore, StoredState)?
        let stateDir = journal == "none" ? nil : journal + "/routilux-bench-state-\(getpid())"
        if let stateDir {
            let s = try JobStore(directory: stateDir, durability: JobStore.Durability(rawValue: durability) ?? .normal)
            store = (s, try s.load())
        }
        defer { if let stateDir { try? FileManager.default.removeItem(atPath: stateDir) } }
        let cluster = try LocalCluster(
            workerExecutable: URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path,
            workers: workers, concurrency: concurrency, link: link == "ipc" ? .ipc : .tcp, catalogue: catalogue,
            flows: [flow], curve: curve, store: store)
        do { _ = try await cluster.start() } catch {
            await cluster.stop()
            throw error
        }
        let params = RawJSON(.object(["items": .array((0..<items).map { ["i": .int($0), "text": "hello world"] })]))
        var seconds: [Double] = []
        for round in 0...runs {
            let start = ContinuousClock.now
            let reply = await cluster.service.submit(
                SubmitRequest(flow: .id("bench"), params: params, maxWorkers: maxInFlight, wait: true))
            let elapsed = ContinuousClock.now - start
            guard reply.ok, let state = reply.jobState, state.status == .completed, state.outputLog.count == items else {
                let why = reply.error ?? "status \(reply.jobState?.status.rawValue ?? "?"), \(reply.jobState?.outputLog.count ?? 0) of \(items) items"
                await cluster.stop()
                throw ValidationError("benchmark job did not complete: \(why)\n\(cluster.workerLogs())")
            }
            if round > 0 { seconds.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) }
        }
        await cluster.stop()
        let median = seconds.sorted()[seconds.count / 2]
        // Deliveries: every task the coordinator dispatched (the entry task plus one per item per stage).
        let deliveries = 1 + 3 * items
        let line: JSONValue = [
            "benchmark": "pipeline4", "items": .int(items), "workers": .int(workers), "concurrency": .int(concurrency),
            "max_in_flight": .int(maxInFlight), "link": .string(link), "curve": .bool(curve), "runs": .int(runs),
            "journal": .string(journal == "none" ? "off" : durability),
            "seconds_median": .double(round3(median)),
            "items_per_s": .double(round3(Double(items) / median)),
            "deliveries_per_s": .double(round3(Double(deliveries) / median)),
            "seconds_each": .array(seconds.map { .double(round3($0)) }),
        ]
        print(line.jsonString())
    }

    private func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
}
