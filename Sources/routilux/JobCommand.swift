import ArgumentParser
import Foundation
import RoutiluxBuiltins
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxWire

/// `routilux job ...`: talk to a running coordinator.
struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Submit jobs to a running coordinator and follow them.",
        subcommands: [Submit.self, Status.self, Wait.self])
}

/// Options every `job` verb shares.
struct CoordinatorOptions: ParsableArguments {
    @Option(help: "The coordinator's inbox, e.g. tcp://10.0.0.5:5555.")
    var coordinator: String
    @Option(help: "Seconds to wait for the coordinator's answer.")
    var timeout: Double = 30
    @Flag(help: "Print the JobState as JSON (for scripts).")
    var json = false
    @Option(help: "Log level.")
    var logLevel: String = ProcessInfo.processInfo.environment["ROUTILUX_LOG_LEVEL"] ?? "warning"

    /// Bad option values are bad input: exit 2, like every other input error.
    func check() throws {
        if timeout <= 0 { throw fail("--timeout must be positive", code: Exit.badInput) }
    }
}

/// Sends one request, prints the answer, and maps the job's status to the exit code.
/// `requireCompleted`: exit 1 unless the job completed (for verbs that wait for the end).
@discardableResult
func exchange(
    _ options: CoordinatorOptions, requireCompleted: Bool, print: Bool = true,
    _ make: @escaping (String, String) -> WireMessage
) async throws -> ReplyMessage {
    try options.check()
    bootstrapLogging(options.logLevel)
    let client = CoordinatorClient(coordinator: options.coordinator)
    let answer: (ReplyMessage, JobState?)
    do { answer = try await client.request(timeout: options.timeout, make) } catch {
        await client.close()
        throw fail("\(error)", code: Exit.notCompleted)
    }
    await client.close()
    let (reply, state) = answer
    guard reply.ok else { throw fail(reply.error ?? "the coordinator refused the request", code: Exit.badInput) }
    if !print {
        return reply
    } else if options.json, let state {
        writeStdout(state.json.jsonString(pretty: true))
    } else if let state {
        writeStdout(summarize(state, elapsed: nil))
    } else {
        writeStdout("job \(reply.jobId ?? "?"): \(reply.status ?? "?")")
    }
    if requireCompleted && reply.status != JobStatus.completed.rawValue { throw Exit.notCompleted }
    return reply
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

        func run() async throws {
            if (flow == nil) == (flowFile == nil) { throw fail("give exactly one of --flow ID or --flow-file FILE", code: Exit.badInput) }
            if let m = maxWorkers, m < 1 { throw fail("--max-workers must be at least 1", code: Exit.badInput) }
            let jobParams: JSONValue
            var document: RawJSON?
            do {
                jobParams = try parseParams(params)
                if let flowFile {
                    guard let data = FileManager.default.contents(atPath: flowFile) else {
                        throw FlowValidationError(file: flowFile, path: "", message: "cannot read file")
                    }
                    // Parsed and structure-checked here; the coordinator checks routine types.
                    let doc = try FlowLoader.parseDocument(Array(data), isJSON: flowFile.lowercased().hasSuffix(".json"), file: flowFile)
                    _ = try FlowLoader.build(doc, file: flowFile, defaultFlowId: flowId(of: flowFile), catalogue: nil)
                    document = RawJSON(doc)
                }
            } catch {
                throw fail("\(error)", code: Exit.badInput)
            }
            let e = parseEntry(entry)
            let flowName = flow ?? flowFile.map(flowId(of:))
            let submitted = try await exchange(common, requireCompleted: false, print: !wait) { [maxWorkers] replyTo, requestId in
                .submit(
                    SubmitMessage(
                        requestId: requestId, replyTo: replyTo, flowId: flowName, entryRoutine: e?.routine,
                        entrySlot: e?.slot, maxWorkers: maxWorkers, wait: false),
                    params: RawJSON(jobParams), flow: document)
            }
            guard wait, let jobId = submitted.jobId else { return }
            // The id goes out first, so a --timeout that runs out never loses the job.
            FileHandle.standardError.write(Data("routilux: job \(jobId) submitted; waiting for it to end\n".utf8))
            try await exchange(common, requireCompleted: true) { replyTo, requestId in
                .query(QueryMessage(requestId: requestId, replyTo: replyTo, jobId: jobId, wait: true))
            }
        }

        private func flowId(of file: String) -> String {
            ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a job's current state.")
        @OptionGroup var common: CoordinatorOptions
        @Argument(help: "The job id.")
        var jobId: String

        func run() async throws {
            try await exchange(common, requireCompleted: false) { [jobId] replyTo, requestId in
                .query(QueryMessage(requestId: requestId, replyTo: replyTo, jobId: jobId, wait: false))
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

        func run() async throws {
            try await exchange(common, requireCompleted: true) { [jobId] replyTo, requestId in
                .query(QueryMessage(requestId: requestId, replyTo: replyTo, jobId: jobId, wait: true))
            }
        }
    }
}
