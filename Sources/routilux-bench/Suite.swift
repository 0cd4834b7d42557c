import Foundation
import RoutiluxCoordinator
import RoutiluxCore

/// `make bench`: every scenario, ours and the peers', interleaved round-robin over `rounds`
/// rounds; then a table of medians (min–max) and of each ratio ours/peer, and one JSON line per row.
struct Suite {
    var rounds: Int
    var items: Int
    var fanoutItems: Int
    var hopJobs: Int
    var spinItems: Int
    var cpuMicros: Int
    var maxInFlight: Int
    var concurrency: Int
    var peersDir: String
    var venvDir: String
    var routilux: String
    var coordinator: String
    var journalDir: String
    var only: Set<String>?

    /// Samples by name ("linear/ours/tcp", "linear/routilux-1.1.0", ...), one per round.
    var samples: [String: [Double]] = [:]
    var notes: [String] = []

    mutating func add(_ name: String, _ value: Double) { samples[name, default: []].append(value) }

    func wants(_ scenario: String) -> Bool { only.map { $0.contains(scenario) } ?? true }

    /// The features of the issues before on: CURVE on every link and the journal at its default (normal).
    var featuresOn: ClusterSetup {
        var s = base
        s.curve = true
        s.journalDir = journalDir
        return s
    }
    var base: ClusterSetup {
        var s = ClusterSetup()
        s.concurrency = concurrency
        return s
    }

    func python(_ version: String) -> String? {
        let p = "\(venvDir)/venv-\(version)/bin/python"
        return FileManager.default.isExecutableFile(atPath: p) ? p : nil
    }

    /// The relay needs pyzmq: the 1.1.0 venv has it; else a python3 on PATH that can import zmq.
    func relayPython() async -> String? {
        if let p = python("1.1.0") { return p }
        for p in ["/usr/bin/python3", "/usr/local/bin/python3"] where FileManager.default.isExecutableFile(atPath: p) {
            if let r = try? await ProcessRuns.run(p, ["-c", "import zmq"]), r.status == 0 { return p }
        }
        return nil
    }

