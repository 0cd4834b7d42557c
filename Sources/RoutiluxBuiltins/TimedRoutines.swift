import Foundation
import RoutiluxCore

// Routines that keep per-job state and use timers (routilux's later builtins).
// Their state lives on the coordinator (`ctx.state`), one activation of a
// routine per job at a time; timers fire the routine's internal `_timer` slot.

private func number(_ c: JSONObject, _ key: String, default d: Double, min lo: Double = 0) throws -> Double {
    guard let v = c[key], v != .null else { return d }
    guard let x = v.doubleValue, x >= lo else { throw RoutineConfigError(key: key, "must be a number >= \(lo), not \(v)") }
    return x
}

private func integer(_ c: JSONObject, _ key: String, default d: Int, min lo: Int = 1) throws -> Int {
    guard let v = c[key], v != .null else { return d }
    guard let x = v.intValue, x >= lo else { throw RoutineConfigError(key: key, "must be an integer >= \(lo), not \(v)") }
    return x
}

/// Groups inputs into batches by size and by time.
///
/// Slot `input`; events `batch(items, count, batch_number)` and
/// `timeout(count, batch_number)` (a batch flushed by time). Config:
/// `batch_size` (100), `batch_timeout` (5 s after a batch's first item),
/// `max_batch_size` (10000), `emit_empty` (false). A job's last partial batch
/// is flushed by its timer before the job completes.
public let batcherType = RoutineType("Batcher", summary: "emits batches of inputs by size and by time") { config in
    try Config.allowOnly(config, ["batch_size", "batch_timeout", "max_batch_size", "emit_empty"])
    let size = try integer(config, "batch_size", default: 100)
    let maxSize = try integer(config, "max_batch_size", default: 10_000)
    guard size <= maxSize else { throw RoutineConfigError(key: "batch_size", "is larger than max_batch_size (\(maxSize))") }
    let timeout = try number(config, "batch_timeout", default: 5)
    let emitEmpty = try Config.bool(config, "emit_empty", default: false)
    var r = RoutineDefinition(config: config)
    r.keepState()
    r.event("batch")
    r.event("timeout")
    @Sendable func flush(_ ctx: HandlerContext, byTime: Bool) throws {
        var s = ctx.state
        let items = s["items"]?.arrayValue ?? []
        guard !items.isEmpty || (byTime && emitEmpty) else { return }
        let n = (s["batch_number"]?.intValue ?? 0) + 1
        try ctx.emit("batch", ["items": .array(items), "count": .int(items.count), "batch_number": .int(n)])
        if byTime { try ctx.emit("timeout", ["count": .int(items.count), "batch_number": .int(n)]) }
        s["items"] = []
        s["batch_number"] = .int(n)
        s["generation"] = .int((s["generation"]?.intValue ?? 0) + 1)  // a flush already queued is now stale
        ctx.state = s
        ctx.cancelTimer("flush")
    }
    r.slot("input") { data, ctx in
        var s = ctx.state
        var items = s["items"]?.arrayValue ?? []
        items.append(extractInputData(data))
        s["items"] = .array(items)
        ctx.state = s
        if items.count == 1 && items.count < size {
            ctx.setTimer("flush", after: timeout, slot: "_timer", data: ["generation": s["generation"] ?? 0])
        }
        if items.count >= size { try flush(ctx, byTime: false) }
    }
    // A timer that fell due while an input was being handled may belong to a batch already flushed.
    r.slot("_timer") { data, ctx in
        guard data["generation"] == (ctx.state["generation"] ?? 0) else { return }
        try flush(ctx, byTime: true)
    }
    return r
}

