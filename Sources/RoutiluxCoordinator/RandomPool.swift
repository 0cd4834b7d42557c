#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Random 64-bit values from the operating system's CSPRNG, fetched 512 at a
/// time (the system generator makes one system call per value: one per task
/// on the dispatch path).
struct RandomPool {
    private var buffer = [UInt64](repeating: 0, count: 512)
    private var next = 512

    mutating func take() -> UInt64 {
        if next == buffer.count {
            refill()
            next = 0
        }
        defer { next += 1 }
        return buffer[next]
    }

    private mutating func refill() {
        buffer.withUnsafeMutableBytes { raw in
            // glibc 2.36+ and Darwin: a ChaCha20 generator seeded from the kernel.
            arc4random_buf(raw.baseAddress!, raw.count)
        }
    }
}
