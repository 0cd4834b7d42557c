import Foundation
import RoutiluxCore
import RoutiluxTestSupport
import RoutiluxTransport
import RoutiluxWire
import Testing

/// Keys for a CURVE cluster, made with `routilux keys generate`: the
/// coordinator's, two workers' and a client's authorized, a stranger's not.
struct KeyRing {
    let dir: String
    var authorized: String { dir + "/authorized" }
    func secret(_ name: String) -> String { "\(dir)/\(name).key_secret" }
    func publicKey(_ name: String) -> String { "\(dir)/\(name).key" }

    static func make(_ h: ProcessHarness) async throws -> KeyRing {
        let ring = KeyRing(dir: h.path("keys"))
        for name in ["coordinator", "w1", "w2", "client", "stranger"] {
            let r = try await h.routilux(["keys", "generate", "\(ring.dir)/\(name)"])
            #expect(r.code == 0, "\(r.err)")
        }
        let fm = FileManager.default
        try fm.createDirectory(atPath: ring.authorized + "/workers", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: ring.authorized + "/clients", withIntermediateDirectories: true)
        for w in ["w1", "w2"] { try fm.copyItem(atPath: ring.publicKey(w), toPath: "\(ring.authorized)/workers/\(w).key") }
        try fm.copyItem(atPath: ring.publicKey("client"), toPath: "\(ring.authorized)/clients/client.key")
        return ring
    }

    /// The options a worker or client with key `name` gives.
    func peer(_ name: String) -> [String] { ["--curve-secret", secret(name), "--coordinator-key", publicKey("coordinator")] }
    var coordinator: [String] { ["--curve-secret", secret("coordinator"), "--authorized-keys", authorized] }
}

extension Integration {
    /// CURVE on every tcp link: who gets in, in which role, and what a stranger can do.
    @Suite struct CurveTests {
        @Test func keysAreGeneratedShownAndTheirFilesChecked() async throws {
            let h = try ProcessHarness()
            defer { Task { await h.shutdown() } }
            let ring = try await KeyRing.make(h)
            var st = stat()
            #expect(stat(ring.secret("w1"), &st) == 0 && st.st_mode & 0o777 == 0o600, "the secret file is 0600")
            let shown = try await h.routilux(["keys", "show", ring.publicKey("w1")])
            #expect(shown.code == 0)
            let key = try CurveCertificates.loadPublic(ring.publicKey("w1"))
            #expect(shown.out.contains(key) && shown.out.contains(CurveCertificates.fingerprint(key)))
            let again = try await h.routilux(["keys", "generate", "\(ring.dir)/w1"])
            #expect(again.code == 2 && again.err.contains("already exists"), "\(again.err)")
            chmod(ring.secret("w1"), 0o644)
            let loose = try h.start("routilux-worker", ["join", "tcp://127.0.0.1:5999"] + ring.peer("w1"))
            #expect(try await loose.exitCode(timeout: 10) == 2)
            #expect(loose.stderr.contains("chmod 600 \(ring.secret("w1"))"), "\(loose.stderr)")
            #expect(loose.stderr.split(separator: "\n").count == 1, "one line: \(loose.stderr)")
            let missing = try h.start("routilux-coordinator", ["start", "--bind", "tcp://127.0.0.1:*", "--curve-secret", ring.secret("nope"), "--authorized-keys", ring.authorized])
            #expect(try await missing.exitCode(timeout: 10) == 2)
            #expect(missing.stderr.contains("nope.key_secret"), "\(missing.stderr)")
            // Plaintext on a public address needs --insecure, for every process.
            let open = try h.start("routilux-coordinator", ["start", "--bind", "tcp://0.0.0.0:*"])
            #expect(try await open.exitCode(timeout: 10) == 2)
            #expect(open.stderr.contains("--insecure"), "\(open.stderr)")
            let client = try await h.routilux(["job", "status", "j", "--coordinator", "tcp://10.1.2.3:5555"])
            #expect(client.code == 2 && client.err.contains("--insecure"), "\(client.err)")
            let worker = try h.start("routilux-worker", ["join", "tcp://10.1.2.3:5555"])
            #expect(try await worker.exitCode(timeout: 10) == 2)
            #expect(worker.stderr.contains("--insecure"))
        }

