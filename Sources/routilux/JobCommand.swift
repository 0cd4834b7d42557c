import ArgumentParser
import Foundation
import RoutiluxBuiltins
import RoutiluxCommandLine
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxTransport
import RoutiluxWire

/// `routilux job ...`: talk to a running coordinator.
struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Submit jobs to a running coordinator and follow them.",
        subcommands: [Submit.self, Status.self, Wait.self, Pause.self, Resume.self, Cancel.self])
}

/// Options every `job` verb shares.
struct CoordinatorOptions: ParsableArguments {
    @Option(help: "The coordinator's inbox, e.g. tcp://10.0.0.5:5555 (default: $ROUTILUX_COORDINATOR).")
    var coordinator: String?
    @Option(help: "Seconds to wait: for the coordinator's answer (default 30), or, with `wait` and `submit --wait`, for the job to end (default: as long as it takes).")
    var timeout: Double?
    @Option(help: "With `wait` and `submit --wait`: how long a coordinator that stopped answering (restarting) is waited for before giving up, seconds.")
    var unreachableTimeout: Double = 120
    @Flag(help: "Print the JobState as JSON (for scripts).")
    var json = false
    @Option(help: "Also write the JobState as JSON to this file (e.g. to resume it elsewhere with `resume --from`).")
    var output: String?
    @Option(help: "Log level.")
    var logLevel: String = ProcessInfo.processInfo.environment["ROUTILUX_LOG_LEVEL"] ?? "warning"
    @OptionGroup var curve: CurveArguments
    @OptionGroup var limit: MessageLimitArguments

    /// `--coordinator`, else `$ROUTILUX_COORDINATOR` (checked in `validate`).
    var endpoint: String { (try? EndpointArguments.coordinator(coordinator)) ?? "" }

    /// The CURVE keys toward the coordinator (checked in `validate`).
    var keys: CurvePeerKeys? { (try? curve.peerKeys(coordinator: endpoint)) ?? nil }

    var limits: TransportLimits { TransportLimits(maxMessageBytes: limit.maxMessageBytes) }

    /// A missing or malformed endpoint or key, or plaintext to a public address, is a usage error: exit 2 before anything is sent.
    func validate() throws {
        _ = try EndpointArguments.coordinator(coordinator)
    }

    /// Bad option values are bad input: exit 2, like every other input error.
    func check() throws {
        _ = try curve.peerKeys(coordinator: endpoint)
        if let t = timeout, !(t > 0 && t <= 31_536_000) { throw fail("--timeout must be a number of seconds between 0 and a year", code: Exit.badInput) }
        if !(unreachableTimeout > 0 && unreachableTimeout <= 31_536_000) { throw fail("--unreachable-timeout must be a number of seconds between 0 and a year", code: Exit.badInput) }
    }
}

/// Sends one request, prints the answer, and maps the job's status to the exit code.
/// `requireCompleted`: exit 1 unless the job completed (for verbs that wait for the end).
@discardableResult
func exchange(
    _ options: CoordinatorOptions, requireCompleted: Bool, print: Bool = true, refusalPrefix: String = "",
    _ make: @escaping (String, String) -> WireMessage
) async throws -> ReplyMessage {
    try options.check()
    bootstrapLogging(options.logLevel)
    let answer: (ReplyMessage, JobState?)
    do {
        answer = try await CoordinatorClient.once(options.endpoint, keys: options.keys, limits: options.limits, timeout: options.timeout ?? 30, make)
    } catch let e as CoordinatorClient.OversizeRequest {
        throw fail("\(e)", code: Exit.badInput)
    } catch {
        throw fail("\(error)", code: Exit.notCompleted)
    }
    if !print {
        guard answer.0.ok else { throw fail(refusalPrefix + (answer.0.error ?? "the coordinator refused the request"), code: Exit.badInput) }
        return answer.0
    }
    return try report(answer, options, requireCompleted: requireCompleted, refusalPrefix: refusalPrefix)
}

