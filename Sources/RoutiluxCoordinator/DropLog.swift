/// Rate-limited logging of dropped messages: per reason, the first few in each
/// ten-second window are logged with their sender; the rest are summed and
/// reported once when the window ends. A flood cannot fill the disk.
struct DropLog {
    static let window = 10.0
    static let linesPerWindow = 5
    private var windowStart = -Double.infinity
    private var logged: [DropReason: Int] = [:]
    private var suppressed: [DropReason: Int] = [:]

    /// Whether to log this drop now (else it is counted in the next summary).
    mutating func shouldLog(_ reason: DropReason, now: Double, summary: (String) -> Void) -> Bool {
        flush(now: now, summary)
        let n = logged[reason, default: 0]
        if n < Self.linesPerWindow {
            logged[reason] = n + 1
            return true
        }
        suppressed[reason, default: 0] += 1
        return false
    }

    /// Ends the window if it is over: one summary line per reason that had drops not logged.
    mutating func flush(now: Double, _ summary: (String) -> Void) {
        guard now - windowStart >= Self.window else { return }
        for (reason, n) in suppressed.sorted(by: { $0.key < $1.key }) where n > 0 {
            summary("\(n) more message(s) dropped as \(reason.rawValue) in the last \(Int(Self.window)) s (not logged one by one)")
        }
        suppressed = [:]
        logged = [:]
        windowStart = now
    }
}

/// A set of the last `capacity` values inserted (older ones are forgotten).
struct RecentSet<T: Hashable> {
    let capacity: Int
    private var members: Set<T> = []
    private var order: [T] = []
    private var head = 0

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func contains(_ v: T) -> Bool { members.contains(v) }

    mutating func append(_ v: T) {
        guard members.insert(v).inserted else { return }
        if order.count < capacity {
            order.append(v)
        } else {
            members.remove(order[head])
            order[head] = v
            head = (head + 1) % capacity
        }
    }
}
