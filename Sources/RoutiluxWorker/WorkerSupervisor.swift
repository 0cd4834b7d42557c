import Foundation
import Logging

/// `routilux-worker join ... --processes N`: runs N worker processes, each in
/// a slot with a stable worker id (`BASE-INDEX`, the same after a restart) and
/// a secret of its own (JOIN `id_secret`), so that a restarted process takes
/// its dead predecessor's place at the coordinator at once. A process that ends
/// is restarted per `RestartPolicy`; SIGTERM drains them all.
public final class WorkerSupervisor: Sendable {
    enum Event: Sendable {
        case exited(slot: Int, ChildExit, lived: Double)
        case restart(slot: Int)
        case stop(immediately: Bool)
    }

    struct Slot {
        let index: Int
        let workerId: String
        let secret: String
        var process: Process?
        var startedAt = Date()
        var fastCrashes = 0
        var gaveUp: String?
    }

    public let executable: String
    public let arguments: [String]
    public let baseId: String
    public let processes: Int
    public let policy: RestartPolicy
    private let logger: Logger
    private let events: AsyncStream<Event>
    private let eventsIn: AsyncStream<Event>.Continuation

    /// `arguments`: the `join` arguments each process gets, without `--processes` and `--id`.
    public init(executable: String, arguments: [String], baseId: String, processes: Int, policy: RestartPolicy = RestartPolicy(), logger: Logger) {
        self.executable = executable
        self.arguments = arguments
        self.baseId = baseId
        self.processes = processes
        self.policy = policy
        self.logger = logger
        (events, eventsIn) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
    }

    /// Drain every process (the first call), or stop them at once (a second).
    public func stop(immediately: Bool) { eventsIn.yield(.stop(immediately: immediately)) }


    /// Runs until every process has ended after a stop (0), or every slot was given up (1).
    public func run() async -> Int32 {
        var slots = (0..<processes).map { i in
            Slot(index: i, workerId: "\(baseId)-\(i)", secret: Self.secret())
        }
        for i in slots.indices { start(&slots[i]) }
        var stopping = false
        var stopSignals = 0
        for await event in events {
            switch event {
            case .exited(let i, let how, let lived):
                slots[i].process = nil
                if stopping {
                    logger.info("worker \(slots[i].workerId) ended (\(how))")
                } else {
                    switch policy.decide(how, lived: lived, fastCrashes: &slots[i].fastCrashes) {
                    case .restart(let delay):
                        let why = how == .code(0) ? "it drained (--max-tasks, or asked to)" : "it ended abnormally (\(how)) after \(String(format: "%.1f", lived)) s"
                        logger.warning("worker \(slots[i].workerId): \(why); restarting it\(delay > 0 ? " in \(delay) s" : "") with the same id")
                        if delay <= 0 {
                            start(&slots[i])
                        } else {
                            Task { [eventsIn] in
                                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                                eventsIn.yield(.restart(slot: i))
                            }
                        }
                    case .giveUp(let why):
                        slots[i].gaveUp = why
                        logger.error("worker \(slots[i].workerId): not restarted: \(why)")
                    }
                }
            case .restart(let i):
                if !stopping && slots[i].process == nil && slots[i].gaveUp == nil { start(&slots[i]) }
            case .stop(let now):
                stopSignals += 1
                stopping = true
                let alive = slots.filter { $0.process != nil }
                let hard = now || stopSignals > 1
                logger.notice("\(hard ? "stopping" : "draining") \(alive.count) worker process(es)")
                for s in alive { if let p = s.process, p.isRunning { kill(p.processIdentifier, SIGTERM) } }
                if hard {
                    // Stopped at once they have a few seconds for their handlers; then whatever is left is killed.
                    let pids = alive.compactMap { $0.process?.processIdentifier }
                    Task {
                        try? await Task.sleep(for: .seconds(10))
                        for pid in pids where kill(pid, 0) == 0 { kill(pid, SIGKILL) }
                    }
                }
            }
            if stopping && slots.allSatisfy({ $0.process == nil }) { return 0 }
            if !stopping && slots.allSatisfy({ $0.gaveUp != nil }) {
                logger.error("every worker process was given up; the supervisor exits")
                return 1
            }
        }
        return stopping ? 0 : 1
    }

    private func start(_ slot: inout Slot) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = Self.slotArguments(arguments, index: slot.index, workerId: slot.workerId)
        var env = ProcessInfo.processInfo.environment
        env["ROUTILUX_WORKER_ID_SECRET"] = slot.secret
        p.environment = env
        p.standardInput = FileHandle.nullDevice
        let index = slot.index
        let startedAt = Date()
        p.terminationHandler = { [eventsIn] proc in
            let how: ChildExit = proc.terminationReason == .uncaughtSignal ? .signal(proc.terminationStatus) : .code(proc.terminationStatus)
            eventsIn.yield(.exited(slot: index, how, lived: Date().timeIntervalSince(startedAt)))
        }
        do {
            try p.run()
            slot.process = p
            slot.startedAt = startedAt
            logger.info("worker \(slot.workerId) started (pid \(p.processIdentifier))")
        } catch {
            slot.gaveUp = "cannot start \(executable): \(error)"
            logger.error("worker \(slot.workerId): \(slot.gaveUp!)")
            eventsIn.yield(.restart(slot: index))  // re-checks whether every slot is given up
        }
    }

    /// 128 random bits, hex.
    static func secret() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<2).map { _ in String(g.next() as UInt64, radix: 16) }.joined()
    }

    /// Slot `i`'s arguments: `--id` right after `join` (before any `--`), and its own inbox:
    /// a fixed tcp port in `--bind`/`--advertise` becomes port + i, an ipc path gets `-i`.
    public static func slotArguments(_ args: [String], index i: Int, workerId: String) -> [String] {
        var out: [String] = []
        var k = 0
        while k < args.count {
            let a = args[k]
            if a == "--bind" || a == "--advertise", k + 1 < args.count {
                out += [a, shifted(args[k + 1], by: i)]
                k += 2
                continue
            }
            for flag in ["--bind=", "--advertise="] where a.hasPrefix(flag) {
                out.append(flag + shifted(String(a.dropFirst(flag.count)), by: i))
            }
            if !(a.hasPrefix("--bind=") || a.hasPrefix("--advertise=")) { out.append(a) }
            k += 1
        }
        let at = out.firstIndex(of: "join").map { $0 + 1 } ?? 0
        out.insert(contentsOf: ["--id", workerId], at: at)
        return out
    }

    static func shifted(_ endpoint: String, by i: Int) -> String {
        guard i > 0 else { return endpoint }
        if endpoint.hasPrefix("ipc://") { return endpoint + "-\(i)" }
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]), port > 0 else {
            return endpoint
        }
        return String(endpoint[...colon]) + String(port + i)
    }

    /// The `join` arguments of this process without `--processes` and `--id` (the supervisor sets both per slot).
    public static func childArguments(_ all: [String]) -> [String] {
        var out: [String] = []
        var skip = false
        for a in all {
            if skip {
                skip = false
                continue
            }
            if a == "--processes" || a == "--id" {
                skip = true
                continue
            }
            if a.hasPrefix("--processes=") || a.hasPrefix("--id=") { continue }
            out.append(a)
        }
        return out
    }
}
