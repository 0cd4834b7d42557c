import Testing

@testable import RoutiluxHTTP

/// The HTTP API's tokens file and address: what is accepted, and errors that name the line.
@Suite struct HTTPConfigTests {
    @Test func tokensFileLinesNamesAndReadOnly() throws {
        let t = try BearerTokens.parse("# comment\n\nabcdefghijklmnop0123 ops\n  0123456789abcdef-xyz  dash read-only\nzyxwvutsrqponmlk9876\n", file: "t")
        #expect(t.count == 3)
        #expect(t.holder(of: "abcdefghijklmnop0123") == .init(name: "ops", readOnly: false))
        #expect(t.holder(of: "0123456789abcdef-xyz") == .init(name: "dash", readOnly: true))
        #expect(t.holder(of: "zyxwvutsrqponmlk9876")?.name == "token-3")
        #expect(t.holder(of: "abcdefghijklmnop012") == nil, "a prefix of a token is not the token")
        #expect(t.holder(of: "abcdefghijklmnop01234") == nil, "nor is a longer string")
        #expect(t.holder(of: "") == nil)
    }

    @Test func badTokensFilesNameTheLine() {
        func message(_ text: String) -> String {
            do {
                _ = try BearerTokens.parse(text, file: "f")
                return "accepted"
            } catch { return "\(error)" }
        }
        #expect(message("short\n").hasPrefix("--http-tokens f:1: a token must be at least 16"))
        #expect(message("abcdefghijklmnop0123\nabcdefghijklmnop0123\n").hasPrefix("--http-tokens f:2: this token is already listed"))
        #expect(message("abcdefghijklmnop0123 name admin\n").contains("f:1: expected `TOKEN [NAME] [read-only]`"))
        #expect(message("abcdefghijklmnop01\u{e9}3\n").contains("f:1"))
        #expect(message("# only comments\n").contains("no token in it"))
    }

    @Test func addressesAndLoopback() throws {
        #expect(try HTTPServer.parseAddress("127.0.0.1:8080") == ("127.0.0.1", 8080))
        #expect(try HTTPServer.parseAddress("[::1]:0") == ("::1", 0))
        #expect(throws: HTTPAddressError.self) { try HTTPServer.parseAddress("8080") }
        #expect(throws: HTTPAddressError.self) { try HTTPServer.parseAddress("host:99999") }
        #expect(throws: HTTPAddressError.self) { try HTTPServer.parseAddress(":80") }
        #expect(HTTPServer.isLoopback("127.0.0.1") && HTTPServer.isLoopback("::1") && HTTPServer.isLoopback("localhost"))
        #expect(!HTTPServer.isLoopback("0.0.0.0") && !HTTPServer.isLoopback("10.0.0.1"))
    }
}
