import Hummingbird
import RoutiluxCoordinator
import RoutiluxCore

extension CoordinatorAPI {
    /// Flows: the list, one flow's DSL document, its export as YAML or JSON, and validation of a document.
    func addFlowRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get { request, _ in
            try reader(request).onlyQuery([])
            let list = try await inspect { core, _ in core.flowList() }
            return JSONResponse.make(["flows": .array(list), "total": .int(list.count)])
        }
        group.get(":id") { request, context in
            try reader(request).onlyQuery([])
            let id = try context.parameters.require("id")
            guard let doc = try await inspect({ core, _ in core.flowDocument(id) }) else { throw APIError.notFound("flow", id, code: "FLOW_NOT_FOUND") }
            return JSONResponse.make(doc)
        }
        group.get(":id/dsl") { request, context in
            let r = reader(request)
            try r.onlyQuery(["format"])
            let id = try context.parameters.require("id")
            let format = r.query("format") ?? "yaml"
            guard format == "yaml" || format == "json" else { throw APIError.invalid("format must be yaml or json, not '\(format.prefix(20))'", field: "format") }
            guard let doc = try await inspect({ core, _ in core.flowDocument(id) }) else { throw APIError.notFound("flow", id, code: "FLOW_NOT_FOUND") }
            if format == "json" { return JSONResponse.make(doc) }
            return JSONResponse.text(try doc.yamlString(), contentType: "application/yaml; charset=utf-8")
        }
        group.post("validate") { request, _ in
            let body = try BodyFields(try await reader(request).jsonObject(), allowed: ["dsl", "dsl_dict"])
            let doc = try Self.flowDocument(body)
            let known = try await inspect { core, _ in core.knownTypes }
            do {
                let flow = try FlowLoader.build(doc, file: nil, defaultFlowId: "flow", catalogue: nil)
                let unknown = Set(flow.routines.map(\.type)).subtracting(known).sorted()
                let warnings: [JSONValue] = unknown.map { .string("routine type '\($0)' is not known here yet: jobs wait for a worker hosting it") }
                return JSONResponse.make([
                    "valid": true, "flow_id": .string(flow.flowId), "errors": [], "warnings": .array(warnings),
                ])
            } catch let error as FlowValidationError {
                return JSONResponse.make([
                    "valid": false, "errors": [["path": .string(error.path), "message": .string(error.message)]], "warnings": [],
                ])
            }
        }
    }

    /// The flow document of a body's `dsl` (YAML or JSON text) or `dsl_dict` (an object); nil if neither.
    static func flowDocument(_ body: BodyFields, required: Bool = true) throws -> JSONValue {
        if let text = try body.string("dsl", maxLength: 10 << 20) {
            do { return try FlowLoader.parseDocument(Array(text.utf8), isJSON: false, file: nil) } catch {
                throw APIError.invalid("dsl: \(error.message)", field: "dsl")
            }
        }
        if let dict = try body.object("dsl_dict") { return .object(dict) }
        throw APIError.invalid("give the flow as dsl (YAML or JSON text) or dsl_dict (an object)", field: "dsl")
    }
}
