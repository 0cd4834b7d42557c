import RoutiluxCore

/// The stored form of one staged part: its emissions and outputs, each a name
/// and a body (JSON as received), length-prefixed. Compact, and read back
/// without parsing the bodies.
enum StagedPartCoding {
    struct Entries {
        var emissions: [(event: String, payload: RawJSON)] = []
        var outputs: [(type: String, data: RawJSON)] = []
    }

    static func encode(emissions: some Collection<(String, RawJSON)>, outputs: some Collection<(String, RawJSON)>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 + emissions.reduce(0) { $0 + $1.0.utf8.count + $1.1.bytes.count + 9 } + outputs.reduce(0) { $0 + $1.0.utf8.count + $1.1.bytes.count + 9 })
        put(UInt32(emissions.count), &out)
        put(UInt32(outputs.count), &out)
        for (name, body) in emissions { entry(name, body, &out) }
        for (name, body) in outputs { entry(name, body, &out) }
        return out
    }

    static func decode(_ bytes: [UInt8]) throws(RoutineError) -> Entries {
        var i = 0
        func u32() throws(RoutineError) -> Int {
            guard i + 4 <= bytes.count else { throw RoutineError("a staged part is cut short at byte \(i) of \(bytes.count)") }
            let v = Int(bytes[i]) | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 24
            i += 4
            return v
        }
        func chunk() throws(RoutineError) -> ArraySlice<UInt8> {
            let n = try u32()
            guard n <= bytes.count - i else { throw RoutineError("a staged part is cut short at byte \(i) of \(bytes.count)") }
            defer { i += n }
            return bytes[i..<(i + n)]
        }
        let emissions = try u32()
        let outputs = try u32()
        guard emissions + outputs <= bytes.count / 8 else { throw RoutineError("a staged part claims \(emissions + outputs) entries in \(bytes.count) bytes") }
        var e = Entries()
        e.emissions.reserveCapacity(emissions)
        for _ in 0..<emissions { e.emissions.append((String(decoding: try chunk(), as: UTF8.self), RawJSON(bytes: Array(try chunk())))) }
        for _ in 0..<outputs { e.outputs.append((String(decoding: try chunk(), as: UTF8.self), RawJSON(bytes: Array(try chunk())))) }
        return e
    }

    private static func put(_ v: UInt32, _ out: inout [UInt8]) {
        out.append(UInt8(v & 0xFF))
        out.append(UInt8(v >> 8 & 0xFF))
        out.append(UInt8(v >> 16 & 0xFF))
        out.append(UInt8(v >> 24))
    }

    private static func entry(_ name: String, _ body: RawJSON, _ out: inout [UInt8]) {
        put(UInt32(name.utf8.count), &out)
        out += name.utf8
        put(UInt32(body.bytes.count), &out)
        out += body.bytes
    }
}
