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

    /// The backlog scenario: a source emitting --items into a stage far slower than it.
    static let backlogFlow = """
        flow_id: bench
        routines:
          source: {type: Splitter, config: {field: items}}
          slow: {type: Delay, config: {seconds: 30}}
          sink: {type: Collector}
        connections:
          - {from: source.item, to: slow.input}
          - {from: slow.output, to: sink.input}
        execution: {strategy: concurrent, max_workers: 2}
        """

    @Option(help: "pipeline: throughput (one JSON line); journal: interleaved rounds with the journal off and on (--journal DIR for where), their medians and ratio; memory: --jobs sequential jobs, the coordinator's RSS before and after; backlog: one source emitting --items into a slow stage, the coordinator's peak RSS once they are all queued (with --journal DIR, as a coordinator runs by default).")
    var scenario = "pipeline"
    @Option(help: "With --scenario journal: rounds (each runs the journal off, then on).")
    var rounds = 3
    @Option(help: "With --scenario memory: sequential jobs.")
    var jobs = 100

    func run() async throws {
        LogSetup.bootstrap(level: "warning")
        guard items > 0, workers > 0, concurrency > 0, maxInFlight > 0, runs > 0, rounds > 0, jobs > 0 else {
            throw ValidationError("--items, --workers, --concurrency, --max-in-flight, --runs, --rounds and --jobs must be positive")
        }
        switch scenario {
        case "pipeline":
            let seconds = try await measure(journal: journal == "none" ? nil : journal, timed: runs)
            print(line(seconds, journal: journal == "none" ? "off" : durability).jsonString())
        case "journal":
            let dir = journal == "none" ? FileManager.default.temporaryDirectory.path : journal
            var off: [Double] = []
            var on: [Double] = []
            var ratios: [Double] = []
            for _ in 0..<rounds {
                let a = median(try await measure(journal: nil, timed: runs))
                let b = median(try await measure(journal: dir, timed: runs))
                off.append(a)
                on.append(b)
                ratios.append(a / b)  // throughput on / off = time off / time on
            }
            let r: JSONValue = [
                "benchmark": "journal", "items": .int(items), "rounds": .int(rounds), "runs": .int(runs), "durability": .string(durability),
                "items_per_s_off": .double(round3(Double(items) / median(off))), "items_per_s_on": .double(round3(Double(items) / median(on))),
                "ratio_on_off_median": .double(round3(median(ratios))), "ratio_min": .double(round3(ratios.min()!)), "ratio_max": .double(round3(ratios.max()!)),
            ]
            print(r.jsonString())
        case "memory":
            try await memory()
        case "backlog":
            try await backlog()
        default:
            throw ValidationError("--scenario must be pipeline, journal, memory or backlog")
        }
    }

    func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    func line(_ seconds: [Double], journal: String) -> JSONValue {
        let median = median(seconds)
        // Deliveries: every task the coordinator dispatched (the entry task plus one per item per stage).
        let deliveries = 1 + 3 * items
        return [
            "benchmark": "pipeline4", "items": .int(items), "workers": .int(workers), "concurrency": .int(concurrency),
            "max_in_flight": .int(maxInFlight), "link": .string(link), "curve": .bool(curve), "runs": .int(runs),
            "journal": .string(journal),
            "seconds_median": .double(round3(median)),
            "items_per_s": .double(round3(Double(items) / median)),
            "deliveries_per_s": .double(round3(Double(deliveries) / median)),
            "seconds_each": .array(seconds.map { .double(round3($0)) }),
        ]
    }

    /// A cluster (journalling under `journal` when given) running `timed` jobs after one warm-up; their durations.
    func measure(journal: String?, timed: Int) async throws -> [Double] {
        let cluster = try await startCluster(journal: journal)
        defer { if let d = cluster.1 { try? FileManager.default.removeItem(atPath: d) } }
        let params = RawJSON(.object(["items": .array((0..<items).map { ["i": .int($0), "text": "hello world"] })]))
        var seconds: [Double] = []
        for round in 0...timed {
            let start = ContinuousClock.now
            try await runJob(cluster.0, params)
            let elapsed = ContinuousClock.now - start
            if round > 0 { seconds.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) }
        }
        await cluster.0.stop()
        return seconds
    }

    func startCluster(journal: String?, flow text: String = Self.flow) async throws -> (LocalCluster, String?) {
        let catalogue = Builtins.registry.catalogue
        let doc = try FlowLoader.parseDocument(Array(text.utf8), isJSON: false, file: "bench")
        let flow = try FlowLoader.build(doc, file: "bench", defaultFlowId: "bench", catalogue: catalogue)
        var store: (JobStore, StoredState)?
        let stateDir = journal.map { $0 + "/routilux-bench-state-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" }
        if let stateDir {
            let s = try JobStore(directory: stateDir, durability: JobStore.Durability(rawValue: durability) ?? .normal)
            store = (s, try s.load())
        }
        let cluster = try LocalCluster(
            workerExecutable: URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path,
            workers: workers, concurrency: concurrency, link: link == "ipc" ? .ipc : .tcp, catalogue: catalogue,
            flows: [flow], curve: curve, store: store)
        do { _ = try await cluster.start() } catch {
            await cluster.stop()
            throw error
        }
        return (cluster, stateDir)
    }

    func runJob(_ cluster: LocalCluster, _ params: RawJSON) async throws {
        let reply = await cluster.service.submit(SubmitRequest(flow: .id("bench"), params: params, maxWorkers: maxInFlight, wait: true))
        guard reply.ok, let state = reply.jobState, state.status == .completed, state.outputLog.count == items else {
            let why = reply.error ?? "status \(reply.jobState?.status.rawValue ?? "?"), \(reply.jobState?.outputLog.count ?? 0) of \(items) items"
            await cluster.stop()
            throw ValidationError("benchmark job did not complete: \(why)\n\(cluster.workerLogs())")
        }
    }

    /// `jobs` sequential jobs on one coordinator: its RSS (this process) before and after, and the finished-jobs budget.
    func memory() async throws {
        let cluster = try await startCluster(journal: journal == "none" ? nil : journal)
        defer { if let d = cluster.1 { try? FileManager.default.removeItem(atPath: d) } }
        let params = RawJSON(.object(["items": .array((0..<items).map { ["i": .int($0), "text": "hello world"] })]))
        try await runJob(cluster.0, params)
        let before = residentBytes()
        var peak = before
        for _ in 0..<jobs {
            try await runJob(cluster.0, params)
            peak = max(peak, residentBytes())
        }
        let after = residentBytes()
        await cluster.0.stop()
        let r: JSONValue = [
            "benchmark": "memory_sequential", "items": .int(items), "jobs": .int(jobs), "journal": .string(journal == "none" ? "off" : durability),
            "rss_mb_after_first": .double(round3(Double(before) / 1_048_576)), "rss_mb_after": .double(round3(Double(after) / 1_048_576)),
            "rss_mb_peak": .double(round3(Double(peak) / 1_048_576)),
            "finished_jobs_budget_mb": .double(round3(Double(CoordinatorConfig(coordinatorId: "x").finishedJobsBytes) / 1_048_576)),
        ]
        print(r.jsonString())
    }

    /// One source activation emits `items` items into a stage that holds each for 30 s: the
    /// coordinator (this process) stages its parts, then queues every item (beyond the in-memory
    /// bound, in the store). Its peak RSS from start to the whole backlog queued.
    func backlog() async throws {
        let cluster = try await startCluster(journal: journal == "none" ? nil : journal, flow: Self.backlogFlow)
        defer { if let d = cluster.1 { try? FileManager.default.removeItem(atPath: d) } }
        let service = cluster.0.service
        // The params as bytes (a parsed tree of a million items would weigh on this process's RSS).
        var params = Array("{\"items\":[".utf8)
        params.reserveCapacity(8 * items + 16)
        for i in 0..<items {
            if i > 0 { params.append(0x2C) }
            params += String(i).utf8
        }
        params += Array("]}".utf8)
        let start = residentBytes()
        let began = ContinuousClock.now
        let reply = await service.submit(SubmitRequest(flow: .id("bench"), params: RawJSON(bytes: params), wait: false))
        params = []
        guard reply.ok, let job = reply.jobId else { throw ValidationError("submit failed: \(reply.error ?? "?")") }
        var counters = JSONValue.null
        while true {
            counters = (await service.status()).clusterStatus ?? .null
            if ProcessInfo.processInfo.environment["BENCH_TRACE"] != nil {
                FileHandle.standardError.write(Data("\(ContinuousClock.now - began) parts \(counters["counters"]["parts_staged"]) deliveries \(counters["counters"]["deliveries"]) results \(counters["counters"]["results_accepted"])\n".utf8))
            }
            if counters["counters"]["streamed_results_routed"].intValue ?? 0 >= 1 || counters["counters"]["deliveries"].intValue ?? 0 >= items + 1 { break }
            if ContinuousClock.now - began > .seconds(1800) { throw ValidationError("the backlog was not queued within 30 minutes: \(counters.jsonString())") }
            try await Task.sleep(for: .milliseconds(200))
        }
        let elapsed = ContinuousClock.now - began
        let peak = residentBytes(field: "VmHWM:")
        let now = residentBytes()
        _ = await service.control(JobControl(jobId: job, operation: .cancel(reason: "benchmark over")))
        await cluster.0.stop()
        let r: JSONValue = [
            "benchmark": "backlog", "items": .int(items), "journal": .string(journal == "none" ? "off" : durability),
            "parts_staged": counters["counters"]["parts_staged"], "queued_in_memory": counters["queued_in_memory"],
            "queued_in_store": counters["queued_in_store"],
            "seconds_to_queue": .double(round3(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)),
            "rss_mb_before": .double(round3(Double(start) / 1_048_576)), "rss_mb_peak": .double(round3(Double(peak) / 1_048_576)),
            "rss_mb_queued": .double(round3(Double(now) / 1_048_576)),
        ]
        print(r.jsonString())
    }

    /// This process's resident set (VmRSS; or another field of /proc/self/status, VmHWM its peak), bytes.
    func residentBytes(field: String = "VmRSS:") -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = s.split(separator: "\n").first(where: { $0.hasPrefix(field) })
        else { return 0 }
        return (Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0) * 1024
    }

    private func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
}