/// Prints an answer (summary or JSON, and --output) and maps it to the exit code.
@discardableResult
func report(
    _ answer: (ReplyMessage, JobState?), _ options: CoordinatorOptions, requireCompleted: Bool, refusalPrefix: String = ""
) throws -> ReplyMessage {
    let (reply, state) = answer
    guard reply.ok else { throw fail(refusalPrefix + (reply.error ?? "the coordinator refused the request"), code: Exit.badInput) }
    if let path = options.output, let state {
        try writeJobState(state, to: path)
    }
    if options.json, let state {
        writeStdout(state.json.jsonString(pretty: true))
    } else if let state {
        writeStdout(summarize(state, elapsed: nil))
    } else {
        writeStdout("job \(reply.jobId ?? "?"): \(reply.status ?? "?")")
    }
    if requireCompleted && reply.status != JobStatus.completed.rawValue { throw Exit.notCompleted }
    return reply
}

/// Waits for a job to end, for as long as `--timeout` allows (default: no
/// limit), across restarts of a durable coordinator.
///
/// Each wait lasts one short slice (3 s; the coordinator answers by then even
/// if the job goes on), so a coordinator that stops answering is noticed
/// within seconds. Then it is asked again every second, for up to
/// `--unreachable-timeout`: a coordinator that comes back with the job (its
/// state dir) is waited on again; one that comes back without it ends the
/// wait with exit 3.
/// `instance`: the coordinator process that answered the submit (else the first answer's).
func waitForEnd(_ options: CoordinatorOptions, jobId: String, historyTail: Int? = nil, instance known: String? = nil) async throws {
    try options.check()
    bootstrapLogging(options.logLevel)
    let slice = ProcessInfo.processInfo.environment["ROUTILUX_WAIT_POLL"].flatMap(Double.init) ?? 3
    let deadline = options.timeout.map { Date().addingTimeInterval($0) }
    func timedOut() -> ExitCode {
        fail("job \(jobId) did not end within \(Int(options.timeout ?? 0)) s (it goes on running; `routilux job wait \(jobId)` waits again)", code: Exit.notCompleted)
    }
    func ask(wait: Bool, within: Double) async throws -> (ReplyMessage, JobState?) {
        let waitMs = max(100, Int(within * 1000))
        return try await CoordinatorClient.once(options.endpoint, keys: options.keys, limits: options.limits, timeout: within + 2) { replyTo, requestId in
            .query(QueryMessage(requestId: requestId, replyTo: replyTo, jobId: jobId, wait: wait, historyTail: historyTail, waitMs: wait ? waitMs : nil))
        }
    }
    var silentSince: Date?
    /// The coordinator process that answered first: "unknown job" from another one means it restarted.
    var instance = known
    var first = known == nil
    while true {
        if let deadline, Date() >= deadline { throw timedOut() }
        let within = min(slice, deadline.map { max(0.05, $0.timeIntervalSinceNow) } ?? slice)
        let answer: (ReplyMessage, JobState?)
        do {
            // The first question is answered at once: it says which coordinator process holds the job.
            answer = try await ask(wait: silentSince == nil && !first, within: silentSince == nil ? within : 1)
            first = false
        } catch let e as CoordinatorClient.ClientError {
            let since = silentSince ?? Date()
            if silentSince == nil {
                silentSince = since
                FileHandle.standardError.write(Data("routilux: the coordinator at \(options.endpoint) stopped answering; waiting up to \(Int(options.unreachableTimeout)) s for it to come back (job \(jobId))\n".utf8))
            }
            if Date().timeIntervalSince(since) >= options.unreachableTimeout {
                throw fail("\(e); the coordinator has not answered for \(Int(options.unreachableTimeout)) s (--unreachable-timeout); job \(jobId) may still be running there", code: Exit.notCompleted)
            }
            try await Task.sleep(for: .seconds(1))
            continue
        }
        let (reply, _) = answer
        let restarted = instance != nil && reply.instance != nil && reply.instance != instance
        if instance == nil { instance = reply.instance }
        if reply.kind == "stopping" {
            // It says it is stopping: wait for it to come back (its error says whether the job survives).
            if silentSince == nil {
                silentSince = Date()
                FileHandle.standardError.write(Data("routilux: \(reply.error ?? "the coordinator is stopping"); waiting up to \(Int(options.unreachableTimeout)) s for it to come back\n".utf8))
            }
            try await Task.sleep(for: .seconds(1))
            continue
        }
        if restarted, !reply.ok, reply.error?.hasPrefix("unknown job") == true {
            throw fail("the coordinator at \(options.endpoint) restarted and does not know job \(jobId) (it ran without a state dir, or lost it)", code: Exit.jobLost)
        }
        if restarted { instance = reply.instance }
        if let since = silentSince {
            silentSince = nil
            FileHandle.standardError.write(Data("routilux: the coordinator answers again after \(Int(Date().timeIntervalSince(since))) s; job \(jobId) is \(reply.status ?? "?")\n".utf8))
        }
        // Too many others wait on it already: the job goes on, so ask again a little later.
        let crowded = !reply.ok && (reply.error?.contains("requests waiting for its end already") ?? false)
        if crowded || (reply.ok && !(JobStatus(rawValue: reply.status ?? "")?.isTerminal ?? true)) {
            if crowded { try await Task.sleep(for: .milliseconds(Int(min(5, slice) * 1000))) }
            continue
        }
        if reply.ok && answer.1 == nil {
            // Ended just as a slice ran out: the status came without the state; ask for it.
            let full = try await ask(wait: false, within: 5)
            try report(full, options, requireCompleted: true)
            return
        }
        try report(answer, options, requireCompleted: true)
        return
    }
}

