import Foundation
import RoutiluxCore
import RoutiluxTestSupport
import Testing

/// A worker with quick handlers asks for deeper credit (so a job's max_workers binds, not a round
/// trip per task); one given --prefetch keeps concurrency + prefetch.
extension Integration {
    @Suite struct CreditDepthTests {
        /// The coordinator's view of each worker's credit, from `routilux cluster status --json`.
        func credits(_ h: ProcessHarness, _ c: String) async throws -> [Int] {
            let r = try await h.routilux(["cluster", "status", "--coordinator", c, "--json"])
            guard r.code == 0 else { return [] }
            return (try JSONValue.parse(r.out)["workers"].arrayValue ?? []).compactMap { $0["credit"].intValue }
        }

        @Test func quickHandlersGetDeeperCreditAndAGivenPrefetchIsKept() async throws {
            let h = try ProcessHarness()
            do {
                let flow = try h.write("p4.yaml", pipeline4)
                let params = try h.write("params.json", pipelineParams(300))
                let adaptive = try await h.coordinator(flows: [flow])
                _ = try await h.workers(1, coordinator: adaptive, extra: ["--concurrency", "2"])
                #expect(try await credits(h, adaptive.1) == [4], "JOIN grants concurrency + prefetch (2 + 2)")
                let r = try await h.routilux(["job", "submit", "--coordinator", adaptive.1, "--flow", "p4", "--params", "@\(params)", "--wait", "--json"])
                #expect(r.code == 0, "\(r.err)")
                #expect(try jobState(r.out).status == .completed)
                // Every task answered: what the worker granted is all unused credit now, at the quick target.
                try await waitUntil("the credit to reach 32", timeout: 30) { try await credits(h, adaptive.1) == [32] }

                let fixed = try await h.coordinator(flows: [flow])
                _ = try await h.workers(1, coordinator: fixed, extra: ["--concurrency", "2", "--prefetch", "1"])
                let f = try await h.routilux(["job", "submit", "--coordinator", fixed.1, "--flow", "p4", "--params", "@\(params)", "--wait", "--json"])
                #expect(f.code == 0, "\(f.err)")
                #expect(try jobState(f.out).status == .completed)
                #expect(try await credits(h, fixed.1) == [3], "--prefetch 1: concurrency + prefetch, whatever the handlers' speed")
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }
    }
}
