import ArgumentParser
import Foundation
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxTransport

/// The benchmark: `--scenario suite` (what `make bench` runs) measures everything against the
/// peers in one run; the other scenarios measure one thing each and print one JSON line.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routilux-bench",
        abstract: "Measures Routilux over real worker processes, against its peers (Python routilux, a pyzmq relay) in the same run.")

    @Option(help: "suite: every scenario with the peers, interleaved, as a table and one JSON line per row; pipeline: the linear 4-stage throughput (one JSON line); journal: rounds with the journal off and on, their medians and ratio; memory: --jobs sequential jobs, the coordinator's RSS before and after; backlog: one source emitting --items into a slow stage, the coordinator's peak RSS once they are all queued; retained: RSS kept per completed item over --jobs jobs.")
    var scenario = "suite"
    @Option(help: "Items per linear job.")
    var items = 20_000
    @Option(help: "Items per fan-out job (8 deliveries each).")
    var fanoutItems = 5_000
    @Option(help: "Worker processes.")
    var workers = 2
    @Option(help: "Handlers each worker runs at once.")
    var concurrency = 4
    @Option(help: "The job's max tasks in flight (execution.max_workers).")
    var maxInFlight = 64
    @Option(help: "With pipeline: timed runs (the median is reported) after one untimed warm-up run.")
    var runs = 3
    @Option(help: "Link: tcp (loopback) or ipc.")
    var link = "tcp"
    @Flag(help: "CURVE on every link (keys made for the run).")
    var curve = false
    @Option(help: "Journal to a fresh state dir under this directory; 'none': memory only. (suite: where the features-on runs journal; default the temp dir.)")
    var journal = "none"
    @Option(help: "With a journal: normal or full (an fsync per commit).")
    var durability = "normal"
    @Option(help: "suite and journal: interleaved rounds.")
    var rounds = 3
    @Option(help: "memory and retained: sequential jobs.")
    var jobs = 100
    @Option(help: "suite: single-item jobs timed for the hop latency.")
    var hopJobs = 300
    @Option(help: "suite: items through the CPU-bound stage.")
    var spinItems = 300
    @Option(help: "suite: CPU microseconds per item of that stage.")
    var cpuUs = 2000
    @Option(help: "suite: only these scenarios (comma-separated: linear, fanout, hop, scaling, start).")
    var only: String?
    @Option(help: "suite: the peer scripts.")
    var peersDir = "bench/peers"
    @Option(help: "suite: where `make bench-peers` put the venvs (venv-1.1.0, venv-0.10.0).")
    var venvDir = ".build/peers"

    func run() async throws {
        LogSetup.bootstrap(level: "warning")
        guard items > 0, fanoutItems > 0, workers > 0, concurrency > 0, maxInFlight > 0, runs > 0, rounds > 0, jobs > 0, hopJobs > 0, spinItems > 0, cpuUs >= 0
        else { throw ValidationError("counts must be positive") }
        var setup = ClusterSetup()
        setup.workers = workers
        setup.concurrency = concurrency
        setup.link = link == "ipc" ? .ipc : .tcp
        setup.curve = curve
        setup.journalDir = journal == "none" ? nil : journal
        setup.durability = durability
        switch scenario {
        case "suite":
            let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
            var suite = Suite(
                rounds: rounds, items: items, fanoutItems: fanoutItems, hopJobs: hopJobs, spinItems: spinItems, cpuMicros: cpuUs,
                maxInFlight: maxInFlight, concurrency: concurrency, peersDir: peersDir, venvDir: venvDir, routilux: binDir + "/routilux",
                coordinator: binDir + "/routilux-coordinator", journalDir: journal == "none" ? FileManager.default.temporaryDirectory.path : journal,
                only: only.map { Set($0.split(separator: ",").map(String.init)) })
            try await suite.run()
        case "pipeline":
            print(try await pipeline(setup).jsonString())
        case "journal":
            var off: [Double] = [], on: [Double] = [], ratios: [Double] = []
            var journalled = setup
            journalled.journalDir = journal == "none" ? FileManager.default.temporaryDirectory.path : journal
            var plain = setup
            plain.journalDir = nil
            for _ in 0..<rounds {
                let a = try await OurRuns.throughput(flow: BenchFlows.linear, flowId: "linear", items: items, outputsPerItem: 1, setup: plain, maxInFlight: maxInFlight)
                let b = try await OurRuns.throughput(flow: BenchFlows.linear, flowId: "linear", items: items, outputsPerItem: 1, setup: journalled, maxInFlight: maxInFlight)
                off.append(a)
                on.append(b)
                ratios.append(b / a)
            }
            let r: JSONValue = [
                "benchmark": "journal", "items": .int(items), "rounds": .int(rounds), "durability": .string(durability),
                "items_per_s_off": .double(Stats.round3(Stats.median(off))), "items_per_s_on": .double(Stats.round3(Stats.median(on))),
                "ratio_on_off_median": .double(Stats.round3(Stats.median(ratios))), "ratio_min": .double(Stats.round3(ratios.min()!)),
                "ratio_max": .double(Stats.round3(ratios.max()!)),
            ]
            print(r.jsonString())
        case "memory":
            try await memory(setup)
        case "retained":
            try await retained(setup)
        case "backlog":
            try await backlog(setup)
        default:
            throw ValidationError("--scenario must be suite, pipeline, journal, memory, retained or backlog")
        }
    }

    /// The linear 4-stage pipeline: `runs` timed jobs on one cluster after a warm-up.
    func pipeline(_ setup: ClusterSetup) async throws -> JSONValue {
        let seconds = try await BenchCluster.with(BenchFlows.linear, setup) { c in
            var seconds: [Double] = []
            for round in 0...runs {
                let (s, _) = try await c.run("linear", itemParams(items), maxInFlight: maxInFlight, outputs: items)
                if round > 0 { seconds.append(s) }
            }
            return seconds
        }
        let median = Stats.median(seconds)
        // Deliveries: every task the coordinator dispatched (the entry task plus one per item per stage).
        let deliveries = 1 + 3 * items
        return [
            "benchmark": "pipeline4", "items": .int(items), "workers": .int(workers), "concurrency": .int(concurrency),
            "max_in_flight": .int(maxInFlight), "link": .string(link), "curve": .bool(curve), "runs": .int(runs),
            "journal": .string(journal == "none" ? "off" : durability),
            "seconds_median": .double(Stats.round3(median)),
            "items_per_s": .double(Stats.round3(Double(items) / median)),
            "deliveries_per_s": .double(Stats.round3(Double(deliveries) / median)),
            "seconds_each": .array(seconds.map { .double(Stats.round3($0)) }),
        ]
    }

    /// `jobs` sequential jobs on one coordinator: its RSS (this process) before and after, and the finished-jobs budget.
    func memory(_ setup: ClusterSetup) async throws {
        let (before, after, peak) = try await BenchCluster.with(BenchFlows.linear, setup) { c in
            let params = itemParams(items)
            _ = try await c.run("linear", params, maxInFlight: maxInFlight, outputs: items)
            let before = ProcessRuns.residentBytes()
            var peak = before
            for _ in 0..<jobs {
                _ = try await c.run("linear", params, maxInFlight: maxInFlight, outputs: items)
                peak = max(peak, ProcessRuns.residentBytes())
            }
            return (before, ProcessRuns.residentBytes(), peak)
        }
        let r: JSONValue = [
            "benchmark": "memory_sequential", "items": .int(items), "jobs": .int(jobs), "journal": .string(journal == "none" ? "off" : durability),
            "rss_mb_after_first": .double(Stats.round3(Double(before) / 1_048_576)), "rss_mb_after": .double(Stats.round3(Double(after) / 1_048_576)),
            "rss_mb_peak": .double(Stats.round3(Double(peak) / 1_048_576)),
            "finished_jobs_budget_mb": .double(Stats.round3(Double(CoordinatorConfig(coordinatorId: "x").finishedJobsBytes) / 1_048_576)),
        ]
        print(r.jsonString())
    }

    /// What the coordinator (this process) keeps per completed item while finished jobs stay in memory:
    /// its RSS growth over `jobs` sequential linear jobs (after a first one), per item. Keep jobs × items
    /// within the finished-jobs budget, or the oldest are dropped and the figure falls.
    func retained(_ setup: ClusterSetup) async throws {
        let (before, after) = try await BenchCluster.with(BenchFlows.linear, setup) { c in
            let params = itemParams(items)
            _ = try await c.run("linear", params, maxInFlight: maxInFlight, outputs: items)
            MemoryRelease.trim()
            let before = ProcessRuns.residentBytes()
            for _ in 0..<jobs { _ = try await c.run("linear", params, maxInFlight: maxInFlight, outputs: items) }
            MemoryRelease.trim()
            return (before, ProcessRuns.residentBytes())
        }
        let r: JSONValue = [
            "benchmark": "retained_per_item", "items": .int(items), "jobs": .int(jobs), "journal": .string(journal == "none" ? "off" : durability),
            "rss_mb_before": .double(Stats.round3(Double(before) / 1_048_576)), "rss_mb_after": .double(Stats.round3(Double(after) / 1_048_576)),
            "bytes_per_item": .double(Stats.round1(Double(after - before) / Double(jobs * items))),
        ]
        print(r.jsonString())
    }

    /// One source activation emits `items` items into a stage that holds each for 30 s: the
    /// coordinator (this process) stages its parts, then queues every item (beyond the in-memory
    /// bound, in the store). Its peak RSS from start to the whole backlog queued.
    func backlog(_ setup: ClusterSetup) async throws {
        let c = try await BenchCluster.start(BenchFlows.backlog, setup)
        let service = c.cluster.service
        // The params as bytes (a parsed tree of a million items would weigh on this process's RSS).
        var params = Array("{\"items\":[".utf8)
        params.reserveCapacity(8 * items + 16)
        for i in 0..<items {
            if i > 0 { params.append(0x2C) }
            params += String(i).utf8
        }
        params += Array("]}".utf8)
        let start = ProcessRuns.residentBytes()
        let began = ContinuousClock.now
        let reply = await service.submit(SubmitRequest(flow: .id("bench"), params: RawJSON(bytes: params), wait: false))
        params = []
        guard reply.ok, let job = reply.jobId else {
            await c.stop()
            throw ValidationError("submit failed: \(reply.error ?? "?")")
        }
        var counters = JSONValue.null
        while true {
            counters = (await service.status()).clusterStatus ?? .null
            if counters["counters"]["streamed_results_routed"].intValue ?? 0 >= 1 || counters["counters"]["deliveries"].intValue ?? 0 >= items + 1 { break }
            if ContinuousClock.now - began > .seconds(1800) {
                await c.stop()
                throw ValidationError("the backlog was not queued within 30 minutes: \(counters.jsonString())")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        let elapsed = ContinuousClock.now - began
        let peak = ProcessRuns.residentBytes(field: "VmHWM:")
        let now = ProcessRuns.residentBytes()
        _ = await service.control(JobControl(jobId: job, operation: .cancel(reason: "benchmark over")))
        await c.stop()
        let r: JSONValue = [
            "benchmark": "backlog", "items": .int(items), "journal": .string(journal == "none" ? "off" : durability),
            "parts_staged": counters["counters"]["parts_staged"], "queued_in_memory": counters["queued_in_memory"],
            "queued_in_store": counters["queued_in_store"],
            "seconds_to_queue": .double(Stats.round3(seconds(elapsed))), "rss_mb_before": .double(Stats.round3(Double(start) / 1_048_576)),
            "rss_mb_peak": .double(Stats.round3(Double(peak) / 1_048_576)), "rss_mb_queued": .double(Stats.round3(Double(now) / 1_048_576)),
        ]
        print(r.jsonString())
    }
}