extension JobCommand {
    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a job; prints its id (or, with --wait, its final state).",
            discussion: "Exit codes: 0 submitted (with --wait: completed), 1 not completed or no answer, 2 refused.")

        @OptionGroup var common: CoordinatorOptions
        @Option(help: "Id of a flow the coordinator loaded (with --flow at start).")
        var flow: String?
        @Option(help: "A flow file (YAML or JSON) to send with the job; validated by the coordinator.")
        var flowFile: String?
        @Option(help: "Job params: a JSON object, or @FILE.")
        var params: String?
        @Option(help: "Entry point ROUTINE or ROUTINE.SLOT (default: the flow's entry).")
        var entry: String?
        @Option(help: "Bound on this job's tasks in flight (default: execution.max_workers).")
        var maxWorkers: Int?
        @Flag(help: "Wait for the job to end.")
        var wait = false
        @Flag(help: "Refuse the job (exit 2) if no joined worker hosts one of its routine types, instead of letting it wait, pending, for one.")
        var failFast = false

        func run() async throws {
            if (flow == nil) == (flowFile == nil) { throw fail("give exactly one of --flow ID or --flow-file FILE", code: Exit.badInput) }
            if let m = maxWorkers, m < 1 { throw fail("--max-workers must be at least 1", code: Exit.badInput) }
            let jobParams: JSONValue
            var document: RawJSON?
            do {
                jobParams = try parseParams(params)
                if let flowFile {
                    document = try checkedFlowDocument(flowFile, defaultFlowId: FlowLoader.defaultFlowId(of: flowFile))
                }
            } catch {
                throw fail("\(error)", code: Exit.badInput)
            }
            let e = parseEntry(entry)
            let flowName = flow ?? flowFile.map(FlowLoader.defaultFlowId(of:))
            let submitted = try await exchange(common, requireCompleted: false, print: !wait) { [maxWorkers, failFast] replyTo, requestId in
                .submit(
                    SubmitMessage(
                        requestId: requestId, replyTo: replyTo, flowId: flowName, entryRoutine: e?.routine,
                        entrySlot: e?.slot, maxWorkers: maxWorkers, wait: false, failFast: failFast ? true : nil),
                    params: RawJSON(jobParams), flow: document)
            }
            guard wait, let jobId = submitted.jobId else { return }
            // The id goes out first, so a --timeout that runs out never loses the job.
            let pending = submitted.status == JobStatus.pending.rawValue ? " (pending: its routine types wait for a worker; see `job status`)" : ""
            FileHandle.standardError.write(Data("routilux: job \(jobId) submitted\(pending); waiting for it to end\n".utf8))
            try await waitForEnd(common, jobId: jobId, instance: submitted.instance)
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a job's current state.")
        @OptionGroup var common: CoordinatorOptions
        @Argument(help: "The job id.")
        var jobId: String
        @Option(help: "Only the last N history records (for a JobState too large for one message).")
        var historyTail: Int?

        func run() async throws {
            if let n = historyTail, n < 0 { throw fail("--history-tail must not be negative", code: Exit.badInput) }
            try await exchange(common, requireCompleted: false) { [jobId, historyTail] replyTo, requestId in
                .query(QueryMessage(requestId: requestId, replyTo: replyTo, jobId: jobId, wait: false, historyTail: historyTail))
            }
        }
    }

    struct Wait: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wait for a job to end and print its final state.",
            discussion: "Exit codes: 0 completed, 1 failed/cancelled or no answer within --timeout, 2 unknown job.")
        @OptionGroup var common: CoordinatorOptions
        @Argument(help: "The job id.")
        var jobId: String
        @Option(help: "Only the last N history records (for a JobState too large for one message).")
        var historyTail: Int?

        func run() async throws {
            if let n = historyTail, n < 0 { throw fail("--history-tail must not be negative", code: Exit.badInput) }
            try await waitForEnd(common, jobId: jobId, historyTail: historyTail)
        }
    }
}