/// Lets a burst of inputs through as one: the last input after `wait` seconds of quiet.
///
/// Slot `input`; events `debounced(data)` (trailing) and `leading(data)`.
/// Config: `wait` (0.3 s), `leading` (false: also emit the first input of a
/// burst at once), `trailing` (true), `max_wait` (emit at the latest this long
/// after a burst began).
public let debouncerType = RoutineType("Debouncer", summary: "emits the last input of a burst after a quiet period") { config in
    try Config.allowOnly(config, ["wait", "leading", "trailing", "max_wait"])
    let wait = try number(config, "wait", default: 0.3)
    let leading = try Config.bool(config, "leading", default: false)
    let trailing = try Config.bool(config, "trailing", default: true)
    let maxWait = config["max_wait"].flatMap { $0 == .null ? nil : $0.doubleValue }
    if let m = maxWait, m < wait { throw RoutineConfigError(key: "max_wait", "must be at least wait (\(wait))") }
    var r = RoutineDefinition(config: config)
    r.keepState()
    r.event("debounced")
    r.event("leading")
    @Sendable func fire(_ ctx: HandlerContext) throws {
        let s = ctx.state
        if trailing, s["pending"]?.boolValue == true, let last = s["last"] { try ctx.emit("debounced", ["data": last]) }
        ctx.state = ["generation": .int((s["generation"]?.intValue ?? 0) + 1)]
        ctx.cancelTimer("quiet")
    }
    r.slot("input") { data, ctx in
        let now = Date().timeIntervalSince1970
        let input = extractInputData(data)
        var s = ctx.state
        let started = s["started"]?.doubleValue
        if started == nil {
            s["started"] = .double(now)
            if leading { try ctx.emit("leading", ["data": input]) }
            s["pending"] = .bool(!leading)
        } else {
            s["pending"] = true
        }
        s["last"] = input
        ctx.state = s
        if let m = maxWait, let st = started, now - st >= m {
            try fire(ctx)
        } else {
            // The quiet period, but never past max_wait from the burst's start.
            let begun = started ?? now
            let after = maxWait.map { min(wait, max(0, begun + $0 - now)) } ?? wait
            ctx.setTimer("quiet", after: after, slot: "_timer", data: ["generation": s["generation"] ?? 0])
        }
    }
    r.slot("_timer") { data, ctx in
        // A timer that fell due while an input was being handled belongs to a window already closed.
        guard data["generation"] == (ctx.state["generation"] ?? 0), ctx.state["started"] != nil else { return }
        try fire(ctx)
    }
    return r
}

/// Waits for inputs on several slots and emits them together.
///
/// Slots: those named in `slots` (default `[input]`); events
/// `aggregated(data, slots)` and `timeout(data, missing)`. Config: `mode`
/// (`all`: every slot; `any`: the first; `n_of_m`: `threshold` of them),
/// `timeout` (30 s from the first input: emit what arrived), `merge_strategy`
/// (`dict`: `{slot: value}`; `list`: values in slot order; `flatten`: the
/// objects merged into one).
public let aggregatorType = RoutineType("Aggregator", summary: "joins inputs from several slots (all, any or n of m)") { config in
    try Config.allowOnly(config, ["slots", "mode", "threshold", "timeout", "merge_strategy", "max_pending_items"])
    let slots = config["slots"]?.arrayValue?.compactMap(\.stringValue) ?? ["input"]
    guard !slots.isEmpty, Set(slots).count == slots.count, !slots.contains("_timer") else {
        throw RoutineConfigError(key: "slots", "must be a list of distinct slot names")
    }
    let mode = try Config.string(config, "mode", default: "all") ?? "all"
    let needed: Int
    switch mode {
    case "all": needed = slots.count
    case "any": needed = 1
    case "n_of_m":
        needed = try integer(config, "threshold", default: slots.count)
        guard needed <= slots.count else { throw RoutineConfigError(key: "threshold", "is more than the \(slots.count) slots") }
    default: throw RoutineConfigError(key: "mode", "must be all, any or n_of_m")
    }
    let timeout = try number(config, "timeout", default: 30)
    let strategy = try Config.string(config, "merge_strategy", default: "dict") ?? "dict"
    guard ["dict", "list", "flatten"].contains(strategy) else { throw RoutineConfigError(key: "merge_strategy", "must be dict, list or flatten") }
    @Sendable func merged(_ got: JSONObject) -> JSONValue {
        switch strategy {
        case "list": return .array(slots.compactMap { got[$0] })
        case "flatten":
            var out = JSONObject()
            for s in slots { if let o = got[s]?.objectValue { for (k, v) in o { out[k] = v } } else if let v = got[s] { out[s] = v } }
            return .object(out)
        default: return .object(JSONObject(uniqueKeysWithValues: slots.compactMap { s in got[s].map { (s, $0) } }))
        }
    }
    var r = RoutineDefinition(config: config)
    r.keepState()
    r.event("aggregated")
    r.event("timeout")
    for slot in slots {
        r.slot(slot) { data, ctx in
            var got = ctx.state["received"]?.objectValue ?? [:]
            let generation = ctx.state["generation"] ?? 0
            if got.isEmpty { ctx.setTimer("timeout", after: timeout, slot: "_timer", data: ["generation": generation]) }
            got[slot] = extractInputData(data)
            if got.count >= needed {
                try ctx.emit("aggregated", ["data": merged(got), "slots": .array(slots.filter { got[$0] != nil }.map { .string($0) })])
                ctx.state = ["generation": .int((generation.intValue ?? 0) + 1)]
                ctx.cancelTimer("timeout")
            } else {
                ctx.state = ["received": .object(got), "generation": generation]
            }
        }
    }
    r.slot("_timer") { data, ctx in
        let got = ctx.state["received"]?.objectValue ?? [:]
        let generation = ctx.state["generation"] ?? 0
        // A timer of a round already completed is stale.
        guard !got.isEmpty, data["generation"] == generation else { return }
        try ctx.emit("timeout", ["data": merged(got), "missing": .array(slots.filter { got[$0] == nil }.map { .string($0) })])
        ctx.state = ["generation": .int((generation.intValue ?? 0) + 1)]
    }
    return r
}

