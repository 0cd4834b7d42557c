import Foundation
import RoutiluxBuiltins
import RoutiluxCore
import Testing

@Suite struct ParamMappingTests {
    // routilux 0.10 §2.6, each example as the reference states it.
    @Test func theSourceKeyIsKeptAsWellAsTheRenamedOne() {
        let m = ParamMapping([("a", "b")])
        #expect(m.apply(to: ["a": 1, "c": 2]) == ["b": 1, "a": 1, "c": 2])
        #expect(Array(m.apply(to: ["a": 1, "c": 2]).keys) == ["b", "a", "c"])
    }

    @Test func aMappedValueWinsOverAnExistingKey() {
        #expect(ParamMapping([("a", "c")]).apply(to: ["a": 1, "c": 2]) == ["c": 1, "a": 1])
    }

    @Test func absentSourcesAddNothingAndIdentityPassesThrough() {
        #expect(ParamMapping([("zzz", "b")]).apply(to: ["a": 1]) == ["a": 1])
        #expect(ParamMapping([("x", "x")]).apply(to: ["x": 1, "y": 2]) == ["x": 1, "y": 2])
        #expect(ParamMapping().apply(to: ["q": true]) == ["q": true])
    }
}

@Suite struct JSONTests {
    @Test func parseAndSerializeRoundTripKeepingKeyOrderAndIntegers() throws {
        let text = #"{"z":1,"a":[true,false,null,1.5,-3,"é\n\"x\""],"m":{"k":9007199254740993}}"#
        let v = try JSONValue.parse(text)
        #expect(Array(v.objectValue!.keys) == ["z", "a", "m"])
        #expect(v["m"]["k"] == .int(9_007_199_254_740_993))
        #expect(try JSONValue.parse(v.serialized()) == v)
    }