extension JobCommand {
    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause a running job: nothing more of it is dispatched; in-flight tasks finish and their output waits.",
            discussion: "Prints the paused JobState; with --output it is saved for `resume --from`.")
        @OptionGroup var common: CoordinatorOptions
        @Argument(help: "The job id.")
        var jobId: String
        @Option(help: "Why (recorded in the pause point).")
        var reason: String = ""
        @Option(help: "A JSON checkpoint to record with the pause point.")
        var checkpoint: String?

        func run() async throws {
            var body: [RawJSON] = []
            if let checkpoint {
                do { body = [RawJSON(try JSONValue.parse(checkpoint))] } catch {
                    throw fail("--checkpoint: bad JSON: \(error)", code: Exit.badInput)
                }
            }
            try await exchange(common, requireCompleted: false) { [jobId, reason] replyTo, requestId in
                .control(ControlMessage(requestId: requestId, replyTo: replyTo, jobId: jobId, op: .pause, reason: reason), bodies: body)
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume a paused job, or continue a saved paused JobState (--from) on this coordinator.")
        @OptionGroup var common: CoordinatorOptions
        @Argument(help: "The job id (omit with --from).")
        var jobId: String?
        @Option(help: "A saved paused JobState (from `job pause --output` or `job status --output`).")
        var from: String?
        @Option(help: "With --from: the loaded flow to run it on (default: the state's flow_id).")
        var flow: String?
        @Option(help: "With --from: a flow file to send along.")
        var flowFile: String?

        func run() async throws {
            if (jobId == nil) == (from == nil) { throw fail("give a job id or --from FILE", code: Exit.badInput) }
            guard let from else {
                try await exchange(common, requireCompleted: false) { [jobId] replyTo, requestId in
                    .control(ControlMessage(requestId: requestId, replyTo: replyTo, jobId: jobId!, op: .resume), bodies: [])
                }
                return
            }
            var bodies: [RawJSON] = []
            let state: JobState
            do {
                guard let data = FileManager.default.contents(atPath: from) else {
                    throw FlowValidationError(file: from, path: "", message: "cannot read file")
                }
                do { state = try JobState(json: try JSONValue.parse(Array(data))) } catch {
                    throw FlowValidationError(file: from, path: "", message: "\(error)")
                }
                guard state.status == .paused else {
                    throw FlowValidationError(file: from, path: "status", message: "is \(state.status.rawValue); only a paused job can be resumed")
                }
                bodies.append(RawJSON(state.json))
                if let flowFile { bodies.append(try checkedFlowDocument(flowFile, defaultFlowId: state.flowId)) }
            } catch {
                throw fail("\(error)", code: Exit.badInput)
            }
            // Refusals name paths inside the saved state: say which file it is.
            try await exchange(common, requireCompleted: false, refusalPrefix: "\(from): ") { [flow] replyTo, requestId in
                .control(
                    ControlMessage(requestId: requestId, replyTo: replyTo, jobId: state.jobId, op: .resumeFrom, flowId: flow),
                    bodies: bodies)
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a job: its queued work is dropped and results still arriving are ignored.")
        @OptionGroup var common: CoordinatorOptions
        @Argument(help: "The job id.")
        var jobId: String
        @Option(help: "Why (recorded in the job's history).")
        var reason: String = ""

        func run() async throws {
            try await exchange(common, requireCompleted: false) { [jobId, reason] replyTo, requestId in
                .control(ControlMessage(requestId: requestId, replyTo: replyTo, jobId: jobId, op: .cancel, reason: reason), bodies: [])
            }
        }
    }
}
