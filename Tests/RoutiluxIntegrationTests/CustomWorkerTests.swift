import Foundation
import RoutiluxCore
import Testing

extension Integration {
    /// Examples/custom-worker: a separate package depending on this one by path,
    /// with its own routines, built and run for real.
    @Suite struct CustomWorkerTests {
        @Test func theCustomWorkerExampleBuildsAndRunsAFlowWithItsOwnRoutines() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            let example = packageRoot.appendingPathComponent("Examples/custom-worker")
            // No manifest caching: a source file added to the library since the last
            // build of the example must be seen (its incremental build would miss it).
            let build = try h.start(
                "swift", ["swift", "build", "--package-path", example.path, "--disable-build-manifest-caching"],
                executablePath: "/usr/bin/env")
            let code = try await build.exitCode(timeout: 1200)
            #expect(code == 0, "swift build of the example failed:\n\(build.stderr.suffix(3000))\n\(build.stdout.suffix(3000))")
            guard code == 0 else { return }
            let worker = example.appendingPathComponent(".build/debug/my-worker").path

            let types = try h.start("my-worker", ["types", "--json"], executablePath: worker)
            #expect(try await types.exitCode() == 0)
            let catalogue = try JSONValue.parse(types.stdout)
            let names = Set((catalogue.arrayValue ?? []).compactMap { $0["type"].stringValue })
            #expect(names.isSuperset(of: ["WordCount", "Greeter", "Splitter", "Collector"]))

            let r = try await h.routilux([
                "run", example.appendingPathComponent("flow.yaml").path, "--worker", worker, "--json",
                "--params", #"{"items": [{"text": "hello distributed world"}, {"text": "routines"}]}"#,
            ])
            #expect(r.code == 0, "\(r.err)")
            let state = try jobState(r.out)
            #expect(state.status == .completed)
            let messages = Set(state.outputLog.compactMap { $0["data"]["message"].stringValue })
            #expect(messages == ["Hi, hello distributed world!", "Hi, routines!"])
            #expect(Set(state.outputLog.compactMap { $0["data"]["words"].intValue }) == [3, 1])

            // A custom merge strategy registered in the worker, its state kept per job.
            let best = try await h.routilux([
                "run", example.appendingPathComponent("best.yaml").path, "--worker", worker, "--json", "--max-workers", "1",
                "--params", #"{"items": [{"text": "one two"}, {"text": "a b c d"}, {"text": "x"}]}"#,
            ])
            #expect(best.code == 0, "\(best.err)")
            let bestState = try jobState(best.out)
            #expect(bestState.outputLog.map { $0["data"] } == ["one two", "a b c d", "a b c d"])
            #expect(bestState.slotStates["best.input"]?["words"] == 4)

            // A coordinator that does not know the custom types refuses the worker, saying why;
            // told about them (--catalogue), it accepts it.
            let plain = try await h.coordinator()
            let refused = try h.start("my-worker", ["join", plain.1, "--id", "custom"], executablePath: worker)
            #expect(try await refused.exitCode() == 1)
            #expect(refused.stderr.contains("refused by the coordinator: it offers routine types this coordinator does not know: "))
            #expect(refused.stderr.contains("Greeter") && refused.stderr.contains("WordCount"))
            let catalogueFile = try h.write("types.json", types.stdout)
            let told = try await h.coordinator(flows: [example.appendingPathComponent("flow.yaml").path], extra: ["--catalogue", catalogueFile])
            _ = try h.start("my-worker", ["join", told.1, "--id", "custom-ok"], executablePath: worker)
            try await waitUntil("the custom worker to join\n\(told.0.stderr)") { told.0.stderr.contains("worker custom-ok joined") }
            let job = try await h.routilux([
                "job", "submit", "--coordinator", told.1, "--flow", "greetings", "--wait", "--json",
                "--params", #"{"items": [{"text": "a b"}]}"#,
            ])
            #expect(job.code == 0, "\(job.err)")
            #expect(try jobState(job.out).outputLog.first?["data"]["message"] == "Hi, a b!")

            // The stock worker does not host WordCount: the flow is refused before anything starts.
            let stock = try await h.routilux(["run", example.appendingPathComponent("flow.yaml").path])
            #expect(stock.code == 2)
            #expect(stock.err.contains("routines.count.type: unknown routine type 'WordCount'"))
        }
    }
}
