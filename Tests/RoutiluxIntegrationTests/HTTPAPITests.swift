import Foundation
import RoutiluxCore
import RoutiluxTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An HTTP answer: status, the body parsed as JSON (nil if it is not), the raw text, headers.
struct HTTPAnswer {
    var status: Int
    var json: JSONValue?
    var text: String
    var headers: [String: String]
    var json_: JSONValue { json ?? .null }
}

/// One request to the coordinator's HTTP API.
func http(_ method: String, _ url: String, token: String? = nil, body: String? = nil, headers: [String: String] = [:]) async throws -> HTTPAnswer {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    request.timeoutInterval = 60
    if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
    for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
    if let body {
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    }
    let (data, response) = try await URLSession.shared.data(for: request)
    let r = response as! HTTPURLResponse
    var hs: [String: String] = [:]
    for (k, v) in r.allHeaderFields { hs[String(describing: k).lowercased()] = String(describing: v) }
    return HTTPAnswer(status: r.statusCode, json: try? JSONValue.parse(Array(data)), text: String(decoding: data, as: UTF8.self), headers: hs)
}

extension Integration {
    /// The HTTP API against a real coordinator and workers: auth, flows, jobs from submit to
    /// output, control, workers, and bad input answered with the error envelope.
    @Suite struct HTTPAPITests {
        static let token = "it-token-0123456789abcdef"
        static let readOnly = "it-reader-0123456789abcdef"

        /// A coordinator with the HTTP API on a free loopback port, its ZeroMQ endpoint and base URL.
        func start(_ h: ProcessHarness, flows: [String], workers: Int = 1) async throws -> (base: String, endpoint: String) {
            let tokens = try h.write("tokens", "# test tokens\n\(Self.token) tester\n\(Self.readOnly) reader read-only\n")
            let c = try await h.coordinator(flows: flows, extra: ["--http", "127.0.0.1:0", "--http-tokens", tokens])
            try await waitUntil("the coordinator to print its HTTP address\n--- stderr:\n\(c.0.stderr.suffix(2000))", timeout: 30) {
                c.0.stdout.contains("http on ")
            }
            let line = c.0.stdout.split(separator: "\n").first { $0.contains("http on ") }!
            if workers > 0 { _ = try await h.workers(workers, coordinator: c) }
            return (String(line.split(separator: " ").last!), c.1)
        }

