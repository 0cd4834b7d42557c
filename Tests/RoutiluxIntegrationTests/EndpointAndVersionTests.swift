import Foundation
import RoutiluxCore
import RoutiluxWire
import RoutiluxTestSupport
import RoutiluxTransport
import Testing

extension Integration {
    /// `--version`, `ROUTILUX_COORDINATOR`, and malformed endpoints refused at once (exit 2) by every command.
    @Suite struct EndpointAndVersionTests {
        @Test func everyExecutablePrintsItsVersion() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            for exe in ["routilux", "routilux-coordinator", "routilux-worker"] {
                let s = try h.start(exe, ["--version"])
                #expect(try await s.exitCode() == 0, "\(exe): \(s.stderr)")
                #expect(s.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "\(RoutiluxVersion.release) (wire protocol \(protocolVersion))", "\(exe)")
            }
        }

        @Test func malformedEndpointsAreBadInputAtOnceInEveryCommand() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            let started = Date()
            let cases: [(String, [String], String)] = [
                ("routilux", ["job", "status", "j", "--coordinator", "127.0.0.1:5555"], "--coordinator '127.0.0.1:5555': needs a scheme"),
                ("routilux", ["job", "submit", "--flow", "f", "--coordinator", "tcp://127.0.0.1:99999"], "port '99999' must be a number from 1 to 65535"),
                ("routilux", ["job", "wait", "j", "--coordinator", "tcp://127.0.0.1"], "needs a port"),
                ("routilux", ["job", "cancel", "j", "--coordinator", "tcp://127.0.0.1:*"], "port '*' (any free port) is only for binding"),
                ("routilux", ["job", "status", "j"], "no coordinator: give --coordinator ENDPOINT or set ROUTILUX_COORDINATOR"),
                ("routilux-worker", ["join", "localhost:5555"], "needs a scheme"),
                ("routilux-worker", ["join", "tcp://127.0.0.1:5555", "--bind", "tcp://127.0.0.1:x"], "--bind 'tcp://127.0.0.1:x': port 'x'"),
                ("routilux-worker", ["join"], "no coordinator"),
                ("routilux-coordinator", ["start", "--bind", "127.0.0.1:5555"], "--bind '127.0.0.1:5555': needs a scheme"),
                ("routilux-coordinator", ["start", "--bind", "tcp://:5555"], "needs a host"),
                ("routilux", ["job", "status", "j", "--coordinator", "tcp://*:5555"], "host '*' (every interface) is only for binding"),
                ("routilux", ["job", "status", "j", "--coordinator", "tcp://[::1]:5555"], "IPv6 addresses are not supported"),
                ("routilux-worker", ["join", "inproc://c"], "inproc:// connects within one process only"),
                ("routilux-worker", ["join", "tcp://127.0.0.1:5555", "--advertise", "tcp://0.0.0.0:*"], "--advertise 'tcp://0.0.0.0:*': port '*'"),
            ]
            for (exe, args, message) in cases {
                let s = try h.start(exe, args, env: ["ROUTILUX_COORDINATOR": ""])
                let code = try await s.exitCode(timeout: 10)
                #expect(code == 2, "\(exe) \(args): exit \(code)\n\(s.stderr)")
                #expect(s.stderr.contains(message), "\(exe) \(args): \(s.stderr)")
            }
            #expect(Date().timeIntervalSince(started) < 60, "each refusal is immediate, not a wait")
            let env = try h.start("routilux", ["job", "status", "j"], env: ["ROUTILUX_COORDINATOR": "tcp//x"])
            #expect(try await env.exitCode(timeout: 10) == 2)
            #expect(env.stderr.contains("ROUTILUX_COORDINATOR 'tcp//x': needs a scheme"), "\(env.stderr)")
        }

        @Test func routiluxCoordinatorIsTheDefaultCoordinatorForJobsAndWorkers() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            let flow = try h.write("one.yaml", """
                flow_id: one
                routines:
                  sink: {type: Collector}
                entry: {routine: sink, slot: input}
                """)
            let c = try await h.coordinator(flows: [flow])
            _ = try h.start("routilux-worker", ["join", "--concurrency", "1"], env: ["ROUTILUX_COORDINATOR": c.1])
            try await waitUntil("the worker to join through ROUTILUX_COORDINATOR\n\(c.0.stderr)") { c.0.stderr.contains(" joined from ") }
            let r = try await h.routilux(["job", "submit", "--flow", "one", "--wait", "--json", "--params", #"{"x": 1}"#], env: ["ROUTILUX_COORDINATOR": c.1])
            #expect(r.code == 0, "\(r.err)")
            #expect(try jobState(r.out).status == .completed)
        }
    }
}

@Suite struct LoopbackTests {
    @Test func onlyDottedLoopbackAddressesAreLoopback() {
        #expect(isLoopback("tcp://127.0.0.1:5555"))
        #expect(isLoopback("tcp://127.3.2.1:5555"))
        #expect(isLoopback("tcp://localhost:5555"))
        #expect(!isLoopback("tcp://127.evil.example:5555"))
        #expect(!isLoopback("tcp://10.0.0.1:5555"))
        #expect(isExposed("tcp://0.0.0.0:5555") && !isExposed("ipc:///tmp/x"))
    }
}
