import Foundation
import Histogram
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxStore

/// How a cluster of ours is set up for one measurement.
struct ClusterSetup: Sendable {
    var workers = 2
    var concurrency = 4
    var link: LocalCluster.Link = .tcp
    var curve = false
    /// Journal to a fresh state dir under this directory (nil: memory only).
    var journalDir: String?
    var durability = "normal"

    /// How the table names it.
    var label: String {
        "\(link == .tcp ? "tcp" : "ipc")\(curve ? "+curve" : "")\(journalDir != nil ? "+journal" : "")"
    }
}

/// A coordinator in this process and worker processes (this binary's `join`), for one measurement.
struct BenchCluster {
    let cluster: LocalCluster
    let stateDir: String?

    static func start(_ flowText: String, _ setup: ClusterSetup) async throws -> BenchCluster {
        let catalogue = BenchRoutines.registry.catalogue
        let doc = try FlowLoader.parseDocument(Array(flowText.utf8), isJSON: false, file: "bench")
        let flow = try FlowLoader.build(doc, file: "bench", defaultFlowId: "bench", catalogue: catalogue)
        var store: (JobStore, StoredState)?
        let stateDir = setup.journalDir.map { $0 + "/routilux-bench-state-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" }
        if let stateDir {
            let s = try JobStore(directory: stateDir, durability: JobStore.Durability(rawValue: setup.durability) ?? .normal)
            store = (s, try s.load())
        }
        let cluster = try LocalCluster(
            workerExecutable: URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path,
            workers: setup.workers, concurrency: setup.concurrency, link: setup.link, catalogue: catalogue,
            flows: [flow], curve: setup.curve, store: store)
        do { _ = try await cluster.start() } catch {
            await cluster.stop()
            throw error
        }
        return BenchCluster(cluster: cluster, stateDir: stateDir)
    }

    /// Runs one job to its end; its duration and final state. Fails unless it completed with `outputs` outputs.
    func run(_ flowId: String, _ params: RawJSON, maxInFlight: Int, outputs: Int) async throws -> (seconds: Double, state: JobState) {
        let start = ContinuousClock.now
        let reply = await cluster.service.submit(SubmitRequest(flow: .id(flowId), params: params, maxWorkers: maxInFlight, wait: true))
        let elapsed = ContinuousClock.now - start
        guard reply.ok, let state = reply.jobState, state.status == .completed, state.outputs.count == outputs else {
            let why = reply.error ?? "status \(reply.jobState?.status.rawValue ?? "?"), \(reply.jobState?.outputs.count ?? 0) of \(outputs) outputs"
            throw BenchError("\(flowId) job did not complete: \(why)\n\(cluster.workerLogs())")
        }
        return (seconds(elapsed), state)
    }

    func stop() async {
        await cluster.stop()
        if let d = stateDir { try? FileManager.default.removeItem(atPath: d) }
    }

    /// Starts a cluster, runs `body` on it and stops it, whether `body` returns or throws.
    static func with<T>(_ flowText: String, _ setup: ClusterSetup, _ body: (BenchCluster) async throws -> T) async throws -> T {
        let c = try await start(flowText, setup)
        do {
            let r = try await body(c)
            await c.stop()
            return r
        } catch {
            await c.stop()
            throw error
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

/// The items every throughput job splits: `{"i": n, "text": "hello world"}`.
func itemParams(_ n: Int) -> RawJSON {
    RawJSON(.object(["items": .array((0..<n).map { ["i": .int($0), "text": "hello world"] })]))
}

/// The measurements of ours.
enum OurRuns {
    /// Items per second of one job of `items` through `flow` (after a warm-up job of a quarter of them).
    static func throughput(flow: String, flowId: String, items: Int, outputsPerItem: Int, setup: ClusterSetup, maxInFlight: Int) async throws -> Double {
        try await BenchCluster.with(flow, setup) { c in
            _ = try await c.run(flowId, itemParams(max(1, items / 4)), maxInFlight: maxInFlight, outputs: max(1, items / 4) * outputsPerItem)
            let (s, _) = try await c.run(flowId, itemParams(items), maxInFlight: maxInFlight, outputs: items * outputsPerItem)
            return Double(items) / s
        }
    }

    /// Hops (emission → the next handler's start) of `jobs` single-item jobs run one after another.
    static func hopsAtLightLoad(jobs: Int, setup: ClusterSetup) async throws -> Latency {
        try await BenchCluster.with(BenchFlows.hop, setup) { c in
            var h = Latency()
            for i in 0..<(jobs + 20) {
                let (_, state) = try await c.run("hop", RawJSON(["i": .int(i)]), maxInFlight: 64, outputs: 1)
                if i >= 20 { h.record(state) }  // the first 20 warm up
            }
            return h
        }
    }

    /// Hops of every item of one job of `items` (each stamped by one stage, measured by the next).
    static func hopsUnderLoad(items: Int, setup: ClusterSetup, maxInFlight: Int) async throws -> (Latency, itemsPerSecond: Double) {
        try await BenchCluster.with(BenchFlows.hopLoad, setup) { c in
            _ = try await c.run("hop_load", itemParams(max(1, items / 4)), maxInFlight: maxInFlight, outputs: max(1, items / 4))
            let (s, state) = try await c.run("hop_load", itemParams(items), maxInFlight: maxInFlight, outputs: items)
            var h = Latency()
            h.record(state)
            return (h, Double(items) / s)
        }
    }

    /// Seconds for `items` through a CPU-bound stage of `cpuMicros` per item on `workers` worker processes, one handler each.
    static func spin(items: Int, cpuMicros: Int, workers: Int) async throws -> Double {
        var setup = ClusterSetup()
        setup.workers = workers
        setup.concurrency = 1
        return try await BenchCluster.with(BenchFlows.spin(cpuMicros: cpuMicros), setup) { c in
            _ = try await c.run("spin", itemParams(max(1, items / 10)), maxInFlight: 64, outputs: max(1, items / 10))
            return try await c.run("spin", itemParams(items), maxInFlight: 64, outputs: items).seconds
        }
    }
}

/// Hop latencies, microseconds, in an HDR histogram (1 µs to 100 s, 3 significant digits).
struct Latency {
    var histogram = Histogram<UInt64>(highestTrackableValue: 100_000_000, numberOfSignificantValueDigits: .three)

    /// Records every `hop` output of a job.
    mutating func record(_ state: JobState) {
        for o in state.outputs where o.outputType == "hop" {
            let ns = (try? o.data.value())?["ns"].intValue ?? 0
            _ = histogram.record(UInt64(max(1, min(100_000_000, ns / 1000))))
        }
    }

    var count: Int { Int(histogram.totalCount) }
    func percentile(_ p: Double) -> Double { Double(histogram.valueAtPercentile(p)) }
}
