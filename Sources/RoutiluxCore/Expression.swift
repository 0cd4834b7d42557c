/// A small, safe condition language over `data` and `config`, for routers,
/// filters and validators. It never evaluates code.
///
///     data.score >= 0.5 and data.kind in ["a", "b"]
///     not data.tags or len(data.items) > config.min_items
///     data["odd key"] == 'x' || !data.flag
///
/// Values: numbers, 'strings' or "strings", true/false/null (also True/False/None),
/// lists `[...]`, field paths `data.a.b`, `data["k"]`, `data.items[0]`, `config.x`.
/// Operators: `== != < <= > >=`, `in`, `not in`, `and`/`&&`, `or`/`||`, `not`/`!`,
/// parentheses, and `len(x)`. A missing field is null; comparisons between
/// values of different types are false (ordering) or unequal; truthiness is
/// Python's (empty string, list, object, 0, null and false are false).
public struct Expression: Sendable, Hashable, CustomStringConvertible {
    public let source: String
    let root: Node

    indirect enum Node: Sendable, Hashable {
        case literal(JSONValue)
        case path(root: String, steps: [Step])
        case list([Node])
        case not(Node)
        case and(Node, Node)
        case or(Node, Node)
        case compare(Node, Op, Node)
        case len(Node)
    }

    enum Step: Sendable, Hashable {
        case key(String)
        case index(Node)
    }

    enum Op: String, Sendable, Hashable {
        case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=", isIn = "in", notIn = "not in"
    }