    @Test func errorsSayWhere() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(#"{"a": }"#) }
        do { _ = try JSONValue.parse(#"{"a": 1,}"#) } catch { #expect(error.description.contains("byte")) }
        #expect(throws: JSONParseError.self) { try JSONValue.parse(#"{"a":1,"a":2}"#.utf8.map { $0 }, rejectDuplicateKeys: true) }
    }
}

@Suite struct TimestampTests {
    @Test func isoLikePythonAndBack() throws {
        let t = Timestamp(seconds: 1_764_000_000.123456)
        #expect(t.iso == "2025-11-24T16:00:00.123456")
        let back = try #require(Timestamp(iso: t.iso))
        #expect(abs(back.seconds - t.seconds) < 1e-6)
        #expect(Timestamp(iso: "2025-11-24T16:00:00+01:00")?.seconds == 1_763_996_400)
    }

    @Test func isoIsWrittenDigitByDigitLikeBefore() {
        #expect(Timestamp(seconds: 0).iso == "1970-01-01T00:00:00.000000")
        #expect(Timestamp(seconds: 1_000_000_000.000001).iso == "2001-09-09T01:46:40.000001")
        #expect(Timestamp(seconds: 253_402_300_799.5).iso == "9999-12-31T23:59:59.500000")
        #expect(Timestamp(seconds: -1).iso == "1969-12-31T23:59:59.000000")
        #expect(Timestamp(seconds: 253_402_300_800).iso.hasPrefix("10000-01-01T00:00:00"))
    }

    @Test func roundingCarriesIntoTheNextSecond() {
        #expect(Timestamp(seconds: 1_764_000_000.9999996).iso == "2025-11-24T16:00:01.000000")
    }
}

@Suite struct JobStateTests {
    @Test func serializesWithRoutiluxFieldNamesAndLoadsBack() throws {
        var s = JobState(flowId: "F", jobId: "J", now: Timestamp(seconds: 1_764_000_000))
        s.status = .running
        s.currentRoutineId = "src"
        s.record("src", "start", RawJSON(["x": 1]), at: Timestamp(seconds: 1_764_000_001))
        s.setRoutineState("src", ["status": "completed"], at: Timestamp(seconds: 1_764_000_002))
        s.sendOutput(routineId: "sink", outputType: "item", data: ["v": 2], at: Timestamp(seconds: 1_764_000_003))
        let json = s.json
        #expect(json["_type"] == "JobState")
        #expect(json["execution_history"].arrayValue?.first?["_type"] == "ExecutionRecord")
        for key in ["flow_id", "job_id", "status", "current_routine_id", "routine_states", "execution_history", "created_at",
                    "updated_at", "pause_points", "pending_tasks", "deferred_events", "shared_data", "shared_log", "output_log"] {
            #expect(json.objectValue?[key] != nil, "field \(key)")
        }
        let back = try JobState(json: try JSONValue.parse(json.serialized()))
        #expect(back == s)
    }

    @Test func refusesWhatIsNotAJobState() {
        #expect(throws: RoutineError.self) { try JobState(json: ["_type": "Flow"]) }
        #expect(throws: RoutineError.self) { try JobState(json: ["_type": "JobState", "flow_id": "f", "status": "weird"]) }
    }
}

@Suite struct FlowLoaderTests {
    let catalogue = Builtins.registry.catalogue

    func load(_ yaml: String) throws(FlowValidationError) -> FlowDefinition {
        let doc = try FlowLoader.parseDocument(Array(yaml.utf8), isJSON: false, file: "f.yaml")
        return try FlowLoader.build(doc, file: "f.yaml", defaultFlowId: "f", catalogue: catalogue)
    }

    @Test func readsTheDSLAndExportsItBack() throws {
        let flow = try load("""
            flow_id: demo
            routines:
              s: {class: Splitter, config: {field: items}}
              m: {type: DataTransformer, error_handler: {strategy: continue}}
            connections:
              - {from: s.item, to: m.input, param_mapping: {item: data}}
            execution: {strategy: concurrent, max_workers: 3, timeout: 10}
            entry: s
            """)
        #expect(flow.flowId == "demo")
        #expect(flow.routines.map(\.type) == ["Splitter", "DataTransformer"])
        #expect(flow.execution.maxWorkers == 3 && flow.execution.timeout == 10)
        #expect(flow.entry == EntryPoint(routine: "s", slot: "trigger"))
        #expect(flow.connections[0].paramMapping.pairs.map(\.target) == ["data"])
        let again = try FlowLoader.build(flow.dslJSON, file: nil, defaultFlowId: "x", catalogue: catalogue)
        #expect(again == flow)
    }

    @Test func sequentialMeansOneAtATime() throws {
        #expect(try load("routines: {a: {type: Splitter}}").execution.maxWorkers == 1)
        #expect(try load("routines: {a: {type: Splitter}}\nexecution: {strategy: concurrent}").execution.maxWorkers == 5)
    }

    @Test(arguments: [
        ("routines: {a: {type: Nope}}", "routines.a.type"),
        ("routines: {a: {type: Splitter}}\nconnections: [{from: a.item, to: b.input}]", "connections[0].to"),
        ("routines: {a: {type: Splitter}}\nconnections: [{from: a, to: a.input}]", "connections[0].from"),
        ("routines: {a: {type: Splitter}}\nexecution: {max_workers: 0}", "execution.max_workers"),
        ("routines: {a: {type: Splitter}}\nexecution: {timeout: -1}", "execution.timeout"),
        ("routines: {a: {type: Splitter}}\nextra: 1", "extra"),
        ("routines: {a: {type: Mapper, config: {mappings: {x: {transform: shout, path: y}}}}}", "routines.a.config.mappings.x.transform"),
        ("routines: {a: {type: Collector}}\nentry: {routine: zz}", "entry"),
    ])
    func errorsNameThePath(_ c: (String, String)) {
        do {
            _ = try load(c.0)
            Issue.record("\(c.0) loaded")
        } catch {
            #expect(error.path == c.1, "\(error)")
            #expect(error.file == "f.yaml")
        }
    }
}

@Suite struct BuiltinTests {
    func run(_ type: RoutineType, config: JSONObject = [:], slot: String = "input", _ data: JSONObject) async throws -> HandlerContext {
        let r = try type.make(config: config)
        let ctx = HandlerContext(jobId: "j", routineId: "r", slot: slot, config: config, events: Set(r.events))
        try await r.slotNamed(slot)!.handler!(data, ctx)
        return ctx
    }

    @Test func splitterEmitsOneItemPerElement() async throws {
        let ctx = try await run(splitterType, config: ["field": "items"], slot: "trigger", ["items": [10, 20]])
        #expect(ctx.emissions.map(\.event) == ["item", "item"])
        #expect(ctx.emissions[1].data == ["item": 20, "index": 1, "count": 2])
        let empty = try await run(splitterType, config: ["field": "items"], ["items": []])
        #expect(empty.emissions.map(\.event) == ["empty"])
    }

    @Test func mapperAddsAndTransformsFields() async throws {
        let ctx = try await run(mapperType, config: ["mappings": ["n": ["path": "text", "transform": "length"], "k": ["value": 1]]],
                                ["data": ["text": "hello"]])
        #expect(ctx.emissions[0].data["mapped_data"] == ["text": "hello", "n": 5, "k": 1])
        await #expect(throws: RoutineError.self) {
            _ = try await run(mapperType, config: ["mappings": ["n": ["path": "text", "transform": "int"]]], ["data": ["text": "x"]])
        }
    }

    @Test func collectorSendsOutput() async throws {
        let ctx = try await run(collectorType, config: ["output_type": "row"], ["data": ["a": 1]])
        #expect(ctx.outputs == [OutputRecord(outputType: "row", data: ["a": 1])])
    }

    @Test func aPayloadThatIsNotJSONIsARoutineError() async throws {
        let r = try splitterType.make(config: [:])
        let ctx = HandlerContext(jobId: "j", routineId: "r", slot: "input", config: [:], events: Set(r.events))
        do {
            try ctx.emit("item", ["x": ["y": .double(.nan)]])
            Issue.record("NaN accepted")
        } catch let e as RoutineError {
            #expect(e.message == "payload of event 'item' is not JSON-encodable: data.x.y is not a finite number")
            #expect(e.type == "TypeError")
        }
        struct Bad: Encodable { var v = Double.infinity }
        #expect(throws: RoutineError.self) { try ctx.emit("item", value: Bad()) }
        #expect(ctx.emissions.isEmpty)
    }

    @Test func anUndeclaredEventIsAnError() async throws {
        let r = try splitterType.make(config: [:])
        let ctx = HandlerContext(jobId: "j", routineId: "r", slot: "input", config: [:], events: Set(r.events))
        #expect(throws: RoutineError.self) { try ctx.emit("nope", [:]) }
    }
}

@Suite struct MergeStrategyTests {
    func merge(_ m: MergeStrategy, _ state: JSONObject, _ new: JSONObject) throws -> (JSONObject, JSONObject) {
        var s = state
        let sum: MergeFunction = { old, new in ["total": .int((old["total"]?.intValue ?? 0) + (new["n"]?.intValue ?? 0))] }
        let out = try m.merge(state: &s, new: new, custom: { name in name == "sum" ? sum : nil })
        return (out, s)
    }

