import Foundation
import GRDB
import Synchronization

/// The coordinator's state directory: one SQLite database in WAL mode
/// (`journal.sqlite`) and a lock file that keeps a second coordinator out.
///
/// Every write is a `JournalBatch`, one transaction: a crash keeps all of a
/// turn or none of it. With `.normal` (the default) a committed turn survives
/// a process crash; a power loss may lose the last turns since a checkpoint.
/// With `.full` each commit waits for the disk (fsync), so it survives that too.
public final class JobStore: Sendable {
    /// How hard a commit waits for the disk (`PRAGMA synchronous`).
    public enum Durability: String, Sendable, CaseIterable {
        /// WAL with synchronous=NORMAL: survives a crash of the process; a power loss may lose the last commits.
        case normal
        /// synchronous=FULL: every commit is on disk before the coordinator acts on it.
        case full
    }

    /// How long finished jobs stay in the store.
    public struct Retention: Sendable, Hashable {
        /// At most this many finished jobs (the oldest go first).
        public var count: Int
        /// Nor any finished longer ago than this (seconds); nil: no age limit.
        public var age: Double?
        public init(count: Int = 10_000, age: Double? = 7 * 86_400) {
            self.count = max(0, count)
            self.age = age
        }
    }

    /// The schema this build writes; older ones are migrated, newer ones refused.
    public static let schemaVersion = 2
    /// `PRAGMA application_id`: "RLUX", so a SQLite file of something else is not taken for ours.
    static let applicationId: Int32 = 0x524C_5558
    public static let databaseName = "journal.sqlite"

    public let directory: String
    public let durability: Durability
    public let retention: Retention
    private let db: DatabaseQueue
    private let lock: StateDirectoryLock
    private let lastPrune = Mutex<Double>(0)

