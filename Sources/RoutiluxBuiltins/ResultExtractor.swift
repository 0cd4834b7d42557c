import Foundation
import RoutiluxCore

/// routilux 0.10's ResultExtractor: pulls structured results out of
/// LLM-style text and interpreter output, with a confidence score.
///
/// Slot `input`; event `output(extracted_result, format, metadata, confidence,
/// extraction_path)`. Extractors, in order: interpreter_output, json_code_block
/// (the last ```json block that parses), json_string, yaml_code_block,
/// yaml_string, xml_code_block, code_block (the first of
/// `code_block_languages`, other than json, that has blocks: its last block),
/// dict_extractor, list_extractor. Config: `strategy` (auto, first_match,
/// priority: the first success; all: every success), `extractor_priority`
/// (names tried first), `extract_json_blocks` (true), `extract_code_blocks`
/// (true), `extract_yaml_blocks` (false), `extract_xml_blocks` (false),
/// `code_block_languages`, `format_interpreter_output` (true),
/// `parse_json_strings` (true), `parse_yaml_strings` (false),
/// `return_original_on_failure` (true; else a failure is a routine error).
/// Confidence: 0.5, +0.2 for an object or list, +0.1 for a code block, +0.1
/// for json/yaml, −0.3 when empty, within [0, 1]. Python callables
/// (`register_extractor`) have no equivalent here.
public let resultExtractorType = RoutineType("ResultExtractor", summary: "extracts JSON, YAML, XML or code from text") { config in
    try Config.allowOnly(config, [
        "strategy", "extractor_priority", "extract_json_blocks", "extract_code_blocks", "extract_yaml_blocks", "extract_xml_blocks",
        "code_block_languages", "format_interpreter_output", "parse_json_strings", "parse_yaml_strings", "detect_nested_structures",
        "continue_on_error", "return_original_on_failure", "log_errors",
    ])
    let strategy = try Config.string(config, "strategy", default: "auto") ?? "auto"
    guard ["auto", "first_match", "priority", "all"].contains(strategy) else {
        throw RoutineConfigError(key: "strategy", "must be auto, first_match, priority or all")
    }
    let flags = try ExtractorFlags(config)
    let priority = config["extractor_priority"]?.arrayValue?.compactMap(\.stringValue) ?? []
    let order = priority.filter(Extractors.names.contains) + Extractors.names.filter { !priority.contains($0) }
    let returnOriginal = try Config.bool(config, "return_original_on_failure", default: true)
    var r = RoutineDefinition(config: config)
    r.event("output")
    r.slot("input") { data, ctx in
        var input = data["data"] ?? extractInputData(data)
        if input == .object([:]) { input = "" }
        var found: [JSONObject] = []
        for name in order {
            guard let (result, format, meta) = Extractors.run(name, input, flags) else { continue }
            var metadata = meta
            metadata["extractor"] = .string(name)
            metadata["strategy"] = .string(strategy)
            found.append([
                "extracted_result": result, "format": .string(format), "metadata": .object(metadata),
                "confidence": .double(confidence(result, format, meta)), "extraction_path": [.string(name)],
            ])
            if strategy != "all" { break }
        }
        if strategy == "all", !found.isEmpty {
            try ctx.emit("output", [
                "extracted_result": .array(found.map { $0["extracted_result"]! }), "format": "multi",
                "metadata": ["extractions": .array(found.map { .object($0) }), "count": .int(found.count), "errors": []],
                "confidence": .double(found.compactMap { $0["confidence"]?.doubleValue }.max() ?? 0),
                "extraction_path": .array(found.flatMap { $0["extraction_path"]?.arrayValue ?? [] }),
            ])
        } else if let first = found.first {
            try ctx.emit("output", first)
        } else if returnOriginal {
            let type = pythonTypeName(input).lowercased()
            try ctx.emit("output", [
                "extracted_result": input, "format": .string(type),
                "metadata": ["extraction_method": "none", "errors": [], "original_type": .string(type)],
                "confidence": 0.0, "extraction_path": [],
            ])
        } else {
            throw RoutineError("ResultExtractor: no extractor could handle the input (\(pythonTypeName(input)))", type: "ValueError")
        }
    }
    return r
}

private func confidence(_ result: JSONValue, _ format: String, _ meta: JSONObject) -> Double {
    var c = 0.5
    if result.objectValue != nil || result.arrayValue != nil { c += 0.2 }
    if meta["extraction_method"]?.stringValue?.contains("code_block") == true { c += 0.1 }
    if format == "json" || format == "yaml" { c += 0.1 }
    let empty: Bool
    switch result {
    case .string(let s): empty = s.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
    case .array(let a): empty = a.isEmpty
    case .object(let o): empty = o.isEmpty
    case .null: empty = true
    default: empty = false
    }
    if empty { c -= 0.3 }
    return min(1, max(0, c))
}

/// Python's `type(x).__name__` for a JSON value, as the 0.10 builtins report it.
func pythonTypeName(_ v: JSONValue) -> String {
    switch v {
    case .object: return "dict"
    case .array: return "list"
    case .string: return "str"
    case .int: return "int"
    case .double: return "float"
    case .bool: return "bool"
    case .null: return "NoneType"
    }
}

