import Foundation
import RoutiluxCore

/// Parses `--params` (JSON text, or `@FILE`); the error says which option and where.
func parseParams(_ text: String?) throws(FlowValidationError) -> JSONValue {
    guard var text else { return .object([:]) }
    var source = "--params"
    if text.hasPrefix("@") {
        let path = String(text.dropFirst())
        guard let d = FileManager.default.contents(atPath: path) else {
            throw FlowValidationError(file: nil, path: "", message: "--params: cannot read \(path)")
        }
        text = String(decoding: d, as: UTF8.self)
        source = "--params \(path)"
    }
    let v: JSONValue
    do { v = try JSONValue.parse(text) } catch {
        throw FlowValidationError(file: nil, path: "", message: "\(source): bad JSON: \(error)")
    }
    guard case .object = v else {
        throw FlowValidationError(file: nil, path: "", message: "\(source): must be a JSON object, not \(v.typeName)")
    }
    return v
}

/// Parses `--entry ROUTINE[.SLOT]`.
func parseEntry(_ text: String?) -> EntryPoint? {
    guard let text else { return nil }
    let parts = text.split(separator: ".", maxSplits: 1).map(String.init)
    return EntryPoint(routine: parts[0], slot: parts.count > 1 ? parts[1] : "trigger")
}

/// The path of a sibling executable (e.g. routilux-worker next to routilux).
func siblingExecutable(_ name: String) -> String {
    let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    let sibling = me.deletingLastPathComponent().appendingPathComponent(name).path
    if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
    if let exe = Bundle.main.executableURL?.deletingLastPathComponent().appendingPathComponent(name).path,
        FileManager.default.isExecutableFile(atPath: exe)
    {
        return exe
    }
    return name
}

/// A flow file to send to a coordinator: parsed and structure-checked here (the
/// coordinator checks routine types against its catalogue).
func checkedFlowDocument(_ file: String, defaultFlowId: String) throws(FlowValidationError) -> RawJSON {
    let doc = try FlowLoader.readDocument(file: file)
    _ = try FlowLoader.build(doc, file: file, defaultFlowId: defaultFlowId, catalogue: nil)
    return RawJSON(doc)
}

/// Writes a JobState as pretty JSON (`--output`); failing is exit 1.
func writeJobState(_ state: JobState, to path: String) throws {
    do { try Data(state.json.jsonString(pretty: true).utf8).write(to: URL(fileURLWithPath: path)) } catch {
        throw fail("--output \(path): \(error)", code: Exit.notCompleted)
    }
}
