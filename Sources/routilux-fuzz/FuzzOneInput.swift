import RoutiluxBuiltins
import RoutiluxCoordinator
import RoutiluxCore
import RoutiluxWire

/// One fuzz input: messages separated by `messageSeparator`, each message's
/// frames by `frameSeparator`. Every message is decoded (a BATCH unpacked first); what decodes is fed
/// to a coordinator core that already has a worker joined and a job running
/// (with fixed tokens and task ids, so inputs can reach the deep paths), then
/// time passes. Nothing may trap, and the core's bounds must hold.
enum FuzzOneInput {
    static let frameSeparator: [UInt8] = [0x0A, 0x1F, 0x0A]
    static let messageSeparator: [UInt8] = [0x0A, 0x1E, 0x0A]
    /// The session token the golden messages carry.
    static let token = "6f1c0b2e7a414c3d9e581f2a3b4c5d6e"

    static let flow: FlowDefinition = {
        let yaml = """
            flow_id: fuzz
            routines:
              src: {type: Splitter, config: {field: items}}
              a: {type: Mapper}
              b: {type: Collector, config: {}}
            connections:
              - {from: src.item, to: a.input, param_mapping: {item: data}}
              - {from: a.output, to: b.input, param_mapping: {mapped_data: data}}
            execution: {strategy: concurrent, max_workers: 4, task_timeout: 2}
            entry: {routine: src}
            """
        let doc = try! FlowLoader.parseDocument(Array(yaml.utf8), isJSON: false, file: nil)
        return try! FlowLoader.build(doc, file: nil, defaultFlowId: "fuzz", catalogue: Builtins.registry.catalogue)
    }()

    static func run(_ data: [UInt8]) {
        var nextTask: UInt64 = 4020
        let core = CoordinatorCore(
            config: CoordinatorConfig(coordinatorId: "fuzz", maxCredit: 16, maxWorkersJoined: 8, maxMessageBytes: 1 << 20),
            catalogue: Builtins.registry.catalogue, jobIds: { "job-1" }, taskIds: { nextTask += 1; return nextTask }, tokens: { token },
            durable: true)
        core.addFlow(flow)
        var now = 1_000.0
        _ = core.handle(.message(.join(JoinMessage(
            workerId: "hostC-5150-204", routineTypes: Builtins.registry.names, capacity: 4, credit: 8,
            endpoint: "tcp://10.0.0.8:40999", session: "0b6f1c2e-7a41-4c3d-9e58-1f2a3b4c5d6e"), catalogue: nil), peer: nil), now: now)
        _ = core.handle(.submit(SubmitRequest(flow: .id("fuzz"), params: RawJSON(["items": [["i": 1], ["i": 2]]])), reply: .local(1)), now: now)
        let codec = WireCodec()
        for message in split(data, on: messageSeparator) {
            let frames = split(message, on: frameSeparator)
            let sender = Sender(address: "10.9.9.9")
            // A batch is unpacked as the coordinator's shell does, its messages handled in order.
            var inner = [frames]
            if BatchFraming.isBatch(frames) {
                do { inner = try BatchFraming.unpack(frames) } catch {
                    inner = []
                    _ = core.handle(.malformed(error, peer: sender), now: now)
                }
            }
            for frames in inner {
                do {
                    _ = core.handle(.message(try codec.decode(frames), peer: sender), now: now)
                } catch {
                    _ = core.handle(.malformed(error, peer: sender), now: now)
                }
            }
            now += 0.7
            _ = core.handle(.tick, now: now)
            check(core)
        }
        checkJournal(core)
        now += 400
        _ = core.handle(.tick, now: now)
        check(core)
    }

    /// What the journal would write reads back: every blob is JSON (a restart parses them all).
    static func checkJournal(_ core: CoordinatorCore) {
        guard let b = core.takeJournal() else { return }
        for j in b.jobs {
            precondition((try? JSONValue.parse(j.meta)) != nil, "job \(j.jobId): meta is not JSON")
            if let f = j.flow { precondition((try? JSONValue.parse(f)) != nil, "job \(j.jobId): flow is not JSON") }
            for a in j.appends { precondition((try? JSONValue.parse(a.body))?.arrayValue != nil, "job \(j.jobId): a log row is not a JSON array") }
        }
        for t in b.tasks {
            if case .insert(let s) = t {
                precondition((try? JSONValue.parse(s.body)) != nil && (try? JSONValue.parse(s.state)) != nil, "task \(s.taskId): not JSON")
            }
        }
    }

    /// The bounds no input may break.
    static func check(_ core: CoordinatorCore) {
        for id in core.workerIds {
            let credit = core.workerCredit(id) ?? 0
            precondition(credit >= 0 && credit <= core.config.maxCredit, "worker \(id) holds credit \(credit)")
        }
        precondition(core.workerIds.count <= core.config.maxWorkersJoined, "too many workers")
        precondition(core.ledgerCount <= core.workerIds.count * core.config.maxCredit + 64, "ledger of \(core.ledgerCount)")
    }

    static func split(_ data: [UInt8], on separator: [UInt8]) -> [[UInt8]] {
        var parts: [[UInt8]] = []
        var current: [UInt8] = []
        var i = 0
        while i < data.count {
            if i + separator.count <= data.count, data[i..<(i + separator.count)].elementsEqual(separator) {
                parts.append(current)
                current = []
                i += separator.count
            } else {
                current.append(data[i])
                i += 1
            }
        }
        parts.append(current)
        return parts
    }
}
