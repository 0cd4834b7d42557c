/// Rate-limited logging: per key, the first `linesPerWindow` events of each
/// `window` seconds are logged one by one; the rest are counted and reported,
/// one summary per key, when the window ends. A flood cannot fill the disk.
public struct RateLimitedLog<Key: Hashable & Comparable>: Sendable where Key: Sendable {
    public let window: Double
    public let linesPerWindow: Int
    private var windowStart = -Double.infinity
    private var logged: [Key: Int] = [:]
    private var suppressed: [Key: Int] = [:]

    public init(window: Double = 10, linesPerWindow: Int = 5) {
        self.window = window
        self.linesPerWindow = linesPerWindow
    }

    /// Whether to log this event now (else it is counted in the next summary).
    public mutating func shouldLog(_ key: Key, now: Double, summary: (Key, Int) -> Void) -> Bool {
        flush(now: now, summary)
        let n = logged[key, default: 0]
        if n < linesPerWindow {
            logged[key] = n + 1
            return true
        }
        suppressed[key, default: 0] += 1
        return false
    }

    /// Ends the window if it is over: one summary per key that had events not logged.
    public mutating func flush(now: Double, _ summary: (Key, Int) -> Void) {
        guard now - windowStart >= window else { return }
        for (key, n) in suppressed.sorted(by: { $0.key < $1.key }) where n > 0 { summary(key, n) }
        suppressed = [:]
        logged = [:]
        windowStart = now
    }
}