    mutating func run() async throws {
        let relay = await relayPython()
        let r110 = python("1.1.0"), r010 = python("0.10.0")
        if relay == nil { notes.append("pyzmq relay skipped: no python with pyzmq (run `make bench-peers`)") }
        if r110 == nil { notes.append("routilux 1.1.0 skipped: run `make bench-peers` to install it into \(venvDir)/venv-1.1.0") }
        if r010 == nil { notes.append("routilux 0.10.0 skipped: run `make bench-peers` to install it into \(venvDir)/venv-0.10.0") }
        var ipc = base
        ipc.link = .ipc
        for round in 1...rounds {
            FileHandle.standardError.write(Data("round \(round) of \(rounds)\n".utf8))
            if wants("linear") {
                let l = (flow: BenchFlows.linear, id: "linear", per: 1)
                add("linear/ours/tcp", try await OurRuns.throughput(flow: l.flow, flowId: l.id, items: items, outputsPerItem: 1, setup: base, maxInFlight: maxInFlight))
                if let relay { add("linear/pyzmq-relay/tcp", try await peerItems(relay, "relay.py", ["--scenario", "linear", "--link", "tcp", "--items", "\(items)"])) }
                if let r110 { add("linear/routilux-1.1.0", try await peerItems(r110, "routilux_pipeline.py", ["--scenario", "linear", "--items", "\(items)"])) }
                add("linear/ours/tcp+curve+journal", try await OurRuns.throughput(flow: l.flow, flowId: l.id, items: items, outputsPerItem: 1, setup: featuresOn, maxInFlight: maxInFlight))
                if let r010 { add("linear/routilux-0.10.0", try await peerItems(r010, "routilux_pipeline.py", ["--scenario", "linear", "--items", "\(items)"])) }
                add("linear/ours/ipc", try await OurRuns.throughput(flow: l.flow, flowId: l.id, items: items, outputsPerItem: 1, setup: ipc, maxInFlight: maxInFlight))
                if let relay { add("linear/pyzmq-relay/ipc", try await peerItems(relay, "relay.py", ["--scenario", "linear", "--link", "ipc", "--items", "\(items)"])) }
            }
            if wants("fanout") {
                add("fanout/ours/tcp", try await OurRuns.throughput(flow: BenchFlows.fanout, flowId: "fanout", items: fanoutItems, outputsPerItem: 4, setup: base, maxInFlight: maxInFlight))
                if let r110 { add("fanout/routilux-1.1.0", try await peerItems(r110, "routilux_pipeline.py", ["--scenario", "fanout", "--items", "\(fanoutItems)"])) }
                if let relay { add("fanout/pyzmq-relay/tcp", try await peerItems(relay, "relay.py", ["--scenario", "fanout", "--link", "tcp", "--items", "\(fanoutItems)"])) }
                add("fanout/ours/tcp+curve+journal", try await OurRuns.throughput(flow: BenchFlows.fanout, flowId: "fanout", items: fanoutItems, outputsPerItem: 4, setup: featuresOn, maxInFlight: maxInFlight))
                if let r010 { add("fanout/routilux-0.10.0", try await peerItems(r010, "routilux_pipeline.py", ["--scenario", "fanout", "--items", "\(fanoutItems)"])) }
            }
            if wants("hop") {
                let light = try await OurRuns.hopsAtLightLoad(jobs: hopJobs, setup: base)
                add("hop/ours/tcp/p50", light.percentile(50))
                add("hop/ours/tcp/p99", light.percentile(99))
                add("hop/ours/tcp/p99.9", light.percentile(99.9))
                if let relay {
                    let pp = try await ProcessRuns.peer(python: relay, script: "\(peersDir)/relay.py", ["--scenario", "pingpong", "--link", "tcp", "--items", "\(max(1000, hopJobs * 5))"])
                    add("hop/pyzmq-pingpong/tcp/p50", pp["hop_us_p50"].doubleValue ?? .nan)
                    add("hop/pyzmq-pingpong/tcp/p99", pp["hop_us_p99"].doubleValue ?? .nan)
                }
                let on = try await OurRuns.hopsAtLightLoad(jobs: hopJobs, setup: featuresOn)
                add("hop/ours/tcp+curve+journal/p50", on.percentile(50))
                add("hop/ours/tcp+curve+journal/p99", on.percentile(99))
                let (load, _) = try await OurRuns.hopsUnderLoad(items: items, setup: base, maxInFlight: maxInFlight)
                add("hop_load/ours/tcp/p50", load.percentile(50))
                add("hop_load/ours/tcp/p99", load.percentile(99))
            }
            if wants("scaling") {
                let one = try await OurRuns.spin(items: spinItems, cpuMicros: cpuMicros, workers: 1)
                let two = try await OurRuns.spin(items: spinItems, cpuMicros: cpuMicros, workers: 2)
                add("scaling/ours/2_over_1", one / two)
            }
            if wants("start") {
                let flow = "Examples/pipeline.yaml", params = "Examples/pipeline-params.json"
                if FileManager.default.isExecutableFile(atPath: routilux), FileManager.default.fileExists(atPath: flow) {
                    add("start/ours/cold_start_s", try await ProcessRuns.coldStart(routilux: routilux, flow: flow, params: params))
                } else if round == 1 {
                    notes.append("cold start skipped: no \(routilux) (build all products: swift build -c release) or no \(flow) (run from the package root)")
                }
                if FileManager.default.isExecutableFile(atPath: coordinator), FileManager.default.fileExists(atPath: flow) {
                    add("start/ours/idle_rss_mb", Double(try await ProcessRuns.idleCoordinatorRSS(coordinator: coordinator, flow: flow)) / 1_048_576)
                } else if round == 1 {
                    notes.append("idle RSS skipped: no \(coordinator)")
                }
            }
        }
        report()
    }

    /// A peer's items per second.
    func peerItems(_ python: String, _ script: String, _ arguments: [String]) async throws -> Double {
        let v = try await ProcessRuns.peer(python: python, script: "\(peersDir)/\(script)", arguments)
        guard let x = v["items_per_s"].doubleValue else { throw BenchError("\(script): no items_per_s in \(v.jsonString())") }
        return x
    }

    /// One row: a measured value of ours, optionally against a peer (ratio per round), with a target.
    struct Row {
        var name: String
        var unit: String
        var ours: String
        var peer: String?
        /// A ratio ours/peer is better when higher (throughput), or lower (latency).
        var target: (value: Double, atLeast: Bool)?
        var description: String
    }

