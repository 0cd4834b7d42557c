import ArgumentParser
import Foundation
import RoutiluxStore

/// `--state-dir` and its settings: where the coordinator journals, how hard
/// each commit waits for the disk, how long finished jobs stay in the store.
public struct StateDirArguments: ParsableArguments, Sendable {
    @Option(help: ArgumentHelp(
        "Where jobs are journalled (SQLite, WAL): a restart with the same directory continues every unfinished job. 'none': memory only.",
        valueName: "DIR"))
    public var stateDir: String?
    @Option(help: ArgumentHelp(
        "normal: a commit survives a crash of the process (a power loss may lose the last ones); full: each commit is on disk (fsync) before the coordinator acts on it.",
        valueName: "normal|full"))
    public var durability: String = "normal"
    @Option(help: ArgumentHelp("Finished jobs kept in the state dir (the oldest go first).", valueName: "COUNT"))
    public var retain: Int = 10_000
    @Option(help: ArgumentHelp("Nor any finished longer ago than this: seconds, or with a unit (90m, 12h, 7d); 0: no age limit.", valueName: "AGE"))
    public var retainAge: String = "7d"

    public init() {}

    public func validate() throws {
        if JobStore.Durability(rawValue: durability) == nil { throw ValidationError("--durability must be normal or full, not '\(durability)'") }
        if retain < 0 { throw ValidationError("--retain must not be negative") }
        if Self.seconds(retainAge) == nil { throw ValidationError("--retain-age: '\(retainAge)' is not a number of seconds or 90m, 12h, 7d") }
    }

    static func seconds(_ s: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        if let u = s.last, let k = units[u], let n = Double(s.dropLast()), n >= 0 { return n * k }
        if let n = Double(s), n >= 0 { return n }
        return nil
    }

    /// The directory to use: the flag, else `$ROUTILUX_STATE_DIR`, else `fallback` (nil: memory only).
    public func directory(default fallback: String?) -> String? {
        let dir = stateDir ?? environmentValue("ROUTILUX_STATE_DIR") ?? fallback
        return dir == "none" || dir?.isEmpty == true ? nil : dir
    }

    /// Opens the store and reads what it holds; a problem is bad input (one line, exit 2).
    public func open(default fallback: String?) throws -> (JobStore, StoredState)? {
        guard let dir = directory(default: fallback) else { return nil }
        let age = Self.seconds(retainAge) ?? 0
        do {
            let store = try JobStore(
                directory: dir, durability: JobStore.Durability(rawValue: durability) ?? .normal,
                retention: JobStore.Retention(count: retain, age: age > 0 ? age : nil))
            return (store, try store.load())
        } catch {
            throw BadConfiguration(error.description)
        }
    }
}