    // routilux 0.10 §2.7, its documented examples.
    @Test func overrideHandsOverExactlyTheNewData() throws {
        let (out, state) = try merge(.override, ["a": 1, "b": 2], ["a": 10, "c": 3])
        #expect(out == ["a": 10, "c": 3])
        #expect(state == ["a": 10, "c": 3])
    }

    @Test func appendAccumulatesListsAndHandsOverOnlyThisDeliverysKeys() throws {
        let (out1, s1) = try merge(.append, [:], ["a": 1, "b": "x"])
        #expect(out1 == ["a": [1], "b": ["x"]])
        let (out2, s2) = try merge(.append, s1, ["a": 2])
        #expect(out2 == ["a": [1, 2]], "only the keys present in this delivery")
        #expect(s2 == ["a": [1, 2], "b": ["x"]])
        #expect(try merge(.append, ["key": [1, 2]], ["key": 3]).0 == ["key": [1, 2, 3]])
        #expect(try merge(.append, ["key": "string"], ["key": "new"]).0 == ["key": ["string", "new"]], "a scalar is wrapped")
        #expect(try merge(.append, ["k": [1]], ["k": [2, 3]]).0 == ["k": [1, [2, 3]]], "a list value is one element")
        #expect(try merge(.append, ["k": [1]], [:]).0 == [:])
        #expect(try merge(.append, [:], ["k": nil]).0 == ["k": [nil]])
    }

