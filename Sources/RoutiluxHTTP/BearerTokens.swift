import Foundation

/// The tokens the HTTP API lets in (`--http-tokens FILE`): one per line, `TOKEN [NAME] [read-only]`,
/// `#` comments and blank lines ignored. A token is at least 16 characters of `A-Za-z0-9._~+/=-`
/// (e.g. `openssl rand -hex 32`); a `read-only` token may read but not submit or steer jobs.
public struct BearerTokens: Sendable {
    public struct Holder: Sendable, Equatable {
        public var name: String
        public var readOnly: Bool
    }

    private var holders: [(token: [UInt8], holder: Holder)] = []

    public var count: Int { holders.count }

    public init(_ entries: [(token: String, holder: Holder)]) {
        holders = entries.map { (Array($0.token.utf8), $0.holder) }
    }

    /// Reads `file`; a bad line is an error naming the file and line.
    public static func load(_ file: String) throws -> BearerTokens {
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw TokenFileError(file: file, line: nil, message: "cannot read it: \(error.localizedDescription)")
        }
        return try parse(text, file: file)
    }

    public static func parse(_ text: String, file: String) throws -> BearerTokens {
        var entries: [(token: String, holder: Holder)] = []
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~+/=-")
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            let token = words[0]
            guard token.count >= 16, token.allSatisfy({ allowed.contains($0) }) else {
                throw TokenFileError(file: file, line: i + 1, message: "a token must be at least 16 characters of A-Z a-z 0-9 . _ ~ + / = - (e.g. `openssl rand -hex 32`)")
            }
            guard words.count <= 3, words.count < 3 || words[2] == "read-only" else {
                throw TokenFileError(file: file, line: i + 1, message: "expected `TOKEN [NAME] [read-only]`")
            }
            if entries.contains(where: { $0.token == token }) {
                throw TokenFileError(file: file, line: i + 1, message: "this token is already listed")
            }
            entries.append((token, Holder(name: words.count > 1 ? words[1] : "token-\(entries.count + 1)", readOnly: words.count == 3)))
        }
        guard !entries.isEmpty else { throw TokenFileError(file: file, line: nil, message: "no token in it (one per line: TOKEN [NAME] [read-only])") }
        return BearerTokens(entries)
    }

    /// Who holds `token` (nil: nobody). Every entry is compared in full, in constant time for a
    /// given length, so timing says nothing about how much of a token was right.
    public func holder(of token: String) -> Holder? {
        let given = Array(token.utf8)
        var found: Holder?
        for h in holders {
            var diff = UInt8(h.token.count == given.count ? 0 : 1)
            for i in 0..<h.token.count { diff |= h.token[i] ^ (i < given.count ? given[i] : 0) }
            if diff == 0 { found = h.holder }
        }
        return found
    }
}

/// A tokens file that cannot be used.
public struct TokenFileError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?
    public var message: String
    public var description: String { "--http-tokens \(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
}
