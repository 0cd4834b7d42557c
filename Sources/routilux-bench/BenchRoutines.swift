import Foundation
import RoutiluxBuiltins
import RoutiluxCore

/// The routines the benchmark's workers host: every builtin, plus two that measure a hop
/// (an emission's way from one handler to the start of the next) across processes on one machine.
enum BenchRoutines {
    static var registry: RoutineRegistry { RoutineRegistry(Builtins.types + [hopStampType, hopMeasureType]) }

    /// Nanoseconds of the wall clock (both ends of a hop read the same machine's clock).
    static func wallNanos() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return t.tv_sec * 1_000_000_000 + t.tv_nsec
    }

    /// Emits its input on `output` with `t_ns`, the time of the emission.
    static let hopStampType = RoutineType("HopStamp", summary: "emits its input stamped with the time (benchmark)") { config in
        var r = RoutineDefinition(config: config)
        let h: InlineSlotHandler = { data, ctx in
            var out = data
            out["t_ns"] = .int(wallNanos())
            try ctx.emit("output", out)
        }
        r.inlineSlot("input", h)
        r.inlineSlot("trigger", h)
        r.event("output")
        return r
    }

    /// Records, as the output `hop`, how long ago its input's `t_ns` was stamped (at handler start).
    static let hopMeasureType = RoutineType("HopMeasure", summary: "outputs the time since its input was stamped (benchmark)") { config in
        var r = RoutineDefinition(config: config)
        r.inlineSlot("input") { data, ctx in
            let now = wallNanos()
            let stamped = data["t_ns"]?.intValue ?? extractStamp(data) ?? now
            ctx.sendOutput("hop", ["ns": .int(now - stamped)])
        }
        return r
    }

    /// A stamp one level down (after a param mapping put the emission under `data`).
    static func extractStamp(_ data: JSONObject) -> Int? { data["data"]?.objectValue?["t_ns"]?.intValue }
}
