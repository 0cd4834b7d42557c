import RoutiluxCore
import Testing

@Suite struct ExpressionTests {
    let data: JSONValue = [
        "score": 0.7, "kind": "b", "tags": [], "items": [1, 2, 3], "name": "alpha", "flag": false,
        "nested": ["deep": ["x": 5]], "odd key": "x",
    ]
    let config: JSONValue = ["min_items": 2, "kinds": ["a", "b"]]

    func t(_ e: String) throws -> Bool { try Expression(e).isTrue(data: data, config: config) }

    @Test func comparisonsAndLogic() throws {
        #expect(try t("data.score >= 0.5 and data.kind in ['a', 'b']"))
        #expect(try t("data.score > 0.5 && data.kind == \"b\""))
        #expect(try !t("data.score < 0.5 || data.kind != 'b'"))
        #expect(try t("not data.tags"))
        #expect(try t("!data.flag"))
        #expect(try t("len(data.items) > config.min_items"))
        #expect(try t("data.kind in config.kinds"))
        #expect(try t("data.kind not in ['x']"))
        #expect(try t("'ph' in data.name"))
        #expect(try t("data.nested.deep.x == 5"))
        #expect(try t("data[\"odd key\"] == 'x'"))
        #expect(try t("data.items[-1] == 3 and data.items[0] == 1.0"))
        #expect(try t("(data.score > 1 or data.score < 1) and true"))
        #expect(try t("data.missing == null and not data.missing.deeper"))
        #expect(try !t("data.name > 3"), "mismatched types do not order")
        #expect(try t("True and not None"))
    }

    @Test(arguments: [
        ("", 1, "empty"),
        ("data.a ==", 10, "ends where a value is expected"),
        ("data.a = 1", 8, "unexpected '='"),
        ("import os", 1, "unknown name 'import'"),
        ("__import__('os')", 1, "unknown name '__import__'"),
        ("len data", 5, "expected '(' after len"),
        ("data.a == 'open", 11, "unterminated string"),
        ("(data.a", 8, "expected ')'"),
    ])
    func syntaxErrorsSayWhere(_ c: (String, Int, String)) {
        do {
            _ = try Expression(c.0)
            Issue.record("'\(c.0)' parsed")
        } catch {
            #expect(error.position == c.1, "'\(c.0)': \(error)")
            #expect(error.message.contains(c.2), "'\(c.0)': \(error)")
        }
    }
}