        /// Runs `body` against a fresh coordinator with the HTTP API (and `workers` workers), then
        /// stops every process it started, whether `body` passed or threw.
        func withAPI(flows: [(name: String, text: String)], workers: Int, _ body: (String) async throws -> Void) async throws {
            let h = try ProcessHarness()
            do {
                let (base, _) = try await start(h, flows: try flows.map { try h.write($0.name, $0.text) }, workers: workers)
                try await body(base)
            } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        @Test func authIsRequiredEverywhereButHealth() async throws {
            try await withAPI(flows: [("p4.yaml", pipeline4)], workers: 0) { base in

                let live = try await http("GET", base + "/health/live")
                #expect(live.status == 200 && live.json_["status"] == "live")
                let ready = try await http("GET", base + "/health/ready")
                #expect(ready.status == 200 && ready.json_["status"] == "ready" && ready.json_["flow_count"].intValue == 1)

                let none = try await http("GET", base + "/api/v1/jobs")
                #expect(none.status == 401 && none.json_["code"] == "UNAUTHORIZED" && none.json_["error"]["code"] == "UNAUTHORIZED")
                #expect(none.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
                #expect(none.json_["error"]["request_id"].stringValue?.isEmpty == false)
                let wrong = try await http("GET", base + "/api/v1/jobs", token: "not-the-token-0123456789")
                #expect(wrong.status == 401 && wrong.headers["www-authenticate"]?.contains("invalid_token") == true)
                let scheme = try await http("GET", base + "/api/v1/jobs", headers: ["Authorization": "Basic abc"])
                #expect(scheme.status == 401 && scheme.json_["details"]["field"] == "Authorization")
                let apiKey = try await http("GET", base + "/api/v1/jobs", headers: ["X-API-Key": Self.token])
                #expect(apiKey.status == 200, "routilux's X-API-Key header works too")

                // A read-only token reads but does not submit.
                let read = try await http("GET", base + "/api/v1/flows", token: Self.readOnly)
                #expect(read.status == 200 && read.json_["total"].intValue == 1 && read.json_["flows"].arrayValue?.first?["flow_id"].stringValue == "p4")
                let write = try await http("POST", base + "/api/v1/jobs", token: Self.readOnly, body: #"{"flow_id": "p4"}"#)
                #expect(write.status == 403 && write.json_["code"] == "FORBIDDEN")

                let unknown = try await http("GET", base + "/api/v1/nothing", token: Self.token)
                #expect(unknown.status == 404 && unknown.json_["code"] == "NOT_FOUND")
            }
        }

        @Test func aJobFromSubmitToOutputOverHTTP() async throws {
            try await withAPI(flows: [("p4.yaml", pipeline4)], workers: 2) { base in
                let t = Self.token

                let flow = try await http("GET", base + "/api/v1/flows/p4", token: t)
                #expect(flow.status == 200 && flow.json_["flow_id"] == "p4")
                let yaml = try await http("GET", base + "/api/v1/flows/p4/dsl?format=yaml", token: t)
                #expect(yaml.status == 200 && yaml.text.contains("flow_id: p4") && yaml.headers["content-type"]?.hasPrefix("application/yaml") == true)
                let noFlow = try await http("GET", base + "/api/v1/flows/nope", token: t)
                #expect(noFlow.status == 404 && noFlow.json_["code"] == "FLOW_NOT_FOUND")

                let params = pipelineParams(20)
                let submitted = try await http("POST", base + "/api/v1/jobs", token: t, body: #"{"flow_id": "p4", "data": \#(params), "idempotency_key": "k-1"}"#)
                #expect(submitted.status == 201, "\(submitted.text)")
                let job = try #require(submitted.json_["job_id"].stringValue)
                // The same key and request: the same job, not a second one; the key with another request: a conflict.
                let again = try await http("POST", base + "/api/v1/jobs", token: t, body: #"{"flow_id": "p4", "data": \#(params), "idempotency_key": "k-1"}"#)
                #expect(again.status == 200 && again.json_["job_id"].stringValue == job)
                let other = try await http("POST", base + "/api/v1/jobs", token: t, body: #"{"flow_id": "p4", "data": {"items": []}}"#, headers: ["Idempotency-Key": "k-1"])
                #expect(other.status == 409 && other.json_["details"]["field"] == "idempotency_key")

                let waited = try await http("POST", base + "/api/v1/jobs/\(job)/wait?timeout=60", token: t)
                #expect(waited.status == 200 && waited.json_["status"] == "completed" && waited.json_["result"] == "completed", "\(waited.text)")
                let got = try await http("GET", base + "/api/v1/jobs/\(job)", token: t)
                #expect(got.status == 200 && got.json_["status"] == "completed" && got.json_["flow_id"] == "p4")
                #expect(got.json_["progress"]["queued"].intValue == 0 && got.json_["progress"]["in_flight"].intValue == 0 && got.json_["outputs_count"].intValue == 20)

                let output = try await http("GET", base + "/api/v1/jobs/\(job)/output?limit=5&offset=10", token: t)
                #expect(output.status == 200 && output.json_["total"].intValue == 20 && output.json_["outputs"].arrayValue?.count == 5)
                let history = try await http("GET", base + "/api/v1/jobs/\(job)/history?limit=3", token: t)
                #expect(history.status == 200 && history.json_["records"].arrayValue?.count == 3)
                #expect((history.json_["total"].intValue ?? 0) >= 60, "each of the 20 items went through three deliveries")
                let state = try await http("GET", base + "/api/v1/jobs/\(job)/state", token: t)
                let restored = try JobState(json: state.json_)
                #expect(state.status == 200 && restored.outputLog.count == 20)

                let list = try await http("GET", base + "/api/v1/jobs?status=completed&flow_id=p4", token: t)
                #expect(list.status == 200 && list.json_["total"].intValue == 1 && list.json_["jobs"].arrayValue?.first?["job_id"].stringValue == job)
                let empty = try await http("GET", base + "/api/v1/jobs?status=running", token: t)
                #expect(empty.status == 200 && empty.json_["total"].intValue == 0)

                let workers = try await http("GET", base + "/api/v1/workers", token: t)
                #expect(workers.status == 200 && workers.json_["total"].intValue == 2)
                let wid = try #require(workers.json_["workers"].arrayValue?.first?["worker_id"].stringValue)
                let one = try await http("GET", base + "/api/v1/workers/\(wid)", token: t)
                #expect(one.status == 200 && one.json_["worker_id"].stringValue == wid && one.json_["capacity"].intValue != nil)
                let noWorker = try await http("GET", base + "/api/v1/workers/nobody", token: t)
                #expect(noWorker.status == 404 && noWorker.json_["code"] == "WORKER_NOT_FOUND")
            }
        }

        @Test func pauseResumeAndCancelOverHTTP() async throws {
            try await withAPI(flows: [("slow.yaml", slowFlow)], workers: 1) { base in
                let t = Self.token
                let items = JSONValue.object(["items": .array((0..<200).map { .int($0) })]).jsonString()
                let submitted = try await http("POST", base + "/api/v1/jobs", token: t, body: #"{"flow_id": "slow", "data": \#(items)}"#)
                let job = try #require(submitted.json_["job_id"].stringValue, "\(submitted.text)")
                // 200 items at 50 ms each on one worker take seconds: a 1 s wait runs out first.
                let waited = try await http("POST", base + "/api/v1/jobs/\(job)/wait?timeout=1", token: t)
                #expect(waited.status == 200 && waited.json_["result"] == "timeout" && waited.json_["status"] == "running", "\(waited.text)")
                let paused = try await http("POST", base + "/api/v1/jobs/\(job)/pause", token: t, body: #"{"reason": "over http"}"#)
                #expect(paused.status == 200 && paused.json_["status"] == "paused", "\(paused.text)")
                let resumed = try await http("POST", base + "/api/v1/jobs/\(job)/resume", token: t)
                #expect(resumed.status == 200 && resumed.json_["status"] == "running", "\(resumed.text)")
                let cancelled = try await http("POST", base + "/api/v1/jobs/\(job)/cancel", token: t, body: "{}")
                #expect(cancelled.status == 200 && cancelled.json_["status"] == "cancelled", "\(cancelled.text)")
                // Its status does not allow it any more: a conflict, not a 5xx.
                let late = try await http("POST", base + "/api/v1/jobs/\(job)/resume", token: t)
                #expect(late.status == 409 && late.json_["code"] == "CONFLICT", "\(late.text)")
                let timedOut = try await http("POST", base + "/api/v1/jobs/no-such-job/wait?timeout=1", token: t)
                #expect(timedOut.status == 404 && timedOut.json_["code"] == "JOB_NOT_FOUND")
            }
        }

        @Test func badInputIsA4xxThatNamesTheField() async throws {
            try await withAPI(flows: [("p4.yaml", pipeline4)], workers: 0) { base in
                let t = Self.token
                let cases: [(String, String, String?, Int, String?)] = [
                    ("POST", "/api/v1/jobs", "{not json", 400, "body"),
                    ("POST", "/api/v1/jobs", "[1, 2]", 400, "body"),
                    ("POST", "/api/v1/jobs", #"{"flow_id": "p4", "colour": "red"}"#, 400, "colour"),
                    ("POST", "/api/v1/jobs", #"{"flow_id": 7}"#, 400, "flow_id"),
                    ("POST", "/api/v1/jobs", #"{"flow_id": "p4", "data": [1]}"#, 400, "data"),
                    ("POST", "/api/v1/jobs", #"{"flow_id": "p4", "max_workers": 0}"#, 400, "max_workers"),
                    ("POST", "/api/v1/jobs", #"{"data": {}}"#, 400, "flow_id"),
                    ("POST", "/api/v1/jobs", #"{"flow_id": "nope"}"#, 422, nil),
                    ("GET", "/api/v1/jobs?limit=0", nil, 400, "limit"),
                    ("GET", "/api/v1/jobs?offset=-1", nil, 400, "offset"),
                    ("GET", "/api/v1/jobs?limit=abc", nil, 400, "limit"),
                    ("GET", "/api/v1/jobs?status=sleeping", nil, 400, "status"),
                    ("GET", "/api/v1/jobs?colour=red", nil, 400, "colour"),
                    ("GET", "/api/v1/jobs/nope", nil, 404, nil),
                    ("GET", "/api/v1/flows/p4/dsl?format=xml", nil, 400, "format"),
                    ("POST", "/api/v1/flows/validate", #"{"dsl": "routines: [1"}"#, 400, "dsl"),
                    ("POST", "/api/v1/jobs/nope/wait?timeout=0", nil, 400, "timeout"),
                ]
                for (method, path, body, status, field) in cases {
                    let r = try await http(method, base + path, token: t, body: body)
                    #expect(r.status == status, "\(method) \(path) \(body ?? ""): \(r.status) \(r.text)")
                    #expect(r.json_["code"].stringValue != nil && r.json_["error"]["message"].stringValue != nil, "\(method) \(path): the envelope: \(r.text)")
                    if let field { #expect(r.json_["details"]["field"].stringValue == field, "\(method) \(path): \(r.text)") }
                }
                // A body over the limit: 413, and the coordinator is still there.
                let big = "{\"flow_id\": \"p4\", \"data\": {\"x\": \"" + String(repeating: "a", count: 11 << 20) + "\"}}"
                let tooBig = try await http("POST", base + "/api/v1/jobs", token: t, body: big)
                #expect(tooBig.status == 413 && tooBig.json_["code"] == "PAYLOAD_TOO_LARGE")
                let valid = try await http("POST", base + "/api/v1/flows/validate", token: t, body: #"{"dsl_dict": {"flow_id": "x", "routines": {"a": {"type": "Mapper"}}}}"#)
                #expect(valid.status == 200 && valid.json_["valid"].boolValue == true, "\(valid.text)")
                let invalid = try await http("POST", base + "/api/v1/flows/validate", token: t, body: #"{"dsl_dict": {"routines": {"a": {"type": "Mapper"}}, "connections": [{"from": "a.output", "to": "b.input"}]}}"#)
                #expect(invalid.status == 200 && invalid.json_["valid"].boolValue == false && invalid.json_["errors"].arrayValue?.first?["path"].stringValue?.hasPrefix("connections") == true, "\(invalid.text)")
                let ready = try await http("GET", base + "/health/ready")
                #expect(ready.status == 200)
            }
        }

        @Test func plaintextOffLoopbackAndAMissingTokensFileAreRefused() async throws {
            let h = try ProcessHarness()
            do { try await refusals(h) } catch {
                await h.shutdown()
                throw error
            }
            await h.shutdown()
        }

        func refusals(_ h: ProcessHarness) async throws {
            let tokens = try h.write("tokens", "\(Self.token)\n")
            let exposed = try h.start("routilux-coordinator", ["start", "--bind", "tcp://127.0.0.1:*", "--state-dir", "none", "--http", "0.0.0.0:0", "--http-tokens", tokens])
            #expect(try await exposed.exitCode(timeout: 30) == 2)
            #expect(exposed.stderr.contains("--insecure"), "\(exposed.stderr)")
            let noTokens = try h.start("routilux-coordinator", ["start", "--bind", "tcp://127.0.0.1:*", "--state-dir", "none", "--http", "127.0.0.1:0"], env: ["ROUTILUX_HTTP_TOKENS": ""])
            #expect(try await noTokens.exitCode(timeout: 30) == 2)
            #expect(noTokens.stderr.contains("--http-tokens"), "\(noTokens.stderr)")
            let badFile = try h.write("bad-tokens", "short\n")
            let bad = try h.start("routilux-coordinator", ["start", "--bind", "tcp://127.0.0.1:*", "--state-dir", "none", "--http", "127.0.0.1:0", "--http-tokens", badFile])
            #expect(try await bad.exitCode(timeout: 30) == 2)
            #expect(bad.stderr.contains("bad-tokens:1"), "\(bad.stderr)")
        }
    }
}
