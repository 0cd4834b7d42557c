import RoutiluxCore

/// Reads a header's fields with errors that name the field (snake_case) and
/// the fault. A null optional field counts as absent; unknown fields are ignored.
public struct HeaderFields {
    /// The header's fields in order; a repeated key's last value counts (as when parsed to an object).
    let fields: [(key: String, value: JSONValue)]
    let type: MessageType

    init(fields: [(key: String, value: JSONValue)], type: MessageType) {
        self.fields = fields
        self.type = type
    }

    /// The field's value (the last, if repeated).
    private func lookup(_ field: String) -> JSONValue? {
        var i = fields.count
        while i > 0 {
            i -= 1
            if fields[i].key == field { return fields[i].value }
        }
        return nil
    }

    private func fault(_ field: String, _ what: String) -> WireError {
        WireError(messageType: type.rawValue, reason: "header field '\(field)' \(what)")
    }

    private func present(_ field: String) -> JSONValue? {
        guard let v = lookup(field), v != .null else { return nil }
        return v
    }

    private func required(_ field: String) throws(WireError) -> JSONValue {
        guard let v = lookup(field) else { throw fault(field, "is missing") }
        if v == .null { throw fault(field, "is null") }
        return v
    }

    func string(_ field: String) throws(WireError) -> String {
        guard let s = try required(field).stringValue else { throw fault(field, "has the wrong type") }
        return s
    }

    func optionalString(_ field: String) throws(WireError) -> String? {
        guard let v = present(field) else { return nil }
        guard let s = v.stringValue else { throw fault(field, "has the wrong type") }
        return s
    }

    func int(_ field: String) throws(WireError) -> Int {
        try integer(required(field), field)
    }

    func optionalInt(_ field: String) throws(WireError) -> Int? {
        guard let v = present(field) else { return nil }
        return try integer(v, field)
    }

    /// An integer that must lie in `range` (every number from the wire is checked before use).
    func int(_ field: String, in range: ClosedRange<Int>) throws(WireError) -> Int {
        try checked(int(field), field, range)
    }

    func optionalInt(_ field: String, in range: ClosedRange<Int>) throws(WireError) -> Int? {
        guard let i = try optionalInt(field) else { return nil }
        return try checked(i, field, range)
    }

    private func checked(_ i: Int, _ field: String, _ range: ClosedRange<Int>) throws(WireError) -> Int {
        guard range.contains(i) else {
            throw fault(field, "is out of range (\(i); expected \(range.lowerBound)...\(range.upperBound))")
        }
        return i
    }

    /// A string of at most `maxLength` UTF-8 bytes.
    func string(_ field: String, maxLength: Int) throws(WireError) -> String {
        let s = try string(field)
        guard s.utf8.count <= maxLength else { throw fault(field, "is too long (\(s.utf8.count) bytes; at most \(maxLength))") }
        return s
    }

    func optionalString(_ field: String, maxLength: Int) throws(WireError) -> String? {
        guard let s = try optionalString(field) else { return nil }
        guard s.utf8.count <= maxLength else { throw fault(field, "is too long (\(s.utf8.count) bytes; at most \(maxLength))") }
        return s
    }

    /// Task ids: 1 ... 2^53 (exact in every JSON reader).
    func taskId(_ field: String) throws(WireError) -> UInt64 {
        UInt64(try int(field, in: 1...WireLimits.maxTaskId))
    }

    func optionalTaskIds(_ field: String, maxCount: Int) throws(WireError) -> [UInt64]? {
        guard let v = present(field) else { return nil }
        guard let a = v.arrayValue else { throw fault(field, "has the wrong type") }
        guard a.count <= maxCount else { throw fault(field, "has too many entries (\(a.count); at most \(maxCount))") }
        var out: [UInt64] = []
        out.reserveCapacity(a.count)
        for (i, e) in a.enumerated() {
            guard case .int(let n) = e, (1...WireLimits.maxTaskId).contains(n) else {
                throw fault("\(field)[\(i)]", "is not a task id (an integer 1...\(WireLimits.maxTaskId))")
            }
            out.append(UInt64(n))
        }
        return out
    }