struct ExtractorFlags: Sendable {
    var json, code, yaml, xml, interpreter, jsonStrings, yamlStrings: Bool
    var languages: [String]
    init(_ c: JSONObject) throws {
        json = try Config.bool(c, "extract_json_blocks", default: true)
        code = try Config.bool(c, "extract_code_blocks", default: true)
        yaml = try Config.bool(c, "extract_yaml_blocks", default: false)
        xml = try Config.bool(c, "extract_xml_blocks", default: false)
        interpreter = try Config.bool(c, "format_interpreter_output", default: true)
        jsonStrings = try Config.bool(c, "parse_json_strings", default: true)
        yamlStrings = try Config.bool(c, "parse_yaml_strings", default: false)
        languages = c["code_block_languages"]?.arrayValue?.compactMap(\.stringValue) ?? ["json", "python", "output", "yaml", "xml"]
    }
}

enum Extractors {
    static let names = [
        "interpreter_output", "json_code_block", "json_string", "yaml_code_block", "yaml_string", "xml_code_block", "code_block",
        "dict_extractor", "list_extractor",
    ]

    /// The contents of ```lang blocks (also ```{lang}), in order.
    static func blocks(_ text: String, language: String) -> [String] {
        let lang = NSRegularExpression.escapedPattern(for: language)
        guard let re = try? NSRegularExpression(pattern: "```(?:\(lang)|\\{\(lang)\\})[ \\t]*\\n(.*?)```", options: [.caseInsensitive, .dotMatchesLineSeparators])
        else { return [] }
        let ns = text as NSString
        return re.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: 1)) }
    }

    static func run(_ name: String, _ v: JSONValue, _ f: ExtractorFlags) -> (JSONValue, String, JSONObject)? {
        switch name {
        case "interpreter_output":
            guard f.interpreter, let items = v.arrayValue,
                items.contains(where: { $0.objectValue?["format"] != nil || $0.objectValue?["content"] != nil })
            else { return nil }
            var parts: [String] = []
            for item in items {
                if let o = item.objectValue {
                    if o["format"]?.stringValue == "output", let c = o["content"]?.stringValue, !c.isEmpty { parts.append(c) }
                } else if let s = item.stringValue, !s.isEmpty {
                    parts.append(s)
                }
            }
            guard !parts.isEmpty else { return nil }
            let text = parts.joined(separator: "\n")
            return (.string(text), "interpreter_output", [
                "extraction_method": "interpreter_output", "output_count": .int(parts.count),
                "line_count": .int(text.split(separator: "\n", omittingEmptySubsequences: false).count),
            ])
        case "json_code_block":
            guard f.json, let s = v.stringValue else { return nil }
            let found = blocks(s, language: "json")
            for i in found.indices.reversed() {
                if let parsed = try? JSONValue.parse(found[i].trimmingCharacters(in: .whitespacesAndNewlines)) {
                    return (parsed, "json", ["extraction_method": "json_code_block", "block_count": .int(found.count), "block_index": .int(i)])
                }
            }
            return nil
        case "json_string":
            guard f.jsonStrings, let s = v.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), s.count > 2,
                s.hasPrefix("{") || s.hasPrefix("["), let parsed = try? JSONValue.parse(s)
            else { return nil }
            return (parsed, "json", ["extraction_method": "json_string"])
        case "yaml_code_block":
            guard f.yaml, let s = v.stringValue else { return nil }
            let found = blocks(s, language: "yaml")
            for i in found.indices.reversed() {
                if let parsed = try? FlowLoader.parseDocument(Array(found[i].utf8), isJSON: false, file: nil) {
                    return (parsed, "yaml", ["extraction_method": "yaml_code_block", "block_count": .int(found.count), "block_index": .int(i)])
                }
            }
            return nil
        case "yaml_string":
            guard f.yamlStrings, let s = v.stringValue, s.contains(":") || s.hasPrefix("- "),
                let parsed = try? FlowLoader.parseDocument(Array(s.utf8), isJSON: false, file: nil), parsed.objectValue != nil || parsed.arrayValue != nil
            else { return nil }
            return (parsed, "yaml", ["extraction_method": "yaml_string"])
        case "xml_code_block":
            guard f.xml, let s = v.stringValue, let last = blocks(s, language: "xml").last else { return nil }
            return (.string(last), "xml", ["extraction_method": "xml_code_block"])
        case "code_block":
            guard f.code, let s = v.stringValue else { return nil }
            for lang in f.languages where lang.lowercased() != "json" {
                let found = blocks(s, language: lang)
                if let last = found.last {
                    return (.string(last), lang, ["extraction_method": .string("\(lang)_code_block"), "block_count": .int(found.count)])
                }
            }
            return nil
        case "dict_extractor":
            guard let o = v.objectValue else { return nil }
            return (v, "dict", ["extraction_method": "direct", "key_count": .int(o.count)])
        case "list_extractor":
            guard let a = v.arrayValue else { return nil }
            return (v, "list", ["extraction_method": "direct", "item_count": .int(a.count)])
        default:
            return nil
        }
    }
}