    func rows() -> [Row] {
        [
            Row(name: "linear_tcp_vs_routilux_1.1.0", unit: "items/s", ours: "linear/ours/tcp", peer: "linear/routilux-1.1.0", target: (4, true), description: "linear 4-stage, tcp, 2 workers vs routilux 1.1.0 in one process"),
            Row(name: "linear_tcp_vs_pyzmq_relay", unit: "items/s", ours: "linear/ours/tcp", peer: "linear/pyzmq-relay/tcp", target: (1, true), description: "linear 4-stage, tcp vs a bare pyzmq JSON relay"),
            Row(name: "linear_tcp_vs_routilux_0.10.0", unit: "items/s", ours: "linear/ours/tcp", peer: "linear/routilux-0.10.0", target: nil, description: "linear 4-stage, tcp vs routilux 0.10.0"),
            Row(name: "linear_on_vs_routilux_1.1.0", unit: "items/s", ours: "linear/ours/tcp+curve+journal", peer: "linear/routilux-1.1.0", target: (4, true), description: "the same with CURVE and the journal on"),
            Row(name: "linear_on_vs_pyzmq_relay", unit: "items/s", ours: "linear/ours/tcp+curve+journal", peer: "linear/pyzmq-relay/tcp", target: (1, true), description: "with CURVE and the journal on vs the relay"),
            Row(name: "linear_on_vs_off", unit: "items/s", ours: "linear/ours/tcp+curve+journal", peer: "linear/ours/tcp", target: nil, description: "what CURVE and the journal cost"),
            Row(name: "linear_ipc_vs_pyzmq_relay", unit: "items/s", ours: "linear/ours/ipc", peer: "linear/pyzmq-relay/ipc", target: (1, true), description: "linear 4-stage, ipc vs the relay over ipc"),
            Row(name: "fanout_tcp_vs_routilux_1.1.0", unit: "items/s", ours: "fanout/ours/tcp", peer: "fanout/routilux-1.1.0", target: (3, true), description: "fan-out 1->4->1, tcp vs routilux 1.1.0"),
            Row(name: "fanout_on_vs_routilux_1.1.0", unit: "items/s", ours: "fanout/ours/tcp+curve+journal", peer: "fanout/routilux-1.1.0", target: (3, true), description: "the same with CURVE and the journal on"),
            Row(name: "fanout_tcp_vs_pyzmq_relay", unit: "items/s", ours: "fanout/ours/tcp", peer: "fanout/pyzmq-relay/tcp", target: nil, description: "fan-out vs the relay"),
            Row(name: "fanout_tcp_vs_routilux_0.10.0", unit: "items/s", ours: "fanout/ours/tcp", peer: "fanout/routilux-0.10.0", target: nil, description: "fan-out vs routilux 0.10.0"),
            Row(name: "hop_p50_vs_pingpong", unit: "us", ours: "hop/ours/tcp/p50", peer: "hop/pyzmq-pingpong/tcp/p50", target: (1.5, false), description: "hop p50 at light load vs the pyzmq ping-pong floor"),
            Row(name: "hop_p99", unit: "us", ours: "hop/ours/tcp/p99", peer: nil, target: (1000, false), description: "hop p99 at light load (single-item jobs)"),
            Row(name: "hop_p99.9", unit: "us", ours: "hop/ours/tcp/p99.9", peer: nil, target: nil, description: "hop p99.9 at light load"),
            Row(name: "hop_p99_vs_pingpong", unit: "us", ours: "hop/ours/tcp/p99", peer: "hop/pyzmq-pingpong/tcp/p99", target: nil, description: "hop p99 vs the ping-pong's p99"),
            Row(name: "hop_on_p50_vs_pingpong", unit: "us", ours: "hop/ours/tcp+curve+journal/p50", peer: "hop/pyzmq-pingpong/tcp/p50", target: (1.5, false), description: "hop p50 with CURVE and the journal on"),
            Row(name: "hop_on_p99", unit: "us", ours: "hop/ours/tcp+curve+journal/p99", peer: nil, target: (1000, false), description: "hop p99 with CURVE and the journal on"),
            Row(name: "hop_load_p50", unit: "us", ours: "hop_load/ours/tcp/p50", peer: nil, target: nil, description: "hop p50 under load (a 20k-item job)"),
            Row(name: "hop_load_p99", unit: "us", ours: "hop_load/ours/tcp/p99", peer: nil, target: nil, description: "hop p99 under load"),
            Row(name: "scaling_2_over_1", unit: "x", ours: "scaling/ours/2_over_1", peer: nil, target: (1.8, true), description: "a CPU-bound stage (Spin \(cpuMicros) us) on 2 vs 1 worker processes, concurrency 1"),
            Row(name: "cold_start", unit: "s", ours: "start/ours/cold_start_s", peer: nil, target: (0.5, false), description: "routilux run Examples/pipeline.yaml --max-workers 4, launch to exit"),
            Row(name: "idle_rss", unit: "MB", ours: "start/ours/idle_rss_mb", peer: nil, target: (40, false), description: "routilux-coordinator start, idle, with a state dir"),
        ]
    }