    private func integer(_ v: JSONValue, _ field: String) throws(WireError) -> Int {
        switch v {
        case .int(let i): return i
        case .double: throw fault(field, "has an invalid value (expected an integer)")
        default: throw fault(field, "has the wrong type")
        }
    }

    func uint64(_ field: String) throws(WireError) -> UInt64 {
        let i = try int(field)
        guard i >= 0 else { throw fault(field, "has an invalid value (expected a non-negative integer)") }
        return UInt64(i)
    }

    func bool(_ field: String) throws(WireError) -> Bool {
        guard let b = try required(field).boolValue else { throw fault(field, "has the wrong type") }
        return b
    }

    func optionalBool(_ field: String) throws(WireError) -> Bool? {
        guard let v = present(field) else { return nil }
        guard let b = v.boolValue else { throw fault(field, "has the wrong type") }
        return b
    }

    func strings(_ field: String) throws(WireError) -> [String] {
        guard let a = try required(field).arrayValue else { throw fault(field, "has the wrong type") }
        var out: [String] = []
        out.reserveCapacity(a.count)
        for (i, e) in a.enumerated() {
            guard let s = e.stringValue else { throw fault("\(field)[\(i)]", "has the wrong type") }
            out.append(s)
        }
        return out
    }

    func optionalPairs(_ field: String) throws(WireError) -> [[String]]? {
        guard let v = present(field) else { return nil }
        guard let a = v.arrayValue else { throw fault(field, "has the wrong type") }
        var out: [[String]] = []
        for (i, e) in a.enumerated() {
            guard let pair = e.arrayValue else { throw fault("\(field)[\(i)]", "has the wrong type") }
            var strings: [String] = []
            for (j, s) in pair.enumerated() {
                guard let t = s.stringValue else { throw fault("\(field)[\(i)][\(j)]", "has the wrong type") }
                strings.append(t)
            }
            out.append(strings)
        }
        return out
    }

    func controlOperation(_ field: String) throws(WireError) -> ControlMessage.Operation {
        let s = try string(field)
        guard let o = ControlMessage.Operation(rawValue: s) else {
            throw fault(field, "has an invalid value '\(s)' (expected pause, resume, cancel or resume_from)")
        }
        return o
    }

    func outcome(_ field: String) throws(WireError) -> ResultMessage.Outcome {
        let s = try string(field)
        guard let o = ResultMessage.Outcome(rawValue: s) else {
            throw fault(field, "has an invalid value '\(s)' (expected ok or error)")
        }
        return o
    }
}

/// Builds a header object in field order; nil optionals are left out.
struct HeaderWriter {
    /// Written straight to bytes, fields in the order put (no JSON tree in between).
    private var writer = JSONObjectWriter(capacity: 256)

    mutating func put(_ field: String, _ v: String) { writer.string(field, v) }
    mutating func put(_ field: String, _ v: String?) { if let v { writer.string(field, v) } }
    mutating func put(_ field: String, _ v: Int) { writer.int(field, v) }
    mutating func put(_ field: String, _ v: Int?) { if let v { writer.int(field, v) } }
    mutating func put(_ field: String, _ v: UInt64) { writer.int(field, Int(truncatingIfNeeded: v)) }
    mutating func put(_ field: String, _ v: Bool) { writer.bool(field, v) }
    mutating func put(_ field: String, _ v: Bool?) { if let v { writer.bool(field, v) } }
    mutating func put(_ field: String, _ v: [UInt64]?) { if let v { writer.ints(field, v.map { Int(truncatingIfNeeded: $0) }) } }
    mutating func put(_ field: String, _ v: [String]) { writer.strings(field, v) }
    mutating func put(_ field: String, _ v: [[String]]?) { if let v { writer.stringLists(field, v) } }

    /// The header's bytes (the writer is done with).
    mutating func finished() -> [UInt8] { writer.finished() }
}
