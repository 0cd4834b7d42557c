import Foundation
import RoutiluxCore

/// routilux 0.10's TextClipper: shortens long text by whole lines.
///
/// Slot `input` (`text`, optional `max_length`); event `output(clipped_text,
/// was_clipped, original_length)`. Config: `max_length` (1000),
/// `preserve_tracebacks` (true: text containing "Traceback" passes whole),
/// `truncation_message` ("...(省略了{remaining}行)").
public let textClipperType = RoutineType("TextClipper", summary: "clips long text to whole lines") { config in
    try Config.allowOnly(config, ["max_length", "preserve_tracebacks", "truncation_message"])
    let configured = config["max_length"]?.intValue ?? 1000
    let preserve = try Config.bool(config, "preserve_tracebacks", default: true)
    let message = try Config.string(config, "truncation_message", default: "...(省略了{remaining}行)") ?? ""
    var r = RoutineDefinition(config: config)
    r.event("output")
    r.inlineSlot("input") { data, ctx in
        let text = textOf(data["text"] ?? extractInputData(data.filter { $0.key != "max_length" }))
        let limit = data["max_length"]?.intValue.flatMap { $0 > 0 ? $0 : nil } ?? configured
        var clipped = text
        var was = false
        if !(preserve && text.contains("Traceback")) && text.count > limit {
            let lines = text.components(separatedBy: "\n")
            var kept: [String] = []
            var total = 0
            for line in lines {
                if total + line.count + 1 >= limit { break }
                total += line.count + 1
                kept.append(line)
            }
            clipped = kept.joined(separator: "\n") + "\n" + message.replacingOccurrences(of: "{remaining}", with: String(lines.count - kept.count))
            was = true
        }
        try ctx.emit("output", ["clipped_text": .string(clipped), "was_clipped": .bool(was), "original_length": .int(text.count)])
    }
    return r
}

/// The text in an input, as TextClipper finds it.
func textOf(_ v: JSONValue) -> String {
    switch v {
    case .string(let s): return s
    case .object(let o):
        for k in ["text", "content", "message", "data"] { if let s = o[k]?.stringValue { return s } }
        if let s = o.values.first(where: { $0.stringValue != nil })?.stringValue { return s }
        return pythonString(v)
    default: return pythonString(v)
    }
}

/// routilux 0.10's TextRenderer: objects and lists as XML-ish tags or markdown.
///
/// Slot `input`; event `output(rendered_text, original_type)`. Config:
/// `tag_format` (`xml` or `markdown`), `indent` ("  ").
/// Example: `{"name": "test", "value": 42}` → `<name>test</name>\n<value>42</value>`.
public let textRendererType = RoutineType("TextRenderer", summary: "renders data as XML-like tags or markdown") { config in
    try Config.allowOnly(config, ["tag_format", "indent", "include_type_hints"])
    let format = try Config.string(config, "tag_format", default: "xml") ?? "xml"
    guard format == "xml" || format == "markdown" else { throw RoutineConfigError(key: "tag_format", "must be xml or markdown") }
    let indent = try Config.string(config, "indent", default: "  ") ?? "  "
    var r = RoutineDefinition(config: config)
    r.event("output")
    r.inlineSlot("input") { data, ctx in
        let value = data["data"] ?? extractInputData(data)
        func render(_ v: JSONValue, _ level: Int) -> String {
            let ind = String(repeating: indent, count: level)
            switch v {
            case .object(let o):
                return o.map { k, x in
                    format == "xml" ? "\(ind)<\(k)>\(render(x, level + 1))</\(k)>" : "\(ind)**\(k)**: \(render(x, level + 1))"
                }.joined(separator: "\n")
            case .array(let a):
                return a.enumerated().map { i, x in
                    format == "xml" ? "\(ind)<item_\(i)>\(render(x, level + 1))</item_\(i)>" : "\(ind)- \(render(x, level + 1))"
                }.joined(separator: "\n")
            default: return pythonString(v)
            }
        }
        let type = pythonTypeName(value)
        try ctx.emit("output", ["rendered_text": .string(render(value, 0)), "original_type": .string(type)])
    }
    return r
}

/// routilux 0.10's TimeProvider: the current time in several forms.
///
/// Slot `request` (0.10 has no trigger; `trigger` is added here so it can start
/// a flow); event `output(time_string, timestamp, datetime, formatted)`.
/// Config: `format` (`iso`, `formatted`, `timestamp`, `custom`; an input
/// `format` overrides it), `custom_format` ("%Y-%m-%d %H:%M:%S", strftime),
/// `include_weekday` (true), `locale` ("zh_CN").
public let timeProviderType = RoutineType("TimeProvider", summary: "emits the current time") { config in
    try Config.allowOnly(config, ["format", "custom_format", "include_weekday", "locale"])
    let configured = try Config.string(config, "format", default: "iso") ?? "iso"
    let custom = try Config.string(config, "custom_format", default: "%Y-%m-%d %H:%M:%S") ?? "%Y-%m-%d %H:%M:%S"
    let weekday = try Config.bool(config, "include_weekday", default: true)
    let locale = try Config.string(config, "locale", default: "zh_CN") ?? "zh_CN"
    var r = RoutineDefinition(config: config)
    r.event("output")
    let handler: InlineSlotHandler = { data, ctx in
        let format = data["format"]?.stringValue ?? extractInputData(data)["format"].stringValue ?? configured
        let now = Date().timeIntervalSince1970
        let iso = localISO(now)
        let formatted = strftimeLocal(now, custom)
        let text: String
        switch format {
        case "timestamp": text = String(now)
        case "custom": text = formatted
        case "formatted":
            if locale == "zh_CN" && weekday {
                let names = ["日", "一", "二", "三", "四", "五", "六"]
                text = strftimeLocal(now, "%Y年%m月%d日，星期") + names[Int(strftimeLocal(now, "%w")) ?? 0] + strftimeLocal(now, "，%H:%M:%S")
            } else {
                text = strftimeLocal(now, weekday ? "%A, %B %d, %Y %H:%M:%S" : "%Y-%m-%d %H:%M:%S")
            }
        default: text = iso
        }
        try ctx.emit("output", ["time_string": .string(text), "timestamp": .double(now), "datetime": .string(iso), "formatted": .string(formatted)])
    }
    r.inlineSlot("request", handler)
    r.inlineSlot("trigger", handler)
    return r
}

private func strftimeLocal(_ t: Double, _ format: String) -> String {
    var secs = time_t(t)
    var tmv = tm()
    localtime_r(&secs, &tmv)
    var buf = [Int8](repeating: 0, count: 256)
    let n = strftime(&buf, buf.count, format, &tmv)
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Python's `datetime.now().isoformat()` (local time, microseconds).
private func localISO(_ t: Double) -> String {
    let micros = Int((t - floor(t)) * 1_000_000)
    let frac = String(micros)
    return strftimeLocal(t, "%Y-%m-%dT%H:%M:%S") + "." + String(repeating: "0", count: 6 - frac.count) + frac
}
