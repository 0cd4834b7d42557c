import RoutiluxBuiltins
import RoutiluxCore
import Testing

/// The builtins on the original's documented examples. Expected values were
/// produced by Python routilux 0.10.0 where the routine exists there.
@Suite struct BuiltinExampleTests {
    /// `run(type, data)` or `run(type, config, data)`.
    func run(_ type: RoutineType, _ first: JSONObject, slot: String = "input", _ second: JSONObject? = nil) async throws -> [Emission] {
        let config = second == nil ? [:] : first
        let data = second ?? first
        let r = try type.make(config: config)
        let ctx = HandlerContext(jobId: "j", routineId: "r", slot: slot, config: config, events: Set(r.events))
        try await r.slotNamed(slot)!.handler!(data, ctx)
        return ctx.emissions
    }

    @Test func dataFlattener() async throws {
        let e = try await run(dataFlattenerType, ["data": ["a": ["b": 1, "c": [2, 3]]]])
        #expect(e[0].data == ["flattened_data": ["a.b": 1, "a.c.0": 2, "a.c.1": 3], "original_type": "dict", "depth": 3])
        let scalar = try await run(dataFlattenerType, ["data": 42])
        #expect(scalar[0].data == ["flattened_data": ["value": 42], "original_type": "int", "depth": 0])
        let shared = try await run(dataFlattenerType, ["preserve_lists": false, "separator": "/"], ["data": ["a": [1, 2]]])
        #expect(shared[0].data["flattened_data"] == ["a": 2])
    }

    @Test func textClipper() async throws {
        let e = try await run(textClipperType, ["max_length": 20], ["text": "line one\nline two\nline three\nline four"])
        #expect(e[0].data == ["clipped_text": "line one\nline two\n...(省略了2行)", "was_clipped": true, "original_length": 38])
        let short = try await run(textClipperType, ["text": "short"])
        #expect(short[0].data == ["clipped_text": "short", "was_clipped": false, "original_length": 5])
        let tb = try await run(textClipperType, ["max_length": 5], ["text": "Traceback (most recent call last):\n  x"])
        #expect(tb[0].data["was_clipped"] == false)
    }

