import Foundation
import RoutiluxCore
import RoutiluxTestSupport
import Testing

/// Three network namespaces joined by veth pairs: the coordinator's, and one per
/// worker, each link its own /24. Needs root (CI runs as root).
final class NetworkNamespaces: @unchecked Sendable {
    let tag = "rtx\(getpid() % 100_000)"
    var coordinator: String { "\(tag)-c" }
    func worker(_ i: Int) -> String { "\(tag)-w\(i)" }
    func coordinatorAddress(toward i: Int) -> String { "10.77.\(i).1" }
    func workerAddress(_ i: Int) -> String { "10.77.\(i).2" }
    func link(_ i: Int) -> String { "\(tag)c\(i)" }

    /// Why namespaces cannot be made here (nil: they can).
    static let unavailable: String? = {
        guard getuid() == 0 else { return "not root: network namespaces need root" }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip") else {
            return "no ip(8) command"
        }
        let probe = "rtxprobe\(getpid())"
        guard run(["netns", "add", probe]) == 0 else { return "ip netns add failed (no CAP_SYS_ADMIN?)" }
        _ = run(["netns", "del", probe])
        return nil
    }()

    static var ipPath: String { FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") ? "/usr/sbin/ip" : "/sbin/ip" }

    @discardableResult
    static func run(_ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ipPath)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    func up(workers: Int) throws {
        func must(_ args: [String]) throws {
            guard Self.run(args) == 0 else { throw HarnessError(description: "ip \(args.joined(separator: " ")) failed") }
        }
        down(workers: workers)
        try must(["netns", "add", coordinator])
        try must(["-n", coordinator, "link", "set", "lo", "up"])
        for i in 1...workers {
            try must(["netns", "add", worker(i)])
            try must(["-n", worker(i), "link", "set", "lo", "up"])
            try must(["link", "add", link(i), "netns", coordinator, "type", "veth", "peer", "name", "\(tag)w\(i)", "netns", worker(i)])
            try must(["-n", coordinator, "addr", "add", "\(coordinatorAddress(toward: i))/24", "dev", link(i)])
            try must(["-n", worker(i), "addr", "add", "\(workerAddress(i))/24", "dev", "\(tag)w\(i)"])
            try must(["-n", coordinator, "link", "set", link(i), "up"])
            try must(["-n", worker(i), "link", "set", "\(tag)w\(i)", "up"])
        }
    }

    /// Takes worker `i`'s link down (as if its cable were pulled).
    func cut(_ i: Int) { Self.run(["-n", coordinator, "link", "set", link(i), "down"]) }

    func down(workers: Int) {
        Self.run(["netns", "del", coordinator])
        for i in 1...workers { Self.run(["netns", "del", worker(i)]) }
    }
}

extension ProcessHarness {
    /// Starts one of our executables inside network namespace `ns`.
    func start(in ns: String, _ executable: String, _ arguments: [String]) throws -> Spawned {
        try start(executable, ["netns", "exec", ns, binDirectory.appendingPathComponent(executable).path] + arguments, executablePath: NetworkNamespaces.ipPath)
    }
}

extension Integration {
    /// Coordinator and two workers on three "hosts" (network namespaces), CURVE over tcp.
    @Suite struct MultiHostTests {
        @Test(.enabled(if: NetworkNamespaces.unavailable == nil, "network namespaces: \(NetworkNamespaces.unavailable ?? "")"))
        func aWorkerWhoseLinkGoesDownMidJobLosesNothing() async throws {
            let net = NetworkNamespaces()
            try net.up(workers: 2)
            defer { net.down(workers: 2) }
            let h = try ProcessHarness()
            let ring = try await KeyRing.make(h)
            let flow = try h.write("slow.yaml", slowFlow.replacingOccurrences(of: "seconds: 0.05", with: "seconds: 0.1"))
            let c = try h.start(in: net.coordinator, "routilux-coordinator", ["start", "--bind", "tcp://0.0.0.0:5555", "--flow", flow, "--worker-timeout-ms", "3000", "--state-dir", h.path("state")] + ring.coordinator)
            defer { Task { await h.shutdown() } }
            try await waitUntil("the coordinator to listen\n\(c.stderr)") { c.stdout.contains("listening on") }
            var workers: [Spawned] = []
            for i in 1...2 {
                workers.append(try h.start(in: net.worker(i), "routilux-worker", [
                    "join", "tcp://\(net.coordinatorAddress(toward: i)):5555", "--id", "host\(i)", "--bind", "tcp://\(net.workerAddress(i)):*",
                    "--concurrency", "2",
                ] + ring.peer("w\(i)")))
            }
            try await waitUntil("both workers to join over CURVE\n\(c.stderr.suffix(2000))") {
                c.stderr.contains("worker host1 joined from tcp://10.77.1.2") && c.stderr.contains("worker host2 joined from tcp://10.77.2.2")
            }
            #expect(c.stderr.contains("with key \(try fingerprintOf(ring.publicKey("w2")))"))
            let n = 60
            let params = try h.write("params.json", JSONValue.object(["items": .array((0..<n).map { ["i": .int($0)] })]).jsonString())
            let client = try h.start(in: net.coordinator, "routilux", [
                "job", "submit", "--coordinator", "tcp://127.0.0.1:5555", "--flow", "slow", "--params", "@\(params)", "--wait", "--json",
            ] + ring.peer("client"))
            // Once host2 has done some of the work, its link goes down.
            try await waitUntil("host2 to run tasks") { workers[1].stderr.contains("joined coordinator") && c.stderr.contains("started on flow slow") }
            try await waitUntil("host2 to hold tasks in flight") {
                let status = try h.start(in: net.coordinator, "routilux", [
                    "cluster", "status", "--coordinator", "tcp://127.0.0.1:5555", "--json",
                ] + ring.peer("client"))
                guard try await status.exitCode(timeout: 10) == 0, let s = try? JSONValue.parse(Array(status.stdout.utf8)) else { return false }
                let host2 = (s["workers"].arrayValue ?? []).first { $0["worker_id"].stringValue == "host2" }
                return (host2?["in_flight"].intValue ?? 0) > 0
            }
            net.cut(2)
            let code = try await client.exitCode(timeout: 90)
            #expect(code == 0, "\(client.stderr)\n\(c.stderr.suffix(3000))")
            let state = try jobState(client.stdout)
            let got = state.outputLog.compactMap { $0["data"]["i"].intValue }
            #expect(got.count == n, "every item exactly once (got \(got.count))")
            #expect(Set(got) == Set(0..<n))
            #expect(c.stderr.contains("worker host2 silent"), "host2 was declared dead and its tasks re-queued")
        }
    }
}

func fingerprintOf(_ path: String) throws -> String {
    let out = Process()
    out.executableURL = binDirectory.appendingPathComponent("routilux")
    out.arguments = ["keys", "show", path, "--json"]
    let pipe = Pipe()
    out.standardOutput = pipe
    try out.run()
    out.waitUntilExit()
    let v = try JSONValue.parse(Array(pipe.fileHandleForReading.readDataToEndOfFile()))
    return v["fingerprint"].stringValue ?? "?"
}
