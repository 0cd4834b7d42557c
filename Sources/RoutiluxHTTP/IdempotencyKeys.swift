import Foundation
import Synchronization

/// Submissions by idempotency key, kept 24 hours (at most `capacity`, oldest forgotten first):
/// the same key with the same request gets the first answer again, with another request a
/// conflict. A second request with a key whose first is still being submitted waits for it.
/// Held in memory: a coordinator restart forgets the keys (not the jobs).
final class IdempotencyKeys: Sendable {
    enum Claim {
        /// Submit it, then `finish` (or `abandon`) the key.
        case submit
        /// Already submitted: this job.
        case done(jobId: String, sameRequest: Bool)
    }

    private struct Entry {
        var fingerprint: [UInt8]
        var jobId: String?
        var at: Date
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let entries = Mutex<[String: Entry]>([:])
    let capacity: Int
    let lifetime: TimeInterval

    init(capacity: Int = 100_000, lifetime: TimeInterval = 24 * 3600) {
        self.capacity = capacity
        self.lifetime = lifetime
    }

    /// Claims `key` for a request whose canonical bytes are `fingerprint`.
    func claim(_ key: String, fingerprint: [UInt8]) async -> Claim {
        while true {
            enum Step { case claim(Claim), wait }
            let now = Date()
            let step = entries.withLock { e -> Step in
                if let found = e[key], now.timeIntervalSince(found.at) < lifetime {
                    if let job = found.jobId { return .claim(.done(jobId: job, sameRequest: found.fingerprint == fingerprint)) }
                    return .wait
                }
                if e.count >= capacity { forgetOldest(&e, now: now) }
                e[key] = Entry(fingerprint: fingerprint, jobId: nil, at: now)
                return .claim(.submit)
            }
            switch step {
            case .claim(let c): return c
            case .wait:
                await withCheckedContinuation { c in
                    let parked = entries.withLock { e -> Bool in
                        guard e[key] != nil, e[key]!.jobId == nil else { return false }
                        e[key]!.waiters.append(c)
                        return true
                    }
                    if !parked { c.resume() }
                }
            }
        }
    }

    /// The key's submission made `jobId`.
    func finish(_ key: String, jobId: String) {
        let waiters = entries.withLock { e -> [CheckedContinuation<Void, Never>] in
            guard var entry = e[key] else { return [] }
            entry.jobId = jobId
            let w = entry.waiters
            entry.waiters = []
            e[key] = entry
            return w
        }
        for w in waiters { w.resume() }
    }

    /// The key's submission failed: the key is free again.
    func abandon(_ key: String) {
        let waiters = entries.withLock { e in e.removeValue(forKey: key)?.waiters ?? [] }
        for w in waiters { w.resume() }
    }

    private func forgetOldest(_ e: inout [String: Entry], now: Date) {
        // Expired ones first; then the oldest tenth that is not in flight.
        e = e.filter { now.timeIntervalSince($0.value.at) < lifetime || $0.value.jobId == nil }
        guard e.count >= capacity else { return }
        let oldest = e.filter { $0.value.jobId != nil }.sorted { $0.value.at < $1.value.at }.prefix(max(1, capacity / 10))
        for (k, _) in oldest { e.removeValue(forKey: k) }
    }
}
