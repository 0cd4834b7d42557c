import Foundation
import RoutiluxCore

/// Spends a fixed amount of CPU on each input, then passes it on: a stand-in for
/// CPU-bound work in benchmarks and load tests (it holds a core, unlike `Delay`).
///
/// Slot `input`; event `output` (the input, unchanged). Config: `cpu_us`
/// (default 1000, 0 to 60 000 000): microseconds of CPU time per input, measured
/// on the thread's own CPU clock, so a busy machine stretches the wall time, not the work.
public let spinType = RoutineType(
    "Spin", summary: "spends cpu_us of CPU per input, then passes it on (benchmarks)"
) { config in
    try Config.allowOnly(config, ["cpu_us"])
    let micros = config["cpu_us"].map { $0 == .null ? 1000 : ($0.intValue ?? -1) } ?? 1000
    guard (0...60_000_000).contains(micros) else { throw RoutineConfigError(key: "cpu_us", "must be an integer 0...60000000") }
    var r = RoutineDefinition(config: config)
    r.slot("input") { data, ctx in
        spin(micros: micros)
        try ctx.emit("output", data)
    }
    r.event("output")
    return r
}

/// Burns `micros` of this thread's CPU time.
func spin(micros: Int) {
    func cpuNanos() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return t.tv_sec * 1_000_000_000 + t.tv_nsec
    }
    let end = cpuNanos() + micros * 1000
    var x: UInt64 = 0x9E37_79B9_7F4A_7C15
    while cpuNanos() < end {
        for _ in 0..<256 { x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
    }
    if x == 42 { print("") }  // keeps the loop from being optimized away
}