    @Test func textRenderer() async throws {
        #expect(try await run(textRendererType, ["data": ["name": "test", "value": 42]])[0].data
            == ["rendered_text": "<name>test</name>\n<value>42</value>", "original_type": "dict"])
        #expect(try await run(textRendererType, ["data": ["a": ["b": 1]]])[0].data["rendered_text"] == "<a>  <b>1</b></a>")
        #expect(try await run(textRendererType, ["tag_format": "markdown"], ["data": ["a": ["b": 1], "l": [1, 2]]])[0].data["rendered_text"]
            == "**a**:   **b**: 1\n**l**:   - 1\n  - 2")
        #expect(try await run(textRendererType, ["data": "test"])[0].data["rendered_text"] == "test")
    }

    @Test func dataTransformer() async throws {
        let e = try await run(dataTransformerType, ["transformations": ["strip_whitespace", "uppercase", "nope"]], ["data": "  hi  "])
        #expect(e[0].data == ["transformed_data": "HI", "transformation_applied": ["strip_whitespace", "uppercase"], "errors": ["Unknown transformation: nope"]])
        let n = try await run(dataTransformerType, ["data": "42", "transformations": ["to_int"]])
        #expect(n[0].data == ["transformed_data": 42, "transformation_applied": ["to_int"], "errors": nil])
        let bad = try await run(dataTransformerType, ["transformations": ["to_int"]], ["data": "x"])
        #expect(bad[0].data["errors"] == ["Error applying to_int: invalid literal for int() with base 10: 'x'"])
        let clean = try await run(dataTransformerType, ["transformations": ["remove_none"]], ["data": ["a": 1, "b": nil]])
        #expect(clean[0].data["transformed_data"] == ["a": 1])
    }

    @Test func dataValidator() async throws {
        let config: JSONObject = ["rules": ["age": "is_int", "name": "not_empty"], "required_fields": ["name", "email"]]
        let e = try await run(dataValidatorType, config, ["data": ["age": "x", "name": ""]])
        #expect(e[0].event == "invalid")
        #expect(e[0].data == [
            "errors": ["Required field 'email' is missing", "Field 'age' failed validation", "Field 'name' failed validation"],
            "data": ["age": "x", "name": ""],
        ])
        let ok = try await run(dataValidatorType, config, ["data": ["age": 3, "name": "n", "email": "e"]])
        #expect(ok[0].event == "valid")
        // Fixed: a boolean is not an int; strict mode stops at the first error.
        let strict = try await run(dataValidatorType, ["rules": ["a": "is_int", "b": "is_int"], "strict_mode": true], ["data": ["a": true, "b": "x"]])
        #expect(strict[0].data["errors"] == ["Field 'a' failed validation"])
        // Expression rules see the field's value as `data`.
        let expr = try await run(dataValidatorType, ["rules": ["items": "data > 0 and data < 10"]], ["data": [1, 20]])
        #expect(expr[0].data["errors"] == ["Field 'items[1]' failed validation"])
        #expect(throws: RoutineConfigError.self) { try dataValidatorType.make(config: ["rules": ["a": "is_integer("]]) }
    }

    @Test func conditionalRouter() async throws {
        let config: JSONObject = [
            "routes": [["high", "data.score >= 0.8"], ["mid", "data.score >= 0.5"], ["vip", ["tier": "gold"]]],
            "route_priority": "first_match",
        ]
        #expect(try conditionalRouterType.make(config: config).events == ["output", "high", "mid", "vip"])
        let hi = try await run(conditionalRouterType, config, ["data": ["score": 0.9, "tier": "gold"]])
        #expect(hi.map(\.event) == ["high"])
        #expect(hi[0].data == ["data": ["score": 0.9, "tier": "gold"], "route": "high"])
        var all = config
        all["route_priority"] = "all_matches"
        #expect(try await run(conditionalRouterType, all, ["data": ["score": 0.9, "tier": "gold"]]).map(\.event) == ["high", "mid", "vip"])
        let none = try await run(conditionalRouterType, config, ["data": ["score": 0.1]])
        #expect(none[0].event == "output" && none[0].data["route"] == "unmatched")
        var withDefault = config
        withDefault["default_route"] = "low"
        #expect(try await run(conditionalRouterType, withDefault, ["data": ["score": 0.1]])[0].event == "low")
        do {
            _ = try conditionalRouterType.make(config: ["routes": [["x", "data.a >"]]])
            Issue.record("accepted a bad condition")
        } catch let e as RoutineConfigError {
            #expect(e.key == "routes[0].condition")
            #expect(e.message.contains("position 9"))
        }
    }

    @Test func filter() async throws {
        let e = try await run(filterType, ["condition": "data.n > 1"], ["data": ["n": 2]])
        #expect(e[0].event == "passed" && e[0].data == ["data": ["n": 2]])
        let r = try await run(filterType, ["condition": "data.n > 1"], ["data": ["n": 0]])
        #expect(r[0].event == "rejected" && r[0].data["reason"] == "condition 'data.n > 1' is false")
        #expect(try await run(filterType, ["condition": ["a", "b"]], ["data": "b"])[0].event == "passed")
        #expect(try await run(filterType, ["condition": ["kind": "x"], "invert": true], ["data": ["kind": "x"]])[0].event == "rejected")
    }

    @Test func timeProvider() async throws {
        let e = try await run(timeProviderType, ["format": "custom", "custom_format": "%Y"], slot: "request", [:])
        #expect(e[0].data["time_string"]?.stringValue?.count == 4)
        #expect(e[0].data["timestamp"]?.doubleValue ?? 0 > 1_700_000_000)
        let zh = try await run(timeProviderType, ["format": "formatted"], slot: "request", [:])
        #expect(zh[0].data["time_string"]?.stringValue?.contains("星期") == true)
    }

    @Test func schemaValidator() async throws {
        let schema: JSONValue = [
            "type": "object", "required": ["id", "tags"], "additionalProperties": false,
            "properties": [
                "id": ["type": "integer", "minimum": 1],
                "name": ["type": "string", "minLength": 2, "pattern": "^[a-z]+$"],
                "tags": ["type": "array", "items": ["enum": ["a", "b"]], "uniqueItems": true],
                "score": ["anyOf": [["type": "number", "maximum": 1], ["type": "null"]]],
            ],
        ]
        let ok = try await run(schemaValidatorType, ["schema": schema], ["data": ["id": 3, "name": "abc", "tags": ["a"], "score": nil]])
        #expect(ok[0].event == "valid" && ok[0].data["schema_type"] == "json_schema")
        let bad = try await run(schemaValidatorType, ["schema": schema], ["data": ["id": 0, "name": "A", "tags": ["c", "c"], "x": 1, "score": 2]])
        #expect(bad[0].event == "invalid")
        let errs = Set(bad[0].data["errors"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        #expect(errs == [
            "$: property 'x' is not allowed", "$.id: must be >= 1", "$.name: must be at least 2 characters",
            "$.name: must match \"^[a-z]+$\"", "$.tags: items must be unique", "$.tags[0]: must be one of [\"a\",\"b\"]",
            "$.tags[1]: must be one of [\"a\",\"b\"]", "$.score: matches none of anyOf",
        ])
        let coerced = try await run(schemaValidatorType, ["schema": schema, "coerce_types": true], ["data": ["id": "7", "tags": []]])
        #expect(coerced[0].event == "valid" && coerced[0].data["validated_data"] == ["id": 7, "tags": []])
        let strict = try await run(schemaValidatorType, ["schema": schema, "strict_mode": true], ["data": [:]])
        #expect(strict[0].data["errors"]?.arrayValue?.count == 1)
        do {
            _ = try schemaValidatorType.make(config: ["schema": ["properties": ["a": ["format": "email"]]]])
            Issue.record("an unsupported keyword was accepted")
        } catch let e as RoutineConfigError {
            #expect(e.key == "schema.properties.a.format")
            #expect(e.message.contains("unsupported keyword"))
        }
    }

    /// Outputs compared with Python routilux 0.10.0's on the same inputs.
    @Test func resultExtractor() async throws {
        func one(_ data: JSONValue, config: JSONObject = [:]) async throws -> JSONObject {
            try await run(resultExtractorType, config.isEmpty ? ["data": data] : config, config.isEmpty ? nil : ["data": data])[0].data
        }
        func close(_ v: JSONValue?, _ x: Double) -> Bool { abs((v?.doubleValue ?? -1) - x) < 1e-9 }
        var o = try await one(.string("Here:\n```json\n{\"a\": 1}\n```\nand\n```json\n{\"b\": 2}\n```"))
        #expect(o["extracted_result"] == ["b": 2] && o["format"] == "json" && close(o["confidence"], 0.9))
        #expect(o["metadata"] == ["extraction_method": "json_code_block", "block_count": 2, "block_index": 1, "extractor": "json_code_block", "strategy": "auto"])
        #expect(o["extraction_path"] == ["json_code_block"])
        o = try await one(.string("{\"x\": [1,2]}"))
        #expect(o["extracted_result"] == ["x": [1, 2]] && o["metadata"]?["extraction_method"] == "json_string" && close(o["confidence"], 0.8))
        o = try await one(.string("print it\n```python\nprint(1)\n```"))
        #expect(o["extracted_result"] == "print(1)\n" && o["format"] == "python" && close(o["confidence"], 0.6))
        #expect(o["metadata"] == ["extraction_method": "python_code_block", "block_count": 1, "extractor": "code_block", "strategy": "auto"])
        o = try await one([["format": "output", "content": "line1"], ["format": "code", "content": "x=1"], "plain"])
        #expect(o["extracted_result"] == "line1\nplain" && o["format"] == "interpreter_output" && close(o["confidence"], 0.5))
        #expect(o["metadata"]?["output_count"] == 2 && o["metadata"]?["line_count"] == 2)
        o = try await one(["k": 1])
        #expect(o["format"] == "dict" && close(o["confidence"], 0.7) && o["extraction_path"] == ["dict_extractor"])
        o = try await one([1, 2])
        #expect(o["format"] == "list" && o["metadata"]?["item_count"] == 2)
        o = try await one("just text")
        #expect(o == ["extracted_result": "just text", "format": "str", "metadata": ["extraction_method": "none", "errors": [], "original_type": "str"], "confidence": 0.0, "extraction_path": []])
        o = try await one(.string("```json\n{\"a\": 1}\n```"), config: ["strategy": "all"])
        #expect(o["format"] == "multi" && o["extracted_result"] == [["a": 1]] && o["metadata"]?["count"] == 1)
        o = try await one(.string("```json\nnot json\n```"))
        #expect(o["metadata"]?["extraction_method"] == "none")
    }
}