    func report() {
        func fmt(_ x: Double) -> String {
            if x.isNaN { return "-" }
            if abs(x) >= 1000 { return String(Int(x.rounded())) }
            if abs(x) >= 100 { return String(format: "%.0f", x) }
            return String(format: "%.2f", x)
        }
        func range(_ xs: [Double]) -> String { "\(fmt(Stats.median(xs))) [\(fmt(xs.min() ?? .nan))-\(fmt(xs.max() ?? .nan))]" }
        var lines: [String] = []
        var json: [String] = []
        lines.append(String(repeating: "-", count: 120))
        lines.append(
            "scenario".padding(toLength: 32, withPad: " ", startingAt: 0) + "ours median [min-max]".padding(toLength: 28, withPad: " ", startingAt: 0)
                + "peer median [min-max]".padding(toLength: 28, withPad: " ", startingAt: 0) + "ratio median [min-max]".padding(toLength: 24, withPad: " ", startingAt: 0) + "target")
        for row in rows() {
            guard let ours = samples[row.ours], !ours.isEmpty else { continue }
            let peer = row.peer.flatMap { samples[$0] }
            var ratios: [Double] = []
            if let peer { for (a, b) in zip(ours, peer) where b > 0 { ratios.append(a / b) } }
            if row.peer != nil && peer == nil { continue }  // its peer was skipped
            let judged = row.peer != nil ? Stats.median(ratios) : Stats.median(ours)
            var verdict = ""
            if let t = row.target { verdict = "\(t.atLeast ? ">=" : "<=") \(fmt(t.value)) \((t.atLeast ? judged >= t.value : judged <= t.value) ? "met" : "NOT met")" }
            lines.append(
                row.name.padding(toLength: 32, withPad: " ", startingAt: 0) + "\(range(ours)) \(row.unit)".padding(toLength: 28, withPad: " ", startingAt: 0)
                    + (peer.map { "\(range($0)) \(row.unit)" } ?? "").padding(toLength: 28, withPad: " ", startingAt: 0)
                    + (row.peer != nil ? range(ratios) + "x" : "").padding(toLength: 24, withPad: " ", startingAt: 0) + verdict)
            var o: JSONObject = [
                "benchmark": .string(row.name), "description": .string(row.description), "unit": .string(row.unit),
                "ours": .string(row.ours), "ours_median": .double(Stats.round3(Stats.median(ours))), "ours_each": .array(ours.map { .double(Stats.round3($0)) }),
            ]
            if let peer, let name = row.peer {
                o["peer"] = .string(name)
                o["peer_median"] = .double(Stats.round3(Stats.median(peer)))
                o["peer_each"] = .array(peer.map { .double(Stats.round3($0)) })
                o["ratio_median"] = .double(Stats.round3(Stats.median(ratios)))
                o["ratio_min"] = .double(Stats.round3(ratios.min() ?? .nan))
                o["ratio_max"] = .double(Stats.round3(ratios.max() ?? .nan))
            }
            if let t = row.target {
                o["target"] = .string("\(t.atLeast ? ">=" : "<=") \(t.value)")
                o["target_met"] = .bool(t.atLeast ? judged >= t.value : judged <= t.value)
            }
            json.append(JSONValue.object(o).jsonString())
        }
        lines.append(String(repeating: "-", count: 120))
        lines.append("\(rounds) interleaved round(s); linear \(items) items (3 deliveries each), fan-out \(fanoutItems) items (8 each); ours: 2 worker processes x \(concurrency) handlers, max_workers \(maxInFlight); host \(ProcessInfo.processInfo.hostName), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        for n in notes { lines.append("note: \(n)") }
        print(lines.joined(separator: "\n"))
        for j in json { print(j) }
    }
}