        @Test func onlyAuthorizedKeysInTheirRoleGetIn() async throws {
            let h = try ProcessHarness()
            let ring = try await KeyRing.make(h)
            let flow = try h.write("p4.yaml", pipeline4)
            let c = try await h.coordinator(flows: [flow], extra: ring.coordinator)
            defer { Task { await h.shutdown() } }
            _ = try await h.workers(1, coordinator: c, extra: ring.peer("w1"))
            let params = try h.write("params.json", pipelineParams(30))
            let client = ["--coordinator", c.1] + ring.peer("client")
            let done = try await h.routilux(["job", "submit", "--flow", "p4", "--params", "@\(params)", "--wait", "--json"] + client)
            #expect(done.code == 0, "\(done.err)")
            #expect(try collectedIndexes(jobState(done.out)).sorted() == Array(0..<30))

            // A stranger's key, a plaintext peer and a client key trying to join: none gets in.
            let stranger = try h.start("routilux-worker", ["join", c.1, "--id", "stranger"] + ring.peer("stranger"))
            let plain = try h.start("routilux-worker", ["join", c.1, "--id", "plain"])
            let asClient = try h.start("routilux-worker", ["join", c.1, "--id", "client-as-worker"] + ring.peer("client"))
            try await waitUntil("the refusals to be logged\n\(c.0.stderr.suffix(2000))") {
                c.0.stderr.contains("refused key \(CurveCertificates.fingerprint(try CurveCertificates.loadPublic(ring.publicKey("stranger")))) from")
                    && c.0.stderr.contains("a client key may not send JOIN")
            }
            // A worker key may not submit or control; it is told so.
            let asWorker = try await h.routilux(["job", "submit", "--flow", "p4", "--params", "@\(params)"] + ["--coordinator", c.1] + ring.peer("w1"))
            #expect(asWorker.code == 2 && asWorker.err.contains("a worker key may not send SUBMIT"), "\(asWorker.err)")
            let cancel = try await h.routilux(["job", "cancel", "x", "--coordinator", c.1] + ring.peer("w2"))
            #expect(cancel.code == 2 && cancel.err.contains("may not send CONTROL"), "\(cancel.err)")
            // A plaintext client gets no answer.
            let plainClient = try await h.routilux(["job", "status", "x", "--coordinator", c.1, "--timeout", "2"])
            #expect(plainClient.code == 1 && plainClient.err.contains("no reply"), "\(plainClient.err)")
            let status = try await h.routilux(["cluster", "status", "--json"] + client)
            #expect(status.code == 0, "\(status.err)")
            let s = try JSONValue.parse(Array(status.out.utf8)) as JSONValue
            let ids = (s["workers"].arrayValue ?? []).compactMap { $0["worker_id"].stringValue }
            #expect(ids.count == 1 && !ids.contains("stranger") && !ids.contains("plain") && !ids.contains("client-as-worker"), "\(ids)")
            #expect(s["workers"].arrayValue?.first?["key_fingerprint"].stringValue == CurveCertificates.fingerprint(try CurveCertificates.loadPublic(ring.publicKey("w1"))))
            #expect((s["dropped"]["unauthorized"].intValue ?? 0) >= 3)
            #expect(s["authenticated"].boolValue == true)
            #expect((s["keys_refused"].intValue ?? 0) >= 1, "the stranger's key")
            #expect((s["handshakes_failed"].intValue ?? 0) >= 1, "the plaintext worker and client: \(status.out)")
            // And another job still runs only on the authorized worker.
            let second = try await h.routilux(["job", "submit", "--flow", "p4", "--params", "@\(params)", "--wait"] + client)
            #expect(second.code == 0, "\(second.err)")
            #expect(!stranger.stderr.contains("joined coordinator") && !plain.stderr.contains("joined coordinator") && !asClient.stderr.contains("joined coordinator"))
        }

