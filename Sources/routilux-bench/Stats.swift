/// Medians, ranges and percentiles of measured runs.
enum Stats {
    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// The value at `p` percent (nearest rank) of `xs`.
    static func percentile(_ xs: [Double], _ p: Double) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return .nan }
        let rank = Int((p / 100 * Double(s.count)).rounded(.up))
        return s[min(s.count - 1, max(0, rank - 1))]
    }

    static func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
    static func round1(_ x: Double) -> Double { (x * 10).rounded() / 10 }
}
