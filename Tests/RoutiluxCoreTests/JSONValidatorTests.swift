import RoutiluxCore
import Testing

@Suite struct JSONValidatorTests {
    @Test(arguments: [
        "{}", "[]", "0", "-0.5e+3", "\"a\\u00e9\\n\"", "{\"a\":[1,2,{\"b\":null}],\"c\":true}", " [ 1 , false ] ", "\"é🙂\"",
    ])
    func acceptsJSON(_ text: String) {
        #expect(JSONValidator.isValid(Array(text.utf8)))
        #expect((try? JSONValue.parse(Array(text.utf8))) != nil)
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\"}", "01", "1.", "-", "tru", "\"abc", "\"\\x\"", "{} {}", "[1 2]", "{\"a\":1,}", "nul", "\"\u{01}\"",
    ])
    func refusesWhatIsNot(_ text: String) {
        #expect(!JSONValidator.isValid(Array(text.utf8)))
    }

    @Test func refusesBadUTF8AndDeepNesting() {
        #expect(!JSONValidator.isValid([0x22, 0xC3, 0x22]))  // a truncated sequence
        #expect(!JSONValidator.isValid([0x22, 0xED, 0xA0, 0x80, 0x22]))  // a surrogate, encoded
        #expect(!JSONValidator.isValid(Array(String(repeating: "[", count: 600).utf8) + Array(String(repeating: "]", count: 600).utf8)))
    }

    /// What the validator accepts, the parser reads (the journal relies on it).
    @Test func whatItAcceptsTheParserReads() {
        var g = SystemRandomNumberGenerator()
        let seed = Array(#"{"items":[{"i":1,"text":"hello \u00e9","x":[true,false,null,-1.5e3]}],"n":"é"}"#.utf8)
        let alphabet = Array("{}[]\":,.-+eE0123456789 \\untrfals".utf8)
        for _ in 0..<20_000 {
            var b = seed
            for _ in 0..<Int.random(in: 1...3, using: &g) {
                let at = Int.random(in: 0..<b.count, using: &g)
                switch Int.random(in: 0..<3, using: &g) {
                case 0: b[at] = alphabet.randomElement(using: &g)!
                case 1: b.remove(at: at)
                default: b.insert(alphabet.randomElement(using: &g)!, at: at)
                }
                if b.isEmpty { b = [0x30] }
            }
            if JSONValidator.isValid(b) {
                #expect((try? JSONValue.parse(b)) != nil, "accepted but does not parse: \(String(decoding: b, as: UTF8.self))")
            }
        }
    }
}