    /// A syntax error, with the 1-based character position.
    public struct ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        public var position: Int
        public var message: String
        public var description: String { "position \(position): \(message)" }
    }

    public init(_ source: String) throws(ParseError) {
        self.source = source
        var p = Parser(Array(source.unicodeScalars))
        root = try p.parseAll()
    }

    public var description: String { source }

    /// The top-level `config` keys the expression reads (`config.k`, `config["k"]`);
    /// nil when it reads `config` as a whole or by a computed key.
    public var configKeys: Set<String>? {
        var keys: Set<String> = []
        var dynamic = false
        func walk(_ n: Node) {
            switch n {
            case .literal: break
            case .list(let items): items.forEach(walk)
            case .not(let x), .len(let x): walk(x)
            case .and(let a, let b), .or(let a, let b), .compare(let a, _, let b):
                walk(a)
                walk(b)
            case .path(let root, let steps):
                for case .index(let e) in steps { walk(e) }
                guard root == "config" else { return }
                switch steps.first {
                case .key(let k)?: keys.insert(k)
                case .index(.literal(.string(let k)))?: keys.insert(k)
                default: dynamic = true
                }
            }
        }
        walk(root)
        return dynamic ? nil : keys
    }

    /// Evaluates to a JSON value.
    public func value(data: JSONValue, config: JSONValue = .object([:])) -> JSONValue {
        Self.eval(root, data: data, config: config)
    }

    /// Evaluates as a condition (Python truthiness).
    public func isTrue(data: JSONValue, config: JSONValue = .object([:])) -> Bool {
        Self.truthy(value(data: data, config: config))
    }

    // MARK: - Evaluation

    static func truthy(_ v: JSONValue) -> Bool {
        switch v {
        case .null: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .object(let o): return !o.isEmpty
        }
    }

    static func eval(_ n: Node, data: JSONValue, config: JSONValue) -> JSONValue {
        switch n {
        case .literal(let v): return v
        case .list(let items): return .array(items.map { eval($0, data: data, config: config) })
        case .not(let x): return .bool(!truthy(eval(x, data: data, config: config)))
        case .and(let a, let b):
            let l = eval(a, data: data, config: config)
            return truthy(l) ? eval(b, data: data, config: config) : l
        case .or(let a, let b):
            let l = eval(a, data: data, config: config)
            return truthy(l) ? l : eval(b, data: data, config: config)
        case .len(let x):
            switch eval(x, data: data, config: config) {
            case .string(let s): return .int(s.count)
            case .array(let a): return .int(a.count)
            case .object(let o): return .int(o.count)
            default: return .null
            }
        case .path(let root, let steps):
            var cur = root == "data" ? data : config
            for s in steps {
                switch s {
                case .key(let k): cur = cur.objectValue?[k] ?? .null
                case .index(let e):
                    let i = eval(e, data: data, config: config)
                    if let k = i.stringValue { cur = cur.objectValue?[k] ?? .null } else if let idx = i.intValue, let a = cur.arrayValue {
                        let j = idx < 0 ? a.count + idx : idx
                        cur = j >= 0 && j < a.count ? a[j] : .null
                    } else {
                        cur = .null
                    }
                }
            }
            return cur
        case .compare(let a, let op, let b):
            let l = eval(a, data: data, config: config)
            let r = eval(b, data: data, config: config)
            switch op {
            case .eq: return .bool(equal(l, r))
            case .ne: return .bool(!equal(l, r))
            case .isIn, .notIn:
                let found: Bool
                switch r {
                case .array(let items): found = items.contains { equal($0, l) }
                case .string(let s): found = l.stringValue.map { s.contains($0) } ?? false
                case .object(let o): found = l.stringValue.map { o[$0] != nil } ?? false
                default: found = false
                }
                return .bool(op == .isIn ? found : !found)
            case .lt, .le, .gt, .ge:
                guard let c = compare(l, r) else { return .bool(false) }
                switch op {
                case .lt: return .bool(c < 0)
                case .le: return .bool(c <= 0)
                case .gt: return .bool(c > 0)
                default: return .bool(c >= 0)
                }
            }
        }
    }

    /// JSON equality with 1 == 1.0 (booleans are not numbers).
    public static func equalValues(_ a: JSONValue, _ b: JSONValue) -> Bool { equal(a, b) }

    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = a.doubleValue, let y = b.doubleValue, a.boolValue == nil, b.boolValue == nil { return x == y }
        return a == b
    }

    static func compare(_ a: JSONValue, _ b: JSONValue) -> Int? {
        if a.boolValue == nil, b.boolValue == nil, let x = a.doubleValue, let y = b.doubleValue { return x < y ? -1 : (x > y ? 1 : 0) }
        if let x = a.stringValue, let y = b.stringValue { return x < y ? -1 : (x > y ? 1 : 0) }
        return nil
    }

    // MARK: - Parsing

    struct Parser {
        let s: [Unicode.Scalar]
        var i = 0
        init(_ s: [Unicode.Scalar]) { self.s = s }

        func fail(_ message: String, at pos: Int? = nil) -> ParseError {
            ParseError(position: (pos ?? i) + 1, message: message)
        }

        mutating func skip() { while i < s.count, s[i].properties.isWhitespace { i += 1 } }

        mutating func parseAll() throws(ParseError) -> Node {
            skip()
            if i == s.count { throw fail("the expression is empty") }
            let n = try parseOr()
            skip()
            if i < s.count { throw fail("unexpected '\(s[i])'") }
            return n
        }

        /// Consumes `word` when it stands alone (not part of a longer name).
        mutating func keyword(_ word: String) -> Bool {
            skip()
            let w = Array(word.unicodeScalars)
            guard i + w.count <= s.count, Array(s[i..<i + w.count]) == w else { return false }
            if i + w.count < s.count, isNameChar(s[i + w.count]) { return false }
            i += w.count
            return true
        }

        mutating func symbol(_ sym: String) -> Bool {
            skip()
            let w = Array(sym.unicodeScalars)
            guard i + w.count <= s.count, Array(s[i..<i + w.count]) == w else { return false }
            i += w.count
            return true
        }

        func isNameChar(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic || c == "_" || ("0"..."9").contains(c) }

        mutating func parseOr() throws(ParseError) -> Node {
            var n = try parseAnd()
            while keyword("or") || symbol("||") { n = .or(n, try parseAnd()) }
            return n
        }

        mutating func parseAnd() throws(ParseError) -> Node {
            var n = try parseNot()
            while keyword("and") || symbol("&&") { n = .and(n, try parseNot()) }
            return n
        }

        mutating func parseNot() throws(ParseError) -> Node {
            skip()
            if i + 1 < s.count, s[i] == "!", s[i + 1] != "=" {
                i += 1
                return .not(try parseNot())
            }
            let save = i
            if keyword("not") {
                if keyword("in") { i = save } else { return .not(try parseNot()) }
            }
            return try parseComparison()
        }

        mutating func parseComparison() throws(ParseError) -> Node {
            let left = try parsePrimary()
            for op in [Op.eq, .ne, .le, .ge, .lt, .gt] where symbol(op.rawValue) {
                return .compare(left, op, try parsePrimary())
            }
            if keyword("in") { return .compare(left, .isIn, try parsePrimary()) }
            let save = i
            if keyword("not") {
                if keyword("in") { return .compare(left, .notIn, try parsePrimary()) }
                i = save
            }
            return left
        }

        mutating func parsePrimary() throws(ParseError) -> Node {
            skip()
            guard i < s.count else { throw fail("the expression ends where a value is expected") }
            let c = s[i]
            if c == "(" {
                i += 1
                let n = try parseOr()
                guard symbol(")") else { throw fail("expected ')'") }
                return n
            }
            if c == "[" {
                i += 1
                var items: [Node] = []
                if symbol("]") { return .list(items) }
                repeat { items.append(try parseOr()) } while symbol(",")
                guard symbol("]") else { throw fail("expected ']' or ','") }
                return .list(items)
            }
            if c == "'" || c == "\"" { return .literal(.string(try parseString())) }
            if ("0"..."9").contains(c) || (c == "-" && i + 1 < s.count && ("0"..."9").contains(s[i + 1])) { return .literal(try parseNumber()) }
            guard c.properties.isAlphabetic || c == "_" else { throw fail("unexpected '\(c)'") }
            let start = i
            while i < s.count, isNameChar(s[i]) { i += 1 }
            let name = String(String.UnicodeScalarView(s[start..<i]))
            switch name {
            case "true", "True": return .literal(true)
            case "false", "False": return .literal(false)
            case "null", "None": return .literal(.null)
            case "len":
                guard symbol("(") else { throw fail("expected '(' after len") }
                let arg = try parseOr()
                guard symbol(")") else { throw fail("expected ')' to close len(") }
                return .len(arg)
            case "data", "config": return .path(root: name, steps: try parseSteps())
            default:
                throw fail("unknown name '\(name)' (use data.\(name), config.\(name), len(...), true, false or null)", at: start)
            }
        }

        mutating func parseSteps() throws(ParseError) -> [Step] {
            var steps: [Step] = []
            while i < s.count {
                if s[i] == "." {
                    i += 1
                    let start = i
                    while i < s.count, isNameChar(s[i]) { i += 1 }
                    guard i > start else { throw fail("expected a field name after '.'") }
                    steps.append(.key(String(String.UnicodeScalarView(s[start..<i]))))
                } else if s[i] == "[" {
                    i += 1
                    let e = try parseOr()
                    guard symbol("]") else { throw fail("expected ']'") }
                    steps.append(.index(e))
                } else {
                    break
                }
            }
            return steps
        }

        mutating func parseString() throws(ParseError) -> String {
            let quote = s[i]
            let start = i
            i += 1
            var out = String.UnicodeScalarView()
            while i < s.count, s[i] != quote {
                if s[i] == "\\", i + 1 < s.count {
                    i += 1
                    switch s[i] {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    default: out.append(s[i])
                    }
                } else {
                    out.append(s[i])
                }
                i += 1
            }
            guard i < s.count else { throw fail("unterminated string", at: start) }
            i += 1
            return String(out)
        }

        mutating func parseNumber() throws(ParseError) -> JSONValue {
            let start = i
            if s[i] == "-" { i += 1 }
            while i < s.count, ("0"..."9").contains(s[i]) || s[i] == "." || s[i] == "e" || s[i] == "E" { i += 1 }
            let text = String(String.UnicodeScalarView(s[start..<i]))
            if let n = Int(text) { return .int(n) }
            if let d = Double(text) { return .double(d) }
            throw fail("bad number '\(text)'", at: start)
        }
    }
}