/// Schedules retries of failed items with backoff, in the flow's own loop.
///
/// Slots `input` (an item that failed: its data, with `attempt` = attempts so
/// far and optionally `error_type`) and `success` (an item that worked).
/// Events `retry(data, attempt, delay)` after the backoff delay, `exhausted(data,
/// attempts)`, `error(data, reason)` (a non-retryable error type) and
/// `success(data)`. Config: `max_attempts` (3), `backoff` (fixed, linear,
/// exponential, exponential_jitter), `base_delay` (1 s), `max_delay` (60 s),
/// `retryable_exceptions` (error type names; empty: all).
public let retryHandlerType = RoutineType("RetryHandler", summary: "re-emits failed items after a backoff, until max_attempts") { config in
    try Config.allowOnly(config, ["max_attempts", "backoff", "base_delay", "max_delay", "retryable_exceptions"])
    let maxAttempts = try integer(config, "max_attempts", default: 3)
    let backoff = try Config.string(config, "backoff", default: "exponential") ?? "exponential"
    guard ["fixed", "linear", "exponential", "exponential_jitter"].contains(backoff) else {
        throw RoutineConfigError(key: "backoff", "must be fixed, linear, exponential or exponential_jitter")
    }
    let base = try number(config, "base_delay", default: 1)
    let cap = try number(config, "max_delay", default: 60)
    let retryable = config["retryable_exceptions"]?.arrayValue?.compactMap(\.stringValue) ?? []
    var r = RoutineDefinition(config: config)
    r.keepState()
    for e in ["retry", "exhausted", "error", "success"] { r.event(e) }
    r.slot("input") { data, ctx in
        let item = extractInputData(data)
        let attempts = item["attempt"].intValue ?? data["attempt"]?.intValue ?? 1
        if !retryable.isEmpty, let t = item["error_type"].stringValue ?? data["error_type"]?.stringValue, !retryable.contains(t) {
            try ctx.emit("error", ["data": item, "reason": .string("error type \(t) is not retryable")])
            return
        }
        guard attempts < maxAttempts else {
            try ctx.emit("exhausted", ["data": item, "attempts": .int(attempts)])
            return
        }
        var delay: Double
        switch backoff {
        case "fixed": delay = base
        case "linear": delay = base * Double(attempts)
        case "exponential": delay = base * pow(2, Double(attempts - 1))
        default: delay = base * pow(2, Double(attempts - 1)) * Double.random(in: 0.5...1.5)
        }
        delay = min(delay, cap)
        let n = (ctx.state["next"]?.intValue ?? 0) + 1
        ctx.state = ["next": .int(n)]
        // The item carries its attempt count on (when it is an object), so a loop back here counts on.
        var next = item
        if case .object(var o) = item {
            o["attempt"] = .int(attempts + 1)
            next = .object(o)
        }
        ctx.setTimer("retry-\(n)", after: delay, slot: "_timer", data: ["data": next, "attempt": .int(attempts + 1), "delay": .double(delay)])
    }
    r.slot("_timer") { data, ctx in try ctx.emit("retry", data) }
    r.slot("success") { data, ctx in try ctx.emit("success", ["data": extractInputData(data)]) }
    return r
}