    @Test func customMergesAreLookedUpByName() throws {
        let (out, state) = try merge(.custom("sum"), ["total": 5], ["n": 2])
        #expect(out == ["total": 7] && state == ["total": 7])
        #expect(throws: RoutineError.self) { try merge(.custom("nope"), [:], [:]) }
    }
}

@Suite struct FlowExportTests {
    /// Two routines with the same event and slot names (routilux 0.10 relinks
    /// these to the wrong routines, §9.1), error handlers, and strings YAML
    /// would misread unquoted.
    let source = """
        flow_id: twins
        routines:
          a: {type: Splitter, config: {field: items}}
          b: {type: Splitter, config: {field: "true"}}
          s1: {type: Collector, config: {output_type: "12"}, error_handler: {strategy: retry, max_retries: 2, retry_delay: 0.5, retryable_errors: [TimeoutError]}}
          s2: {type: Collector, config: {output_type: ""}}
        connections:
          - {from: a.item, to: s1.input, param_mapping: {item: data}}
          - {from: b.item, to: s2.input}
        execution: {strategy: concurrent, max_workers: 3, timeout: 7.5}
        entry: {routine: b}
        error_handler: {strategy: continue}
        """

    @Test(arguments: ["yaml", "json"])
    func exportLoadsBackToTheSameFlowRelinkedById(_ format: String) throws {
        let catalogue = Builtins.registry.catalogue
        let flow = try FlowLoader.build(
            FlowLoader.parseDocument(Array(source.utf8), isJSON: false, file: nil), file: nil, defaultFlowId: "x", catalogue: catalogue)
        let text = format == "yaml" ? try flow.dslJSON.yamlString() : flow.dslJSON.jsonString(pretty: true)
        let again = try FlowLoader.build(
            FlowLoader.parseDocument(Array(text.utf8), isJSON: format == "json", file: nil), file: nil, defaultFlowId: "x", catalogue: catalogue)
        #expect(again == flow)
        #expect(again.targets(of: "b", event: "item").map(\.targetRoutine) == ["s2"])
        #expect(again.routine("b")?.config["field"] == "true")
        #expect(again.routine("s1")?.config["output_type"] == "12")
        #expect(again.routine("s1")?.errorHandler == ErrorPolicy(strategy: .retry, maxRetries: 2, retryDelay: 0.5, retryableErrors: ["TimeoutError"]))
        #expect(again.errorHandler?.strategy == .continue)
    }
}

@Suite struct OutputLogTests {
    @Test func theOutputLogReadsBackInRoutiluxShape() throws {
        var s = JobState(flowId: "f", jobId: "j")
        s.sendOutput(routineId: "sink", outputType: "collected", raw: RawJSON(bytes: Array(#"{"i": 1}"#.utf8)), at: Timestamp(seconds: 1))
        s.sendOutput(routineId: "sink", outputType: "n", data: 7, at: Timestamp(seconds: 2))
        #expect(s.outputLog.map { $0["output_type"].stringValue } == ["collected", "n"])
        #expect(s.outputLog[0]["data"]["i"] == 1)
        #expect(s.outputLog[0]["routine_id"] == "sink")
        #expect(s.outputLog[1]["timestamp"] == "1970-01-01T00:00:02.000000")
        let back = try JobState(json: s.json)
        #expect(back.outputLog == s.outputLog)
    }
}