        @Test func aTaskPushedIntoAWorkersInboxByAStrangerNeverArrives() async throws {
            let h = try ProcessHarness()
            let ring = try await KeyRing.make(h)
            let flow = try h.write("p4.yaml", pipeline4)
            let c = try await h.coordinator(flows: [flow], extra: ring.coordinator)
            defer { Task { await h.shutdown() } }
            let w = try await h.workers(1, coordinator: c, extra: ring.peer("w1") + ["--log-level", "debug"])
            let line = try #require(c.0.stderr.split(separator: "\n").first { $0.contains(" joined from ") })
            let inbox = try #require(line.components(separatedBy: " joined from ").last?.split(separator: " ").first.map(String.init))
            let codec = WireCodec()
            let task = WireMessage.task(
                TaskMessage(jobId: "evil-job", taskId: 7, flowId: "p4", routineId: "stage1", routineType: "Mapper", slot: "input", attempt: 1, token: "guess"),
                payload: RawJSON(["text": "pwned"]), config: RawJSON([:]), slotState: nil, routineState: nil, shared: nil)
            // Plaintext, a CURVE server with the stranger's key, and one that claims the coordinator's public key without its secret.
            let strangerKeys = try CurveCertificates.loadSecret(ring.secret("stranger"))
            let coordinatorPublic = try CurveCertificates.loadPublic(ring.publicKey("coordinator"))
            let attacker = Transport(name: "attacker")
            attacker.connect(peer: "plain", endpoint: inbox)
            attacker.connect(peer: "curve", endpoint: inbox, options: SocketOptions.standard.with(.server(strangerKeys, domain: "x")))
            attacker.connect(peer: "fake", endpoint: inbox, options: SocketOptions.standard.with(.server(CurveKeyPair(publicKey: coordinatorPublic, secretKey: strangerKeys.secretKey), domain: "y")))
            for p in ["plain", "curve", "fake"] { attacker.send(to: p, frames: codec.encode(task)) }
            // A real job afterwards: the worker serves it, and never saw the stranger's TASK.
            let params = try h.write("params.json", pipelineParams(5))
            let done = try await h.routilux(["job", "submit", "--flow", "p4", "--params", "@\(params)", "--wait", "--coordinator", c.1] + ring.peer("client"))
            #expect(done.code == 0, "\(done.err)")
            await attacker.shutdown()
            #expect(!w[0].stderr.contains("evil-job") && !c.0.stderr.contains("evil-job"), "\(w[0].stderr.suffix(2000))")
            #expect(!w[0].stderr.contains("dropped TASK"), "not even dropped by the worker: it never got past CURVE")
        }

        @Test func aRemovedKeyIsRefusedAfterSIGHUP() async throws {
            let h = try ProcessHarness()
            let ring = try await KeyRing.make(h)
            let flow = try h.write("p4.yaml", pipeline4)
            let c = try await h.coordinator(flows: [flow], extra: ring.coordinator)
            defer { Task { await h.shutdown() } }
            _ = try await h.workers(1, coordinator: c, extra: ring.peer("w2"))
            try FileManager.default.removeItem(atPath: "\(ring.authorized)/workers/w2.key")
            c.0.kill(SIGHUP)
            try await waitUntil("the reload and the removal\n\(c.0.stderr.suffix(2000))") {
                c.0.stderr.contains("SIGHUP: reloaded") && c.0.stderr.contains("is no longer authorized; removing it")
            }
            let again = try h.start("routilux-worker", ["join", c.1, "--id", "w2-again"] + ring.peer("w2"))
            try await waitUntil("the next join to be refused\n\(c.0.stderr.suffix(2000))") {
                c.0.stderr.contains("refused key \(CurveCertificates.fingerprint(try CurveCertificates.loadPublic(ring.publicKey("w2")))) from")
            }
            #expect(!again.stderr.contains("joined coordinator"))
            // w1 is still welcome.
            _ = try await h.workers(1, coordinator: c, extra: ring.peer("w1"))
            let params = try h.write("params.json", pipelineParams(5))
            let done = try await h.routilux(["job", "submit", "--flow", "p4", "--params", "@\(params)", "--wait", "--coordinator", c.1] + ring.peer("client"))
            #expect(done.code == 0, "\(done.err)")
        }
    }
}
