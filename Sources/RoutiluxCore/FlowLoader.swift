import OrderedCollections
import Foundation
import Yams

/// A problem in a flow document: which file, where inside it, and what.
public struct FlowValidationError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String?
    /// A path inside the document, e.g. `connections[2].to`; empty for the whole document.
    public var path: String
    public var message: String

    public init(file: String?, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    public var description: String {
        var s = file.map { "\($0): " } ?? ""
        if !path.isEmpty { s += "\(path): " }
        return s + message
    }
}

/// Reads flow documents (routilux's DSL, in YAML or JSON) into a `FlowDefinition`,
/// checking structure and, given a catalogue, routine types, events and slots.
public enum FlowLoader {
    /// Routines one flow may have (each may need describing before a job starts).
    public static let maxRoutines = 10_000
    /// Loads and validates a flow file. `.json` files are parsed as JSON, others as YAML.
    /// `allowUnknownTypes`: a type the catalogue does not know is left for later
    /// (a worker hosting it describes it), not refused.
    public static func load(file: String, catalogue: RoutineCatalogue?, allowUnknownTypes: Bool = false) throws(FlowValidationError) -> FlowDefinition {
        try build(readDocument(file: file), file: file, defaultFlowId: defaultFlowId(of: file), catalogue: catalogue, allowUnknownTypes: allowUnknownTypes)
    }

