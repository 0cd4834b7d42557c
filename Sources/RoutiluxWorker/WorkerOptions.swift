import Foundation
import RoutiluxTransport

/// How a worker process joins and serves a coordinator.
public struct WorkerOptions: Sendable {
    /// The coordinator's inbox endpoint.
    public var coordinator: String
    /// Where this worker binds its task inbox (default: a free port or ipc path near the coordinator).
    public var bind: String?
    /// The endpoint the coordinator should connect to (default: the bound one,
    /// with a wildcard address replaced by this host's name).
    public var advertise: String?
    /// Handlers run at once.
    public var concurrency: Int
    /// Extra tasks the worker accepts beyond `concurrency`, queued locally.
    public var prefetch: Int
    /// No `prefetch` was given: while its handlers are quick (under a millisecond on average) the
    /// worker asks for up to `quickCredit` tasks at a time, so that the job's `max_workers` binds
    /// rather than a round trip per task; while they are slow, `concurrency + prefetch`.
    public var adaptsCredit: Bool
    /// The credit a worker with quick handlers asks for (when it adapts).
    public static let quickCredit = 32
    public var heartbeatMs: Int
    /// Silence from the coordinator after which the worker re-joins.
    public var coordinatorTimeoutMs: Int
    /// After this many tasks the process drains and leaves (the supervisor starts a fresh one); nil: never.
    public var maxTasks: Int?
    /// How long a drain may take before what still runs is stopped, seconds.
    public var drainTimeout: Double = 30
    /// The secret of this worker's supervisor slot (JOIN `id_secret`).
    public var idSecret: String?
    /// Under a supervisor: its pid; when it goes away, this process drains and exits.
    public var supervisorPid: Int32?
    public var workerId: String
    /// CURVE toward the coordinator, and on this worker's inbox (nil: plaintext).
    public var keys: CurvePeerKeys?
    /// The largest message sent or accepted (the coordinator's, if smaller, wins once joined).
    public var maxMessageBytes: Int

    public init(
        coordinator: String, bind: String? = nil, advertise: String? = nil, concurrency: Int = 4,
        prefetch: Int? = nil, heartbeatMs: Int = 1000, coordinatorTimeoutMs: Int = 3000, workerId: String? = nil,
        keys: CurvePeerKeys? = nil, maxMessageBytes: Int = 64 << 20
    ) {
        self.keys = keys
        self.maxMessageBytes = max(1024, maxMessageBytes)
        self.coordinator = coordinator
        self.bind = bind
        self.advertise = advertise
        self.concurrency = max(1, concurrency)
        self.prefetch = prefetch ?? max(1, concurrency)
        adaptsCredit = prefetch == nil
        self.heartbeatMs = heartbeatMs
        self.coordinatorTimeoutMs = coordinatorTimeoutMs
        self.workerId = workerId ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
    }

    /// The inbox to bind when none is given: an ipc path for an ipc coordinator,
    /// loopback for a loopback coordinator, all interfaces otherwise.
    var defaultBind: String {
        if coordinator.hasPrefix("ipc://") {
            let dir = (String(coordinator.dropFirst(6)) as NSString).deletingLastPathComponent
            return "ipc://\(dir.isEmpty ? NSTemporaryDirectory() : dir)/worker-\(getpid())-\(UInt16.random(in: 0...UInt16.max)).sock"
        }
        if coordinator.hasPrefix("inproc://") { return "inproc://worker-\(workerId)" }
        let host = coordinator.replacingOccurrences(of: "tcp://", with: "").split(separator: ":").first.map(String.init) ?? ""
        if host.hasPrefix("127.") || host == "localhost" { return "tcp://127.0.0.1:*" }
        return "tcp://0.0.0.0:*"
    }
}
