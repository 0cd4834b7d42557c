import ArgumentParser
import Foundation
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxWire

/// `routilux cluster status`: the workers and the coordinator's counters.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Look at a running coordinator's cluster.",
        subcommands: [Status.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the joined workers (id, host, pid, key, types, credit, in flight, heartbeat age) and the coordinator's counters, rejections by reason.",
            discussion: "Exit codes: 0 answered, 1 no answer, 2 bad input or refused.")
        @OptionGroup var common: CoordinatorOptions

        func run() async throws {
            try common.check()
            bootstrapLogging(common.logLevel)
            let client = CoordinatorClient(coordinator: common.endpoint, keys: common.keys, limits: common.limits)
            let answer: (ReplyMessage, RawJSON?)
            do {
                answer = try await client.requestRaw(timeout: common.timeout ?? 30) { replyTo, requestId in
                    .status(StatusMessage(requestId: requestId, replyTo: replyTo))
                }
                await client.close()
            } catch {
                await client.close()
                throw fail("\(error)", code: Exit.notCompleted)
            }
            guard answer.0.ok, let body = answer.1, let status = try? body.value() else {
                throw fail(answer.0.error ?? "the coordinator sent no status", code: Exit.badInput)
            }
            if common.json {
                writeStdout(status.jsonString(pretty: true))
                return
            }
            writeStdout(Self.table(status))
        }

        static func table(_ s: JSONValue) -> String {
            var lines: [String] = []
            let workers = s["workers"].arrayValue ?? []
            lines.append("coordinator \(s["coordinator_id"].stringValue ?? "?") (\(s["authenticated"].boolValue == true ? "CURVE" : "plaintext")); \(workers.count) worker(s); \(s["ledger"].intValue ?? 0) task(s) in flight")
            let header = ["WORKER", "HOST", "PID", "KEY", "CREDIT", "IN FLIGHT", "HEARTBEAT", "TYPES"]
            var rows = [header]
            for w in workers {
                var types = (w["routine_types"].arrayValue ?? []).compactMap(\.stringValue).joined(separator: ",")
                if let u = w["unresponsive"].stringValue { types += "  [sent no tasks: \(u)]" }
                rows.append([
                    w["worker_id"].stringValue ?? "?", w["host"].stringValue ?? "-", w["pid"].intValue.map(String.init) ?? "-",
                    w["key_fingerprint"].stringValue ?? "-", "\(w["credit"].intValue ?? 0)", "\(w["in_flight"].intValue ?? 0)",
                    "\(w["heartbeat_age_ms"].intValue ?? 0) ms", types,
                ])
            }
            let widths = header.indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
            for r in rows {
                lines.append(r.enumerated().map { i, c in i == r.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  "))
            }
            if let jobs = s["jobs"].objectValue, !jobs.isEmpty {
                lines.append("jobs: " + jobs.map { "\($0.key) \($0.value.intValue ?? 0)" }.joined(separator: ", "))
            }
            if let c = s["counters"].objectValue {
                lines.append("counters: " + c.map { "\($0.key) \($0.value.intValue ?? 0)" }.joined(separator: ", "))
            }
            if let d = s["dropped"].objectValue {
                lines.append("dropped: " + d.map { "\($0.key) \($0.value.intValue ?? 0)" }.joined(separator: ", "))
            }
            if s["authenticated"].boolValue == true {
                lines.append("refused before any message: \(s["keys_refused"].intValue ?? 0) key(s) not authorized, \(s["handshakes_failed"].intValue ?? 0) failed handshake(s)")
            }
            return lines.joined(separator: "\n")
        }
    }
}
