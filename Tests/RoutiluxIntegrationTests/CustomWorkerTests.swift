import Foundation
import RoutiluxCore
import RoutiluxTestSupport
import Testing

extension Integration {
    /// Examples/custom-worker: its own routines, in a worker the coordinator
    /// learns them from. The test runs the package's build of the example's
    /// sources (`example-custom-worker`, the same code as the example's `my-worker`),
    /// so the library is not built a second time.
    @Suite struct CustomWorkerTests {
        let example = packageRoot.appendingPathComponent("Examples/custom-worker")
        var worker: String { binDirectory.appendingPathComponent("example-custom-worker").path }
        func flow(_ name: String) -> String { example.appendingPathComponent(name).path }

        /// The example's own manifest builds the sources tested here, from products
        /// this package declares (its full build is what users run; it is not repeated here).
        @Test func theExamplesManifestBuildsTheseSourcesFromDeclaredProducts() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            func describe(_ path: String) async throws -> JSONValue {
                let d = try h.start("swift", ["swift", "package", "--package-path", path, "describe", "--type", "json"], executablePath: "/usr/bin/env")
                #expect(try await d.exitCode() == 0, "\(d.stderr)")
                return try JSONValue.parse(d.stdout)
            }
            // (The root package is busy with this test run: its manifest is read as text.)
            let manifest = try String(contentsOf: packageRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
            let products = Set(manifest.components(separatedBy: ".library(name: \"").dropFirst().compactMap { $0.split(separator: "\"").first.map(String.init) })
            let ex = try await describe(example.path)
            let target = try #require(ex["targets"].arrayValue?.first { $0["name"] == "my-worker" })
            let needs = (target["product_dependencies"].arrayValue ?? []).compactMap(\.stringValue)
            #expect(!needs.isEmpty && Set(needs).isSubset(of: products), "\(needs) vs \(products)")
            #expect(manifest.contains("path: \"Examples/custom-worker/\((target["path"].stringValue ?? "?"))\""), "the package builds the example's sources")
        }

