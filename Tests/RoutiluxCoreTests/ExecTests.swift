import Foundation
import RoutiluxBuiltins
import RoutiluxCore
import RoutiluxTestSupport
import Testing

/// The Exec builtin run in-process (the worker's side of it).
@Suite(.serialized) struct ExecTests {
    init() { ExecPermission.allow() }

    func run(_ config: JSONObject, _ data: JSONObject = ["x": 1], shared: JSONObject = [:]) async throws -> HandlerContext {
        let r = try execType.make(config: config)
        let ctx = HandlerContext(jobId: "j1", routineId: "ex", slot: "input", attempt: 2, config: config, events: Set(r.events), sharedData: shared)
        try await r.slotNamed("input")!.handler!(data, ctx)
        return ctx
    }

    @Test func eachStdoutLineIsAnEmissionOrAnEffect() async throws {
        let script = #"""
            read input
            echo "{\"event\": \"output\", \"data\": $input}"
            echo ""
            echo '{"event": "done", "data": {"job": "'$ROUTILUX_JOB_ID'", "attempt": '$ROUTILUX_ATTEMPT'}}'
            echo '{"output": "note", "data": "hello"}'
            echo '{"shared_data": {"k": 1}}'
            echo '{"shared_log": {"step": "x"}}'
            echo '{"deferred": "done", "data": {"later": true}}'
            echo "{\"event\": \"seen\", \"data\": $ROUTILUX_SHARED_DATA}"
            """#
        let ctx = try await run(["command": .string(script), "events": ["output", "done", "seen"]], ["x": 1], shared: ["s": "v"])
        #expect(ctx.emissions.map(\.event) == ["output", "done", "seen"])
        #expect(ctx.emissions[0].data == ["x": 1])
        #expect(ctx.emissions[1].data == ["job": "j1", "attempt": 2])
        #expect(ctx.emissions[2].data == ["s": "v"])
        #expect(ctx.outputs == [OutputRecord(outputType: "note", data: "hello")])
        #expect(ctx.effects.sharedUpdates.map(\.key) == ["k"])
        #expect(ctx.effects.sharedLog == [["step": "x"]])
        #expect(ctx.effects.deferred.map(\.event) == ["done"])
    }

    @Test func aNonZeroExitIsAnErrorWithTheTailOfStderr() async throws {
        do {
            _ = try await run(["command": "echo '{\"event\": \"output\"}'; echo 'something broke' >&2; exit 3"])
            Issue.record("no error")
        } catch let e as RoutineError {
            #expect(e.message.contains("exited with 3: something broke"))
            #expect(e.type == "ExecError")
        }
        do {
            _ = try await run(["command": "echo '{\"error_type\": \"ValueError\"}'; exit 1"])
        } catch let e as RoutineError {
            #expect(e.type == "ValueError")
        }
    }

    @Test func aSlowCommandIsKilledAtItsTimeout() async throws {
        let start = Date()
        do {
            _ = try await run(["command": "sleep 30; echo done", "timeout": 0.3])
            Issue.record("no timeout")
        } catch let e as RoutineError {
            #expect(e.type == "TimeoutError")
            #expect(e.message.contains("timed out after 0.3 s"))
        }
        #expect(Date().timeIntervalSince(start) < 20, "killed, not waited for")
    }

    @Test func badOutputAndBadConfigSayWhere() async throws {
        do {
            _ = try await run(["command": "echo '{\"event\": \"output\"}'; echo 'not json'"])
            Issue.record("no error")
        } catch let e as RoutineError {
            #expect(e.message.contains("stdout line 2 is not JSON"))
        }
        do {
            _ = try await run(["command": "echo '{\"event\": \"nope\"}'"])
        } catch let e as RoutineError {
            #expect(e.message.contains("event 'nope' does not exist"))
        }
        #expect(throws: RoutineConfigError.self) { try execType.make(config: ["command": 5]) }
        #expect(throws: RoutineConfigError.self) { try execType.make(config: ["command": "x", "timeout": -1]) }
    }

    @Test func argvCommandsGetTheSlotDataOnStdin() async throws {
        let ctx = try await run(["command": ["/bin/sh", "-c", "cat | sed 's/^/{\"event\": \"output\", \"data\": /; s/$/}/'"]], ["n": 7])
        #expect(ctx.emissions.first?.data == ["n": 7])
    }

    @Test func theCommandStartsWithDefaultSignalsInItsOwnGroup() async throws {
        // This process ignores SIGINT, SIGTERM and SIGPIPE; the command must not inherit that.
        let ctx = try await run(["command": #"echo "{\"event\": \"output\", \"data\": {\"ign\": \"$(grep SigIgn /proc/self/status | cut -f2)\", \"pgid\": $(ps -o pgid= $$), \"pid\": $$}}""#])
        let data = try #require(ctx.emissions.first?.data)
        let ignored = UInt64(data["ign"]?.stringValue ?? "", radix: 16) ?? .max
        for sig in [SIGINT, SIGTERM, SIGPIPE] { #expect(ignored & (1 << UInt64(sig - 1)) == 0, "signal \(sig) is ignored in the child") }
        #expect(data["pgid"] == data["pid"], "the command leads its own process group")
    }

    @Test func aBackgroundChildHoldingTheOutputDoesNotHoldTheActivation() async throws {
        let start = Date()
        let ctx = try await run(["command": #"sleep 20 & echo '{"event": "output", "data": {"done": true}}'"#])
        #expect(ctx.emissions.first?.data == ["done": true])
        #expect(Date().timeIntervalSince(start) < 15, "finished without waiting for the background sleep")
    }

    @Test func aRelativeCommandRunsFromItsWorkingDirectory() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("routilux-exec-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("step.sh")
        let text = "#!/bin/sh\necho '{\"event\": \"output\", \"data\": {\"cwd\": \"'$(pwd)'\"}}'\n"
        try Data(text.utf8).write(to: script)
        chmod(script.path, 0o755)
        let ctx = try await run(["command": ["./step.sh"], "cwd": .string(dir.path)])
        #expect(ctx.emissions.first?.data["cwd"]?.stringValue == dir.path)
    }

    @Test func theCommandInheritsNoDescriptorButItsStandardThree() async throws {
        let ctx = try await run(["command": #"echo "{\"event\": \"output\", \"data\": {\"fds\": \"$(ls /proc/self/fd | tr '\n' ' ')\"}}""#])
        let fds = (ctx.emissions.first?.data["fds"]?.stringValue ?? "").split(separator: " ").map(String.init)
        // 0, 1, 2, and the one `ls` opened to list them.
        #expect(fds.count == 4 && Array(fds.prefix(3)) == ["0", "1", "2"], "\(fds)")
    }

    @Test func commandsThatExitWithoutReadingTheirInputNeverHurtTheWorker() async throws {
        // Many at once, each ignoring a large stdin and exiting at once (a race the library must survive).
        let big: JSONObject = ["blob": .string(String(repeating: "x", count: 1 << 20))]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<24 {
                group.addTask {
                    let command = i % 2 == 0 ? "exit 0" : "echo '{\"event\": \"output\", \"data\": {}}'; exit 0"
                    _ = try await self.run(["command": .string(command)], big)
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func largeOutputArrivesWholeAndStderrKeepsItsEnd() async throws {
        let ctx = try await run(["command": #"i=0; while [ $i -lt 20000 ]; do echo "{\"event\": \"output\", \"data\": {\"i\": $i}}"; i=$((i+1)); done"#, "timeout": 120])
        #expect(ctx.emissions.count == 20000)
        #expect(ctx.emissions.last?.data == ["i": 19999])
        do {
            _ = try await run(["command": "head -c 3000000 /dev/zero | tr '\\0' 'a' >&2; echo ' the end' >&2; exit 2"])
            Issue.record("no error")
        } catch let e as RoutineError {
            #expect(e.message.hasSuffix("the end"), "\(e.message.suffix(40))")
        }
    }

    @Test func aTimeoutReportsWhatTheCommandSaidAndOverlongStdoutIsRefused() async throws {
        do {
            _ = try await run(["command": "echo 'warming up' >&2; sleep 30", "timeout": 0.5])
            Issue.record("no timeout")
        } catch let e as RoutineError {
            #expect(e.type == "TimeoutError")
            #expect(e.message.hasSuffix(": warming up"), "\(e.message)")
        }
        do {
            _ = try await run(["command": "head -c 70000000 /dev/zero", "timeout": 60])
            Issue.record("no error")
        } catch let e as RoutineError {
            #expect(e.message.contains("wrote more than 64 MiB to stdout and was killed"), "\(e.message)")
        }
    }

    @Test func cancellingTheActivationEndsTheCommandsWholeGroup() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("routilux-cancel-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let pidFile = dir.appendingPathComponent("pids").path
        let activation = Task { try await run(["command": .string("sleep 300 & echo $! > \(pidFile); wait"), "timeout": 600]) }
        let pid = try await waitForPid(in: pidFile, "the command to start its child", timeout: 20)
        activation.cancel()
        _ = try? await activation.value
        // The background sleep was in the command's group: it ends (or is a zombie of no one's) soon after.
        try await waitUntil("the command's child \(pid) to end with the cancelled activation", timeout: 10) { processHasEnded(pid) }
    }

    @Test func aBackgroundChildThatKeepsWritingEndsWithTheCommand() async throws {
        let start = Date()
        let ctx = try await run(["command": #"(while :; do echo x >&2; done) & echo '{"event": "output", "data": {"ok": 1}}'; exit 0"#, "timeout": 30])
        #expect(ctx.emissions.first?.data == ["ok": 1])
        #expect(Date().timeIntervalSince(start) < 20, "not held until the timeout")
    }
}
