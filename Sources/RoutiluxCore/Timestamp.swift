import OrderedCollections
import Foundation

/// Seconds since 1970, formatted like Python's `datetime.isoformat()`
/// (`2026-11-25T18:32:51.123456`, UTC, no zone suffix) when serialized.
public struct Timestamp: Sendable, Hashable, Comparable {
    public var seconds: Double
    public init(seconds: Double) { self.seconds = seconds }
    public static func now() -> Timestamp { Timestamp(seconds: Date().timeIntervalSince1970) }
    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.seconds < b.seconds }

    public var iso: String {
        // Round to whole microseconds first, so 0.9999996 s carries into the next second.
        let total = Int64((seconds * 1_000_000).rounded())
        let micros = Int(((total % 1_000_000) + 1_000_000) % 1_000_000)
        var t = time_t((total - Int64(micros)) / 1_000_000)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let year = Int(tmv.tm_year) + 1900
        guard (0...9999).contains(year) else { return Self.isoSlow(tmv, micros: micros) }
        // Written digit by digit into 26 bytes: this runs for every output a job records.
        return String(unsafeUninitializedCapacity: 26) { b in
            func put(_ v: Int, _ n: Int, at i: Int) {
                var v = v
                for k in stride(from: i + n - 1, through: i, by: -1) {
                    b[k] = 0x30 + UInt8(v % 10)
                    v /= 10
                }
            }
            put(year, 4, at: 0)
            b[4] = 0x2D
            put(Int(tmv.tm_mon) + 1, 2, at: 5)
            b[7] = 0x2D
            put(Int(tmv.tm_mday), 2, at: 8)
            b[10] = 0x54
            put(Int(tmv.tm_hour), 2, at: 11)
            b[13] = 0x3A
            put(Int(tmv.tm_min), 2, at: 14)
            b[16] = 0x3A
            put(Int(tmv.tm_sec), 2, at: 17)
            b[19] = 0x2E
            put(micros, 6, at: 20)
            return 26
        }
    }

    /// The same for years outside 0...9999 (as Python writes them).
    static func isoSlow(_ tmv: tm, micros: Int) -> String {
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        let ms = String(micros)
        return "\(pad(tmv.tm_year + 1900, 4))-\(pad(tmv.tm_mon + 1, 2))-\(pad(tmv.tm_mday, 2))T"
            + "\(pad(tmv.tm_hour, 2)):\(pad(tmv.tm_min, 2)):\(pad(tmv.tm_sec, 2))."
            + String(repeating: "0", count: 6 - ms.count) + ms
    }

    /// Parses ISO 8601 as written by routilux (with or without fraction and zone).
    public init?(iso: String) {
        var s = Substring(iso)
        var offset = 0.0
        if s.hasSuffix("Z") { s = s.dropLast() } else if s.count > 6 {
            let tail = s.suffix(6)
            if (tail.first == "+" || tail.first == "-"), tail.dropFirst().count == 5,
                let h = Double(tail.dropFirst().prefix(2)), let m = Double(tail.suffix(2))
            {
                offset = (h * 3600 + m * 60) * (tail.first == "+" ? 1 : -1)
                s = s.dropLast(6)
            }
        }
        let parts = s.split(separator: "T")
        guard parts.count == 2 else { return nil }
        let d = parts[0].split(separator: "-").compactMap { Int32($0) }
        let timeParts = parts[1].split(separator: ":")
        guard d.count == 3, timeParts.count == 3, let h = Int32(timeParts[0]), let mi = Int32(timeParts[1]),
            let sec = Double(timeParts[2])
        else { return nil }
        var tmv = tm()
        tmv.tm_year = d[0] - 1900
        tmv.tm_mon = d[1] - 1
        tmv.tm_mday = d[2]
        tmv.tm_hour = h
        tmv.tm_min = mi
        tmv.tm_sec = 0
        let base = timegm(&tmv)
        seconds = Double(base) + sec - offset
    }
}