        @Test func theWorkerPrintsItsCatalogueAndDescribesATypeForAConfig() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            let types = try h.start("my-worker", ["types", "--json"], executablePath: worker)
            #expect(try await types.exitCode() == 0)
            let entries = try JSONValue.parse(types.stdout).arrayValue ?? []
            let names = Set(entries.compactMap { $0["type"].stringValue })
            #expect(names.isSuperset(of: ["WordCount", "Greeter", "Classify", "Splitter", "Collector", "Sink"]))
            #expect(entries.first { $0["type"] == "Sink" }?["alias_of"] == "Collector")
            #expect(entries.first { $0["type"] == "Classify" }?["config_error"]["key"] == "classes", "an empty config is refused, and says so")
            let d = try h.start("my-worker", ["describe", "Classify", "--config", #"{"classes": ["a", "b"]}"#], executablePath: worker)
            #expect(try await d.exitCode() == 0)
            #expect(try JSONValue.parse(d.stdout)["events"] == ["a", "b", "other"])
            let bad = try h.start("my-worker", ["describe", "Classify", "--config", #"{"clases": []}"#], executablePath: worker)
            #expect(try await bad.exitCode() == 2)
            #expect(bad.stderr.contains("config.clases: unknown config key"), "\(bad.stderr)")
        }

        @Test func routiluxRunLearnsTheWorkersTypesAndValidatesEachConfig() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            let r = try await h.routilux([
                "run", flow("flow.yaml"), "--worker", worker, "--json",
                "--params", #"{"items": [{"text": "hello distributed world"}, {"text": "routines"}]}"#,
            ])
            #expect(r.code == 0, "\(r.err)")
            let state = try jobState(r.out)
            #expect(Set(state.outputLog.compactMap { $0["data"]["message"].stringValue }) == ["Hi, hello distributed world!", "Hi, routines!"])

            // A custom merge strategy registered in the worker, its state kept per job.
            let best = try await h.routilux([
                "run", flow("best.yaml"), "--worker", worker, "--json", "--max-workers", "1",
                "--params", #"{"items": [{"text": "one two"}, {"text": "a b c d"}, {"text": "x"}]}"#,
            ])
            #expect(best.code == 0, "\(best.err)")
            #expect(try jobState(best.out).outputLog.map { $0["data"] } == ["one two", "a b c d", "a b c d"])

            // Builtins whose ports follow their config keep working with a custom worker:
            // a ConditionalRouter reading a user key, and an appending Collector.
            let routed = try await h.routilux([
                "run", flow("routed.yaml"), "--worker", worker, "--json", "--max-workers", "1",
                "--params", #"{"items": [{"text": "a b c d"}, {"text": "hi"}, {"text": "one two three"}]}"#,
            ])
            #expect(routed.code == 0, "\(routed.err)")
            let rs = try jobState(routed.out)
            let longs = rs.outputLog.filter { $0["routine_id"] == "longs" }.map { ($0["data"]["data"].arrayValue ?? []).map { $0["words"] } }
            #expect(longs == [[4], [4, 3]], "append: every value so far")
            #expect(rs.outputLog.filter { $0["routine_id"] == "shorts" }.map { $0["data"]["text"] } == ["hi"])

            // A custom type whose events follow its config: checked for that config.
            let classified = try await h.routilux([
                "run", flow("classify.yaml"), "--worker", worker, "--json",
                "--params", #"{"items": [{"kind": "news", "id": 1}, {"kind": "sport", "id": 2}, {"kind": "?", "id": 3}]}"#,
            ])
            #expect(classified.code == 0, "\(classified.err)")
            #expect(try jobState(classified.out).outputLog.map { "\($0["routine_id"].stringValue ?? "")" } == ["news", "sport", "rest"])
            let wrong = try h.write("wrong.yaml", try String(contentsOfFile: flow("classify.yaml"), encoding: .utf8)
                .replacingOccurrences(of: "classify.sport", with: "classify.weather"))
            let refused = try await h.routilux(["run", wrong, "--worker", worker])
            #expect(refused.code == 2)
            #expect(refused.err.contains("connections[2].from: unknown event 'weather' on routine 'classify' (events: news, sport, other)"), "\(refused.err)")

            // The stock worker does not host WordCount: refused before anything starts.
            let stock = try await h.routilux(["run", flow("flow.yaml")])
            #expect(stock.code == 2)
            #expect(stock.err.contains("routines.count.type: unknown routine type 'WordCount'"))
        }

        @Test func aCoordinatorWithoutACatalogueLearnsTheTypesAndAWaitingJobRunsWhenTheWorkerJoins() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            let c = try await h.coordinator(flows: [flow("flow.yaml"), flow("routed.yaml")])
            #expect(c.0.stderr.contains("routine types Greeter, WordCount are not known yet"), "\(c.0.stderr)")
            // No worker yet: the job is accepted and waits, saying for what.
            let s = try await h.routilux([
                "job", "submit", "--coordinator", c.1, "--flow", "greetings", "--json", "--params", #"{"items": [{"text": "a b"}]}"#,
            ])
            #expect(s.code == 0, "\(s.err)")
            let pending = try jobState(s.out)
            #expect(pending.status == .pending)
            #expect(pending.waitingFor?.contains("waiting for a worker hosting Collector, Greeter, Splitter, WordCount (Greeter, WordCount not known here yet") == true, "\(pending.waitingFor ?? "")")
            let status = try await h.routilux(["job", "status", pending.jobId, "--coordinator", c.1])
            #expect(status.out.contains("waiting for a worker hosting Collector, Greeter, Splitter, WordCount"), "\(status.out)")
            // Failing fast instead is a refusal.
            let fast = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow", "greetings", "--fail-fast"])
            #expect(fast.code == 2)
            #expect(fast.err.contains("no joined worker hosts routine type Collector, Greeter, Splitter, WordCount"), "\(fast.err)")

            _ = try h.start("my-worker", ["join", c.1, "--id", "custom"], executablePath: worker)
            let done = try await h.routilux(["job", "wait", pending.jobId, "--coordinator", c.1, "--json"])
            #expect(done.code == 0, "\(done.err)")
            #expect(try jobState(done.out).outputLog.first?["data"]["message"] == "Hi, a b!")

            // Flows sent with the job, with types only the worker knows, configs checked by it.
            let routed = try await h.routilux([
                "job", "submit", "--coordinator", c.1, "--flow", "routed", "--wait", "--json",
                "--params", #"{"items": [{"text": "a b c"}]}"#,
            ])
            #expect(routed.code == 0, "\(routed.err)")
            let sent = try await h.routilux([
                "job", "submit", "--coordinator", c.1, "--flow-file", flow("classify.yaml"), "--wait", "--json",
                "--params", #"{"items": [{"kind": "sport"}]}"#,
            ])
            #expect(sent.code == 0, "\(sent.err)")
            #expect(try jobState(sent.out).outputLog.map { $0["routine_id"] } == ["sport"])
            let badConfig = try h.write("bad.yaml", "routines:\n  c: {type: Classify, config: {classes: [a], kinds: 1}}\nentry: {routine: c, slot: input}\n")
            let refused = try await h.routilux(["job", "submit", "--coordinator", c.1, "--flow-file", badConfig])
            #expect(refused.code == 2)
            #expect(refused.err.contains("routines.c.config.kinds: unknown config key (expected: classes, field)"), "\(refused.err)")
        }

        @Test func flowValidateAsksAWorkerExecutableForEachConfig() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            let ok = try await h.routilux(["flow", "validate", flow("classify.yaml"), flow("flow.yaml"), flow("routed.yaml"), "--worker", worker])
            #expect(ok.code == 0, "\(ok.err)")
            #expect(!ok.out.contains("not checked"), "every routine checked exactly: \(ok.out)")
            let wrong = try h.write("wrong.yaml", try String(contentsOfFile: flow("classify.yaml"), encoding: .utf8)
                .replacingOccurrences(of: "classify.sport", with: "classify.weather"))
            let bad = try h.write("bad.yaml", "routines:\n  c: {type: Classify, config: {classes: [a], kinds: 1}}\n")
            let r = try await h.routilux(["flow", "validate", wrong, bad, "--worker", worker])
            #expect(r.code == 2)
            #expect(r.err.contains("wrong.yaml: connections[2].from: unknown event 'weather' on routine 'classify' (events: news, sport, other)"), "\(r.err)")
            #expect(r.err.contains("bad.yaml: routines.c.config.kinds: unknown config key (expected: classes, field)"), "\(r.err)")
            let missing = try await h.routilux(["flow", "validate", flow("flow.yaml"), "--worker", "/nonexistent/worker"])
            #expect(missing.code == 2)
            #expect(missing.err.contains("worker /nonexistent/worker: cannot run 'types --json'"), "\(missing.err)")
        }