    /// Opens (or creates) the state directory. Refuses, without writing
    /// anything, a directory another coordinator holds, a file that is not a
    /// routilux journal or is corrupt, and a schema newer than this build's.
    public init(directory: String, durability: Durability = .normal, retention: Retention = Retention()) throws(StoreError) {
        self.directory = directory
        self.durability = durability
        self.retention = retention
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) {
            guard isDir.boolValue else { throw StoreError(directory, "is a file, not a directory") }
        } else {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) } catch {
                throw StoreError(directory, "cannot be created: \(error.localizedDescription)")
            }
        }
        lock = try StateDirectoryLock(directory: directory)
        let path = (directory as NSString).appendingPathComponent(Self.databaseName)
        if FileManager.default.fileExists(atPath: path) { try Self.check(path) }
        var config = Configuration()
        config.journalMode = .wal
        config.busyMode = .timeout(5)
        let sync = durability == .full ? "FULL" : "NORMAL"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(sync)")
            // Pages stay cached (tasks come and go in the same pages), and the WAL is checkpointed
            // (written back, with an fsync) every 32 MiB rather than every 4.
            try db.execute(sql: "PRAGMA cache_size = -32768")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 8192")
        }
        do {
            db = try DatabaseQueue(path: path, configuration: config)
            try db.writeWithoutTransaction { db in
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                if version == 0 { try Self.createSchema(db) }
                try Self.migrate(db, from: version == 0 ? Self.schemaVersion : version)
            }
        } catch let e as StoreError {
            throw e
        } catch {
            throw StoreError(path, "cannot be opened: \(Self.describe(error))")
        }
    }

    /// Read-only checks of an existing journal: ours, not newer, not corrupt.
    static func check(_ path: String) throws(StoreError) {
        var config = Configuration()
        config.readonly = true
        do {
            let q = try DatabaseQueue(path: path, configuration: config)
            try q.read { db in
                let app = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                let tables = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0
                if app != applicationId && !(app == 0 && tables == 0) {
                    throw StoreError(path, "is a SQLite database but not a routilux journal (application_id \(app)); refusing to touch it")
                }
                if version > schemaVersion {
                    throw StoreError(path, "was written by a newer routilux (journal schema \(version); this build reads up to \(schemaVersion)); upgrade routilux or start with another --state-dir")
                }
                let verdict = try String.fetchAll(db, sql: "PRAGMA quick_check")
                if verdict != ["ok"] {
                    throw StoreError(path, "is corrupt (quick_check: \(verdict.prefix(3).joined(separator: "; "))); it was not modified: move it aside, or restore a copy")
                }
            }
            try q.close()
        } catch let e as StoreError {
            throw e
        } catch {
            throw StoreError(path, "cannot be read as a routilux journal: \(describe(error)); it was not modified")
        }
    }

    static func describe(_ error: any Error) -> String {
        guard let e = error as? DatabaseError else { return "\(error)" }
        switch e.resultCode {
        case .SQLITE_NOTADB: return "not a database (\(e.message ?? "file is not a database"))"
        case .SQLITE_CORRUPT: return "corrupt (\(e.message ?? "malformed"))"
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_CANTOPEN: return "no permission to write it (\(e.message ?? "\(e.resultCode)"))"
        case .SQLITE_FULL: return "the disk is full"
        default: return e.message ?? "\(e)"
        }
    }

    static func createSchema(_ db: Database) throws {
        try db.inTransaction {
            try db.execute(sql: """
                CREATE TABLE flows (flow_id TEXT PRIMARY KEY, document BLOB NOT NULL);
                CREATE TABLE jobs (
                    job_id TEXT PRIMARY KEY, run INTEGER NOT NULL, status TEXT NOT NULL,
                    finished_at REAL, meta BLOB NOT NULL, flow BLOB NOT NULL);
                CREATE INDEX jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
                CREATE TABLE job_log (
                    job_id TEXT NOT NULL, kind INTEGER NOT NULL, idx INTEGER NOT NULL, body BLOB NOT NULL,
                    PRIMARY KEY (job_id, kind, idx)) WITHOUT ROWID;
                CREATE TABLE tasks (
                    task_id INTEGER PRIMARY KEY, job_id TEXT NOT NULL, place INTEGER NOT NULL,
                    position REAL NOT NULL, lane INTEGER NOT NULL, state BLOB NOT NULL, body BLOB NOT NULL);
                CREATE INDEX tasks_by_job ON tasks(job_id, place, position);
                CREATE INDEX tasks_by_lane ON tasks(job_id, lane, position) WHERE place = 0;
                CREATE TABLE meta_values (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                \(stagedTable)
                PRAGMA application_id = \(applicationId);
                PRAGMA user_version = \(schemaVersion);
                """)
            return .commit
        }
    }

    /// Schema 2: the parts of activations' emissions, staged until their attempt's RESULT is ok
    /// and routed (one row per PART, in seq order; the RESULT's own entries are the last part).
    static let stagedTable = """
        CREATE TABLE staged (
            task_id INTEGER NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL, job_id TEXT NOT NULL, body BLOB NOT NULL,
            PRIMARY KEY (task_id, attempt, seq)) WITHOUT ROWID;
        CREATE INDEX staged_by_job ON staged(job_id);
        """

    /// Brings an older schema up to this build's, one step (and transaction) per version.
    static func migrate(_ db: Database, from version: Int) throws {
        if version < 2 {
            // 1 -> 2: emissions streamed in parts (the staged table).
            try db.inTransaction {
                try db.execute(sql: stagedTable + "PRAGMA user_version = 2;")
                return .commit
            }
        }
    }

    // MARK: - Writing

    /// Writes one turn's changes in one transaction (on the store's own queue, never the caller's thread).
    public func commit(_ batch: JournalBatch) async throws(StoreError) {
        guard !batch.isEmpty else { return }
        let prune = pruneDue()
        do {
            try await db.write { [retention] db in
                try Self.apply(batch, db)
                if let now = prune { try Self.prune(db, retention: retention, now: now) }
            }
        } catch {
            throw StoreError(directory, "journal write failed: \(Self.describe(error))")
        }
    }

    /// The same, blocking the calling thread (tests, and the last commit at shutdown).
    public func commitNow(_ batch: JournalBatch) throws(StoreError) {
        guard !batch.isEmpty else { return }
        do { try db.write { db in try Self.apply(batch, db) } } catch {
            throw StoreError(directory, "journal write failed: \(Self.describe(error))")
        }
    }

    private func pruneDue() -> Double? {
        let now = Date().timeIntervalSince1970
        return lastPrune.withLock { last in
            guard now - last >= 60 else { return nil }
            last = now
            return now
        }
    }

    static func apply(_ b: JournalBatch, _ db: Database) throws {
        for f in b.flows {
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO flows (flow_id, document) VALUES (?, ?)").execute(arguments: [f.id, Data(f.document)])
        }
        for id in b.resets { try forget(id, db) }
        let upsertNew = try db.cachedStatement(sql: "INSERT OR REPLACE INTO jobs (job_id, run, status, finished_at, meta, flow) VALUES (?, ?, ?, ?, ?, ?)")
        let update = try db.cachedStatement(sql: "UPDATE jobs SET run = ?, status = ?, finished_at = ?, meta = ? WHERE job_id = ?")
        let append = try db.cachedStatement(sql: "INSERT OR REPLACE INTO job_log (job_id, kind, idx, body) VALUES (?, ?, ?, ?)")
        for j in b.jobs {
            if let flow = j.flow {
                try upsertNew.execute(arguments: [j.jobId, Int64(j.run), j.status, j.finishedAt, Data(j.meta), Data(flow)])
            } else {
                try update.execute(arguments: [Int64(j.run), j.status, j.finishedAt, Data(j.meta), j.jobId])
            }
            for a in j.appends { try append.execute(arguments: [j.jobId, a.kind.rawValue, a.index, Data(a.body)]) }
        }
        for id in b.clearedTasks {
            try db.execute(sql: "DELETE FROM tasks WHERE job_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM staged WHERE job_id = ?", arguments: [id])
        }
        let stage = try db.cachedStatement(sql: "INSERT OR REPLACE INTO staged (task_id, attempt, seq, job_id, body) VALUES (?, ?, ?, ?, ?)")
        for p in b.staged {
            try stage.execute(arguments: [Int64(bitPattern: p.taskId), p.attempt, p.seq, p.jobId, Data(p.body)])
        }
        let unstage = try db.cachedStatement(sql: "DELETE FROM staged WHERE task_id = ? AND attempt = ?")
        for u in b.unstaged { try unstage.execute(arguments: [Int64(bitPattern: u.taskId), u.attempt]) }
        let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO tasks (task_id, job_id, place, position, lane, state, body) VALUES (?, ?, ?, ?, ?, ?, ?)")
        let move = try db.cachedStatement(sql: "UPDATE tasks SET place = ?, position = ?, lane = ?, state = ? WHERE task_id = ?")
        let delete = try db.cachedStatement(sql: "DELETE FROM tasks WHERE task_id = ?")
        for t in b.tasks {
            switch t {
            case .insert(let s):
                try insert.execute(arguments: [Int64(bitPattern: s.taskId), s.jobId, s.place.rawValue, s.position, s.lane, Data(s.state), Data(s.body)])
            case .move(let id, let place, let position, let lane, let state):
                try move.execute(arguments: [place.rawValue, position, lane, Data(state), Int64(bitPattern: id)])
            case .delete(let id):
                try delete.execute(arguments: [Int64(bitPattern: id)])
            }
        }
        for (name, value) in b.values {
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO meta_values (name, value) VALUES (?, ?)").execute(arguments: [name, value])
        }
    }

    static func forget(_ id: String, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM jobs WHERE job_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM job_log WHERE job_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM tasks WHERE job_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM staged WHERE job_id = ?", arguments: [id])
    }

    /// Drops finished jobs beyond the retention's count and age.
    static func prune(_ db: Database, retention: Retention, now: Double) throws {
        var doomed: [String] = []
        if let age = retention.age {
            doomed += try String.fetchAll(db, sql: "SELECT job_id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?", arguments: [now - age])
        }
        doomed += try String.fetchAll(
            db, sql: "SELECT job_id FROM jobs WHERE finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT -1 OFFSET ?", arguments: [retention.count])
        for id in Set(doomed) { try forget(id, db) }
    }

    /// Applies the retention now (tests; the store does it at most once a minute as it commits).
    public func pruneNow() throws(StoreError) {
        do { try db.write { [retention] db in try Self.prune(db, retention: retention, now: Date().timeIntervalSince1970) } } catch {
            throw StoreError(directory, "pruning failed: \(Self.describe(error))")
        }
    }

    // MARK: - Reading

    /// Everything a restart needs: flows, every unfinished job with its logs and tasks, the values.
    public func load() throws(StoreError) -> StoredState {
        do {
            return try db.read { db in
                let flows = try Row.fetchAll(db, sql: "SELECT flow_id, document FROM flows ORDER BY flow_id").map { r -> (id: String, document: [UInt8]) in
                    (r["flow_id"], [UInt8](r["document"] as Data))
                }
                var values: [String: Int64] = [:]
                for r in try Row.fetchAll(db, sql: "SELECT name, value FROM meta_values") { values[r["name"]] = r["value"] }
                let ids = try String.fetchAll(db, sql: "SELECT job_id FROM jobs WHERE finished_at IS NULL ORDER BY run")
                let jobs = try ids.compactMap { try Self.readJob($0, db) }
                let finished = try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs WHERE finished_at IS NOT NULL") ?? 0
                return StoredState(flows: flows, jobs: jobs, values: values, finishedJobs: finished)
            }
        } catch {
            throw StoreError(directory, "cannot read the journal: \(Self.describe(error))")
        }
    }

    /// One job, finished or not, with its logs and tasks (nil: not in the store).
    public func job(id: String) async throws(StoreError) -> StoredJob? {
        do { return try await db.read { db in try Self.readJob(id, db) } } catch {
            throw StoreError(directory, "cannot read job \(id): \(Self.describe(error))")
        }
    }

    /// The same, blocking the calling thread (tests and tools).
    public func jobNow(id: String) throws(StoreError) -> StoredJob? {
        do { return try db.read { db in try Self.readJob(id, db) } } catch {
            throw StoreError(directory, "cannot read job \(id): \(Self.describe(error))")
        }
    }

    static func readJob(_ id: String, _ db: Database) throws -> StoredJob? {
        guard let r = try Row.fetchOne(db, sql: "SELECT run, status, finished_at, meta, flow FROM jobs WHERE job_id = ?", arguments: [id]) else {
            return nil
        }
        var logs: [JobLogKind: [[UInt8]]] = [:]
        let rows = try Row.fetchCursor(db, sql: "SELECT kind, body FROM job_log WHERE job_id = ? ORDER BY kind, idx", arguments: [id])
        while let row = try rows.next() {
            guard let kind = JobLogKind(rawValue: row["kind"]) else { continue }
            logs[kind, default: []].append([UInt8](row["body"] as Data))
        }
        var tasks: [StoredTask] = []
        let taskRows = try Row.fetchCursor(db, sql: "SELECT task_id, place, position, lane, state, body FROM tasks WHERE job_id = ? ORDER BY place, position", arguments: [id])
        while let t = try taskRows.next() { if let s = task(t, job: id) { tasks.append(s) } }
        let run: Int64 = r["run"]
        return StoredJob(
            jobId: id, run: UInt64(max(0, run)), status: r["status"], finishedAt: r["finished_at"], meta: [UInt8](r["meta"] as Data),
            flow: [UInt8](r["flow"] as Data), logs: logs, tasks: tasks)
    }

    static func task(_ t: Row, job id: String) -> StoredTask? {
        guard let place = TaskPlace(rawValue: t["place"]) else { return nil }
        return StoredTask(
            taskId: UInt64(bitPattern: t["task_id"]), jobId: id, place: place, position: t["position"], lane: t["lane"],
            state: [UInt8](t["state"] as Data), body: [UInt8](t["body"] as Data))
    }

    static func queued(_ db: Database, jobId: String, lane: Int, after position: Double, limit: Int) throws -> [StoredTask] {
        let rows = try Row.fetchCursor(
            db, sql: "SELECT task_id, place, position, lane, state, body FROM tasks WHERE job_id = ? AND lane = ? AND place = 0 AND position > ? ORDER BY position LIMIT ?",
            arguments: [jobId, lane, position, limit])
        var out: [StoredTask] = []
        while let r = try rows.next() { if let s = task(r, job: jobId) { out.append(s) } }
        return out
    }

    /// Up to `limit` queued tasks of one lane of a job, after `position`, in order (a spilled queue coming back).
    public func queuedTasks(jobId: String, lane: Int, after position: Double, limit: Int) async throws(StoreError) -> [StoredTask] {
        do {
            return try await db.read { db in try Self.queued(db, jobId: jobId, lane: lane, after: position, limit: limit) }
        } catch {
            throw StoreError(directory, "cannot read job \(jobId)'s queue: \(Self.describe(error))")
        }
    }

    /// The parts from `seq` on with no gap (a part missing from the store ends the answer there).
    static func staged(_ db: Database, taskId: UInt64, attempt: Int, from seq: Int, count: Int) throws -> [[UInt8]] {
        let rows = try Row.fetchAll(
            db, sql: "SELECT seq, body FROM staged WHERE task_id = ? AND attempt = ? AND seq >= ? ORDER BY seq LIMIT ?",
            arguments: [Int64(bitPattern: taskId), attempt, seq, count])
        var out: [[UInt8]] = []
        for r in rows {
            guard (r["seq"] as Int) == seq + out.count else { break }
            out.append([UInt8](r["body"] as Data))
        }
        return out
    }

    /// Up to `count` staged parts of one attempt, from `seq` on, in order.
    public func stagedParts(taskId: UInt64, attempt: Int, from seq: Int, count: Int) async throws(StoreError) -> [[UInt8]] {
        do { return try await db.read { db in try Self.staged(db, taskId: taskId, attempt: attempt, from: seq, count: count) } } catch {
            throw StoreError(directory, "cannot read the staged parts of task \(taskId): \(Self.describe(error))")
        }
    }

    /// The same, blocking the calling thread (tests and tools).
    public func stagedPartsNow(taskId: UInt64, attempt: Int, from seq: Int, count: Int) throws(StoreError) -> [[UInt8]] {
        do { return try db.read { db in try Self.staged(db, taskId: taskId, attempt: attempt, from: seq, count: count) } } catch {
            throw StoreError(directory, "cannot read the staged parts of task \(taskId): \(Self.describe(error))")
        }
    }

    /// How many parts are staged in all (tests and tools).
    public func stagedCountNow() throws(StoreError) -> Int {
        do { return try db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM staged") ?? 0 } } catch {
            throw StoreError(directory, "cannot count staged parts: \(Self.describe(error))")
        }
    }

    /// The history log rows of a job holding its records before index `before` (a row may hold more).
    public func historyRows(jobId: String, before: Int) async throws(StoreError) -> [[UInt8]] {
        do {
            return try await db.read { db in
                try Data.fetchAll(db, sql: "SELECT body FROM job_log WHERE job_id = ? AND kind = 0 AND idx < ? ORDER BY idx", arguments: [jobId, before])
                    .map { [UInt8]($0) }
            }
        } catch {
            throw StoreError(directory, "cannot read job \(jobId)'s history: \(Self.describe(error))")
        }
    }

    /// The same, blocking the calling thread (tests and tools).
    public func queuedTasksNow(jobId: String, lane: Int, after position: Double, limit: Int) throws(StoreError) -> [StoredTask] {
        do {
            return try db.read { db in try Self.queued(db, jobId: jobId, lane: lane, after: position, limit: limit) }
        } catch {
            throw StoreError(directory, "cannot read job \(jobId)'s queue: \(Self.describe(error))")
        }
    }

    /// Closes the database (the lock is released when the store goes).
    public func close() {
        try? db.close()
    }
}

/// A state directory problem, as one line: where, and what.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "state dir \(path): \(message)" }
}