    /// Reads and parses a flow file (`.json` as JSON, others as YAML) without building it.
    public static func readDocument(file: String) throws(FlowValidationError) -> JSONValue {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw FlowValidationError(file: file, path: "", message: "cannot read file")
        }
        return try parseDocument(Array(data), isJSON: file.lowercased().hasSuffix(".json"), file: file)
    }

    /// A flow's id when its document has none: the file name without its extension.
    public static func defaultFlowId(of file: String) -> String {
        ((file as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// Parses document text: JSON when `isJSON`, else YAML (which also reads JSON).
    public static func parseDocument(_ bytes: [UInt8], isJSON: Bool, file: String?) throws(FlowValidationError) -> JSONValue {
        if isJSON {
            do { return try JSONValue.parse(bytes, rejectDuplicateKeys: true) } catch {
                throw FlowValidationError(file: file, path: "", message: "bad JSON: \(error)")
            }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
            let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            throw FlowValidationError(
                file: file, path: "line \(context.mark.line), column \(context.mark.column)",
                message: "duplicate key \(keys) in the mapping that starts here")
        } catch {
            // Yams's messages span lines; keep the error on one.
            let text = "\(error)".split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            throw FlowValidationError(file: file, path: "", message: "bad YAML: " + text.filter { !$0.isEmpty }.joined(separator: " "))
        }
        guard let node else { throw FlowValidationError(file: file, path: "", message: "the document is empty") }
        return try yamlToJSON(node, path: "", file: file)
    }

    static func yamlToJSON(_ node: Node, path: String, file: String?) throws(FlowValidationError) -> JSONValue {
        switch node {
        case .scalar:
            if node.null != nil { return .null }
            if let b = node.bool { return .bool(b) }
            if let i = node.int { return .int(i) }
            if let d = node.float { return .double(d) }
            return .string(node.string ?? "")
        case .sequence(let seq):
            var out: [JSONValue] = []
            for (i, n) in seq.enumerated() { out.append(try yamlToJSON(n, path: "\(path)[\(i)]", file: file)) }
            return .array(out)
        case .mapping(let map):
            var out = JSONObject()
            for (k, v) in map {
                guard let key = k.string else {
                    throw FlowValidationError(file: file, path: path, message: "mapping keys must be strings")
                }
                let sub = path.isEmpty ? key : "\(path).\(key)"
                if out[key] != nil { throw FlowValidationError(file: file, path: sub, message: "duplicate key '\(key)'") }
                out[key] = try yamlToJSON(v, path: sub, file: file)
            }
            return .object(out)
        case .alias:
            throw FlowValidationError(file: file, path: path, message: "YAML aliases are not supported")
        }
    }

    /// Builds and validates a flow from a parsed document: its structure always;
    /// given a catalogue, each routine's config and the ports connections and the
    /// entry use, for the routines whose ports the catalogue knows for their config.
    public static func build(
        _ doc: JSONValue, file: String?, defaultFlowId: String, catalogue: RoutineCatalogue?, allowUnknownTypes: Bool = false
    ) throws(FlowValidationError) -> FlowDefinition {
        func fail(_ path: String, _ message: String) -> FlowValidationError {
            FlowValidationError(file: file, path: path, message: message)
        }
        guard let top = doc.objectValue else { throw fail("", "the document must be a mapping, not \(doc.typeName)") }
        let knownKeys: Set<String> = ["flow_id", "routines", "connections", "execution", "entry", "error_handler"]
        for k in top.keys where !knownKeys.contains(k) {
            throw fail(k, "unknown key (expected one of: \(knownKeys.sorted().joined(separator: ", ")))")
        }

        var flowId = defaultFlowId
        if let f = top["flow_id"], f != .null {
            guard let s = f.stringValue, !s.isEmpty else { throw fail("flow_id", "must be a non-empty string") }
            flowId = s
        }

        // Routines.
        guard let routinesValue = top["routines"] else { throw fail("routines", "missing: a flow needs at least one routine") }
        guard let routinesObj = routinesValue.objectValue else {
            throw fail("routines", "must be a mapping of routine id to {type, config}, not \(routinesValue.typeName)")
        }
        if routinesObj.isEmpty { throw fail("routines", "a flow needs at least one routine") }
        if routinesObj.count > maxRoutines { throw fail("routines", "has \(routinesObj.count) routines; a flow has at most \(maxRoutines)") }
        var routines: [RoutineNode] = []
        var portsById: [String: RoutinePorts] = [:]
        for (id, spec) in routinesObj {
            let base = "routines.\(id)"
            if id.isEmpty || id.contains(".") { throw fail(base, "routine id must be non-empty and contain no '.'") }
            guard let o = spec.objectValue else { throw fail(base, "must be a mapping with a 'type', not \(spec.typeName)") }
            for k in o.keys where !["type", "class", "config", "error_handler", "task_timeout"].contains(k) {
                throw fail("\(base).\(k)", "unknown key (expected type, config, error_handler, task_timeout)")
            }
            let taskTimeout = try seconds(o["task_timeout"], path: "\(base).task_timeout", file: file)
            let typeKey = o["type"] != nil ? "type" : "class"
            guard let type = o[typeKey]?.stringValue, !type.isEmpty else {
                throw fail("\(base).type", "missing routine type")
            }
            var config = JSONObject()
            if let c = o["config"], c != .null {
                guard let co = c.objectValue else { throw fail("\(base).config", "must be a mapping, not \(c.typeName)") }
                config = co
            }
            var handler: ErrorPolicy?
            if let h = o["error_handler"], h != .null {
                handler = try ErrorPolicy.parse(h, path: "\(base).error_handler", file: file)
            }
            if let catalogue {
                do {
                    if !catalogue.knows(type) {
                        if !allowUnknownTypes {
                            throw fail("\(base).\(typeKey)", "unknown routine type '\(type)' (known: \(catalogue.typeNames.joined(separator: ", ")))")
                        }
                    } else if let ports = try catalogue.ports(of: type, config: config) {
                        portsById[id] = ports
                    }
                } catch let e as FlowValidationError {
                    throw e
                } catch let e as RoutineConfigError {
                    throw fail(e.key.map { "\(base).config.\($0)" } ?? "\(base).config", e.message)
                } catch {
                    throw fail("\(base).config", "\(error)")
                }
            }
            routines.append(RoutineNode(id: id, type: type, config: config, errorHandler: handler, taskTimeout: taskTimeout))
        }

        // Connections.
        var connections: [Connection] = []
        let connValue = top["connections"] ?? .null
        if connValue != .null {
            guard let arr = connValue.arrayValue else { throw fail("connections", "must be a list, not \(connValue.typeName)") }
            for (i, c) in arr.enumerated() {
                let base = "connections[\(i)]"
                guard let o = c.objectValue else { throw fail(base, "must be a mapping {from, to}") }
                for k in o.keys where !["from", "to", "param_mapping"].contains(k) {
                    throw fail("\(base).\(k)", "unknown key (expected from, to, param_mapping)")
                }
                let from = try endpoint(o["from"], path: "\(base).from", what: "event", file: file)
                let to = try endpoint(o["to"], path: "\(base).to", what: "slot", file: file)
                for (side, ep) in [("from", from), ("to", to)] where routinesObj[ep.0] == nil {
                    throw fail("\(base).\(side)", "unknown routine '\(ep.0)' (routines: \(routinesObj.keys.joined(separator: ", ")))")
                }
                var mapping = ParamMapping()
                if let m = o["param_mapping"], m != .null {
                    guard let mo = m.objectValue else { throw fail("\(base).param_mapping", "must be a mapping of event param to slot param") }
                    for (k, v) in mo {
                        guard let t = v.stringValue, !t.isEmpty else {
                            throw fail("\(base).param_mapping.\(k)", "target must be a non-empty string")
                        }
                        mapping.pairs.append((k, t))
                    }
                }
                connections.append(Connection(from: from, to: to, paramMapping: mapping))
            }
        }

        // Execution.
        var execution = ExecutionSettings()
        if let e = top["execution"], e != .null {
            guard let o = e.objectValue else { throw fail("execution", "must be a mapping") }
            for k in o.keys where !["strategy", "max_workers", "timeout", "task_timeout", "history"].contains(k) {
                throw fail("execution.\(k)", "unknown key (expected strategy, max_workers, timeout, task_timeout, history)")
            }
            var strategy: ExecutionSettings.Strategy?
            if let s = o["strategy"], s != .null {
                guard let str = s.stringValue, let st = ExecutionSettings.Strategy(rawValue: str) else {
                    throw fail("execution.strategy", "must be 'sequential' or 'concurrent', not \(s)")
                }
                strategy = st
            }
            var maxWorkers: Int?
            if let m = o["max_workers"], m != .null {
                guard let n = m.intValue, n >= 1 else { throw fail("execution.max_workers", "must be an integer >= 1, not \(m)") }
                maxWorkers = n
            }
            if strategy == .sequential, let n = maxWorkers, n > 1 {
                throw fail("execution.max_workers", "is \(n) but strategy 'sequential' runs one task at a time; use strategy 'concurrent'")
            }
            if strategy == nil, let n = maxWorkers, n > 1 { strategy = .concurrent }
            var timeout: Double?
            if let t = o["timeout"], t != .null {
                guard let d = t.doubleValue, d > 0 else { throw fail("execution.timeout", "must be a number of seconds > 0, not \(t)") }
                timeout = d
            }
            execution = ExecutionSettings(
                strategy: strategy ?? .sequential, maxWorkers: maxWorkers, timeout: timeout,
                taskTimeout: try seconds(o["task_timeout"], path: "execution.task_timeout", file: file))
            if let h = o["history"], h != .null {
                guard let history = ExecutionSettings.History(json: h) else {
                    throw fail("execution.history", "must be 'full', 'none' or a number of records from 1 to \(ExecutionSettings.History.maxRecords), not \(h)")
                }
                execution.history = history
            }
        }

        // Entry.
        var entry = EntryPoint(routine: routines[0].id)
        if let e = top["entry"], e != .null {
            if let s = e.stringValue {
                entry = EntryPoint(routine: s)
            } else if let o = e.objectValue {
                guard let r = o["routine"]?.stringValue else { throw fail("entry.routine", "missing the entry routine id") }
                entry = EntryPoint(routine: r, slot: o["slot"]?.stringValue ?? "trigger")
            } else {
                throw fail("entry", "must be a routine id or {routine, slot}")
            }
        }
        var flowHandler: ErrorPolicy?
        if let h = top["error_handler"], h != .null {
            flowHandler = try ErrorPolicy.parse(h, path: "error_handler", file: file)
        }
        let flow = FlowDefinition(
            flowId: flowId, routines: routines, connections: connections, execution: execution, entry: entry,
            errorHandler: flowHandler)
        try checkPorts(flow, portsById: portsById, file: file)
        return flow
    }

    /// Checks the flow's connections and entry against the routines' ports
    /// (`portsById`: the routines whose ports are known; others are not checked).
    public static func checkPorts(_ flow: FlowDefinition, portsById: [String: RoutinePorts], file: String?) throws(FlowValidationError) {
        for (i, c) in flow.connections.enumerated() {
            for (side, routine, port, kind) in [("from", c.sourceRoutine, c.sourceEvent, "event"), ("to", c.targetRoutine, c.targetSlot, "slot")] {
                guard let ports = portsById[routine], let names = kind == "event" ? ports.events : ports.slots else { continue }
                if !names.contains(port) {
                    throw FlowValidationError(
                        file: file, path: "connections[\(i)].\(side)",
                        message: "unknown \(kind) '\(port)' on routine '\(routine)' (\(kind)s: \(names.joined(separator: ", ")))")
                }
            }
        }
        try verifyEntry(flow, entry: flow.entry ?? EntryPoint(routine: flow.routines[0].id), portsById: portsById, file: file, path: "entry")
    }

    /// Sets another entry point (`--entry`, a submit's entry), checked against the
    /// flow and, when a catalogue is given, the entry routine's slots.
    public static func checkEntry(
        _ flow: inout FlowDefinition, entry: EntryPoint, catalogue: RoutineCatalogue, file: String?, path: String
    ) throws(FlowValidationError) {
        var ports: [String: RoutinePorts] = [:]
        if let node = flow.routine(entry.routine), let p = try? catalogue.ports(of: node.type, config: node.config) {
            ports[entry.routine] = p
        }
        try checkEntry(&flow, entry: entry, portsById: ports, file: file, path: path)
    }

    /// Checks an entry point against the flow (used for --entry overrides too) and sets it.
    public static func checkEntry(
        _ flow: inout FlowDefinition, entry: EntryPoint, portsById: [String: RoutinePorts], file: String?, path: String
    ) throws(FlowValidationError) {
        try verifyEntry(flow, entry: entry, portsById: portsById, file: file, path: path)
        flow.entry = entry
    }

    /// An entry point's routine is in the flow and, when its ports are known, has the slot.
    static func verifyEntry(
        _ flow: FlowDefinition, entry: EntryPoint, portsById: [String: RoutinePorts], file: String?, path: String
    ) throws(FlowValidationError) {
        guard flow.routine(entry.routine) != nil else {
            throw FlowValidationError(file: file, path: path, message: "unknown entry routine '\(entry.routine)' (routines: \(flow.routines.map(\.id).joined(separator: ", ")))")
        }
        if let slots = portsById[entry.routine]?.slots, !slots.contains(entry.slot) {
            throw FlowValidationError(file: file, path: path, message: "entry routine '\(entry.routine)' has no slot '\(entry.slot)' (slots: \(slots.joined(separator: ", ")))")
        }
    }

    static func endpoint(_ v: JSONValue?, path: String, what: String, file: String?) throws(FlowValidationError) -> (String, String) {
        guard let s = v?.stringValue else {
            throw FlowValidationError(file: file, path: path, message: "missing: expected \"routine.\(what)\"")
        }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw FlowValidationError(file: file, path: path, message: "'\(s)' must be \"routine.\(what)\" (two dot-separated parts)")
        }
        return (String(parts[0]), String(parts[1]))
    }
}

extension FlowLoader {
    /// A duration in seconds, >= 0 and at most a year (0: none); nil when absent.
    static func seconds(_ v: JSONValue?, path: String, file: String?) throws(FlowValidationError) -> Double? {
        guard let v, v != .null else { return nil }
        guard let d = v.doubleValue, d >= 0, d <= 31_536_000 else {
            throw FlowValidationError(file: file, path: path, message: "must be a number of seconds from 0 (no deadline) to 31536000, not \(v)")
        }
        return d
    }
}

extension FlowDefinition {
    /// The flow in routilux's DSL shape (the inverse of `FlowLoader.build`).
    public var dslJSON: JSONValue {
        var routinesObj = JSONObject()
        for r in routines {
            var o: JSONObject = ["type": .string(r.type)]
            if !r.config.isEmpty { o["config"] = .object(r.config) }
            if let h = r.errorHandler { o["error_handler"] = h.json }
            if let t = r.taskTimeout { o["task_timeout"] = .double(t) }
            routinesObj[r.id] = .object(o)
        }
        var conns: [JSONValue] = []
        for c in connections {
            var o: JSONObject = [
                "from": .string("\(c.sourceRoutine).\(c.sourceEvent)"),
                "to": .string("\(c.targetRoutine).\(c.targetSlot)"),
            ]
            if !c.paramMapping.isEmpty { o["param_mapping"] = c.paramMapping.json }
            conns.append(.object(o))
        }
        var exec: JSONObject = [
            "strategy": .string(execution.strategy.rawValue), "max_workers": .int(execution.maxWorkers),
        ]
        if let t = execution.timeout { exec["timeout"] = .double(t) }
        if let t = execution.taskTimeout { exec["task_timeout"] = .double(t) }
        if execution.history != .full { exec["history"] = execution.history.json }
        var top: JSONObject = [
            "flow_id": .string(flowId), "routines": .object(routinesObj), "connections": .array(conns),
            "execution": .object(exec),
        ]
        if let e = entry { top["entry"] = ["routine": .string(e.routine), "slot": .string(e.slot)] }
        if let h = errorHandler { top["error_handler"] = h.json }
        return .object(top)
    }
}