        @Test func aCatalogueFileChecksFlowsBeforeAWorkerExistsWithoutHidingTheBuiltins() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            let types = try h.start("my-worker", ["types", "--json"], executablePath: worker)
            #expect(try await types.exitCode() == 0)
            let file = try h.write("types.json", types.stdout)
            // Offline: ConditionalRouter and the appending Collector stay config-aware.
            let v = try await h.routilux(["flow", "validate", flow("routed.yaml"), flow("flow.yaml"), "--catalogue", file])
            #expect(v.code == 0, "\(v.err)")
            #expect(v.out.contains("ports of greet not checked"), "greet has a config a file cannot speak for: \(v.out)")
            let typo = try h.write("typo.yaml", "routines:\n  g: {type: Greter}\n")
            let t = try await h.routilux(["flow", "validate", typo, "--catalogue", file])
            #expect(t.code == 2)
            #expect(t.err.contains("unknown routine type 'Greter'"))
            // A coordinator given the file runs the README's builtin flows with the custom worker.
            let c = try await h.coordinator(flows: [flow("routed.yaml")], extra: ["--catalogue", file])
            _ = try h.start("my-worker", ["join", c.1, "--id", "custom-ok"], executablePath: worker)
            try await waitUntil("the custom worker to join\n\(c.0.stderr)") { c.0.stderr.contains("worker custom-ok joined") }
            let job = try await h.routilux([
                "job", "submit", "--coordinator", c.1, "--flow", "routed", "--wait", "--json",
                "--params", #"{"items": [{"text": "a b c"}, {"text": "x y z w"}]}"#,
            ])
            #expect(job.code == 0, "\(job.err)")
            #expect(try jobState(job.out).outputLog.filter { $0["routine_id"] == "longs" }.count == 2)
        }
    }
}
