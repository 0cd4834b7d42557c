import Foundation
import RoutiluxCore
import RoutiluxWire
import Testing

/// Protocol/ is the contract: every golden message decodes and re-encodes to
/// the same thing, every invalid one is refused with the documented reason,
/// and every message type has a schema and a golden example.
let protocolDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Protocol")

struct GoldenFile: CustomStringConvertible {
    var name: String
    var json: JSONValue
    var description: String { name }

    /// Frame 0 as UTF-8 text, every other frame as compact JSON; in a batch (golden/batch), every
    /// string frame starting `RTX` is a tag too (its messages' frame 0).
    var frames: [[UInt8]] {
        let fs = json["frames"].arrayValue ?? []
        let batch = name.hasPrefix("golden/batch/")
        return fs.enumerated().map { i, f in
            if let s = f.stringValue, i == 0 || (batch && s.hasPrefix("RTX")) { return Array(s.utf8) }
            return f.serialized()
        }
    }
}

func goldenFiles(_ sub: String) -> [GoldenFile] {
    let dir = protocolDirectory.appendingPathComponent(sub)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    return names.filter { $0.hasSuffix(".json") }.sorted().map { name in
        let data = FileManager.default.contents(atPath: dir.appendingPathComponent(name).path) ?? Data()
        return GoldenFile(name: "\(sub)/\(name)", json: (try? JSONValue.parse(Array(data))) ?? .null)
    }
}

/// Objects compared without regard to key order.
func canonical(_ v: JSONValue) -> JSONValue {
    switch v {
    case .object(let o):
        var out = JSONObject()
        for k in o.keys.sorted() { out[k] = canonical(o[k]!) }
        return .object(out)
    case .array(let a): return .array(a.map(canonical))
    default: return v
    }
}

@Suite struct GoldenMessageTests {
    @Test func thereIsAGoldenMessageAndASchemaForEveryType() throws {
        let golden = goldenFiles("golden")
        #expect(golden.count >= MessageType.allCases.count)
        let tags = Set(golden.compactMap { $0.json["frames"].arrayValue?.first?.stringValue })
        for t in MessageType.allCases {
            #expect(tags.contains("RTX\(protocolVersion) \(t.rawValue)"), "no golden message for \(t.rawValue)")
            let schema = protocolDirectory.appendingPathComponent("schema/\(t.rawValue).schema.json")
            let data = try #require(FileManager.default.contents(atPath: schema.path), "no schema for \(t.rawValue)")
            let s = try JSONValue.parse(Array(data))
            #expect(s["title"].stringValue == t.rawValue)
            #expect(s["properties"]["v"]["const"] == .int(protocolVersion))
        }
    }

    @Test(arguments: goldenFiles("golden"))
    func decodesAndReencodesUnchanged(_ file: GoldenFile) throws {
        let codec = WireCodec()
        let frames = file.frames
        #expect(frames.count >= 2, "\(file): needs a tag and a header")
        let message = try codec.decode(frames)
        let again = codec.encode(message)
        #expect(again[0] == frames[0], "\(file): tag")
        #expect(canonical(try JSONValue.parse(again[1])) == canonical(try JSONValue.parse(frames[1])), "\(file): header")
        #expect(again.count == frames.count, "\(file): body count")
        for i in 2..<min(again.count, frames.count) {
            #expect(try JSONValue.parse(again[i]) == JSONValue.parse(frames[i]), "\(file): body \(i - 2)")
        }
        // The header holds every field its schema requires, and nothing of the user's data.
        let schemaURL = protocolDirectory.appendingPathComponent("schema/\(message.type.rawValue).schema.json")
        let schema = try JSONValue.parse(Array(try #require(FileManager.default.contents(atPath: schemaURL.path))))
        let header = try #require(try JSONValue.parse(frames[1]).objectValue)
        for required in schema["required"].arrayValue ?? [] {
            #expect(header[required.stringValue ?? ""] != nil, "\(file): required field \(required) missing")
        }
        for key in header.keys {
            #expect(schema["properties"][key] != .null, "\(file): field '\(key)' is not in the schema")
        }
    }

    /// The header writer produces, byte for byte, the compact JSON of the golden header (fields in
    /// field order), as the JSON tree it replaced did; escapes and numbers included.
    @Test(arguments: goldenFiles("golden"))
    func headersAreWrittenByteForByte(_ file: GoldenFile) throws {
        let frames = file.frames
        let again = WireCodec().encode(try WireCodec().decode(frames))
        #expect(again[1] == (try JSONValue.parse(frames[1])).serialized(), "\(file): \(String(decoding: again[1], as: UTF8.self))")
    }

    @Test func headerStringsAndNumbersAreEscapedAsBefore() throws {
        let odd = "quote\" back\\ nl\n tab\t nul\u{0} bell\u{7} é 漢字 🎉"
        var h = CreditMessage(workerId: odd, credit: 0, token: "t")
        for credit in [0, 7, 10, 99, 1_000_000] {
            h.credit = credit
            let bytes = WireCodec().encode(.credit(h))[1]
            let tree: JSONValue = ["v": .int(protocolVersion), "worker_id": .string(odd), "credit": .int(credit), "token": "t"]
            #expect(bytes == tree.serialized())
            guard case .credit(let back) = try WireCodec().decode(WireCodec().encode(.credit(h))) else { Issue.record("not a CREDIT"); return }
            #expect(back == h)
        }
        var w = JSONObjectWriter()
        for i in [0, -1, 9, 10, -10, Int.max, Int.min, 1 << 53] { w.int("n", i) }
        #expect(w.finish() == Array(#"{"n":0,"n":-1,"n":9,"n":10,"n":-10,"n":9223372036854775807,"n":-9223372036854775808,"n":9007199254740992}"#.utf8))
    }

    @Test(arguments: goldenFiles("golden"))
    func theCodableConformanceWritesTheSameHeader(_ file: GoldenFile) throws {
        let message = try WireCodec().decode(file.frames)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let golden = canonical(try JSONValue.parse(file.frames[1]))
        func check<T: Codable & Equatable>(_ h: T) throws {
            #expect(canonical(try JSONValue.parse(Array(encoder.encode(h)))) == golden, "\(file): Codable encoding differs")
            #expect(try decoder.decode(T.self, from: Data(file.frames[1])) == h, "\(file): Codable decoding differs")
        }
        switch message {
        case .join(let h, _): try check(h)
        case .joined(let h): try check(h)
        case .reject(let h): try check(h)
        case .task(let h, _, _, _, _, _): try check(h)
        case .result(let h, _): try check(h)
        case .credit(let h): try check(h)
        case .heartbeat(let h): try check(h)
        case .leave(let h): try check(h)
        case .submit(let h, _, _): try check(h)
        case .query(let h): try check(h)
        case .control(let h, _): try check(h)
        case .reply(let h, _): try check(h)
        case .describe(let h, _): try check(h)
        case .described(let h, _): try check(h)
        case .status(let h): try check(h)
        case .part(let h, _): try check(h)
        case .staged(let h): try check(h)
        }
    }

    @Test(arguments: goldenFiles("golden/invalid"))
    func invalidMessagesAreRefusedWithTheirReason(_ file: GoldenFile) throws {
        let expected = try #require(file.json["error"].stringValue, "\(file): needs an \"error\"")
        do {
            let m = try WireCodec().decode(file.frames)
            Issue.record("\(file): decoded as \(m.type.rawValue), expected an error containing '\(expected)'")
        } catch {
            #expect(error.description.contains(expected), "\(file): got '\(error.description)'")
        }
    }

    @Test func userDataNeverMixesWithControlFields() throws {
        // A payload that looks like a header travels as its own frame, untouched.
        let payload = RawJSON(["v": 99, "task_id": "not yours", "job_id": ["x": 1]])
        let task = TaskMessage(jobId: "j", taskId: 1, flowId: "f", routineId: "r", routineType: "Mapper", slot: "input", attempt: 1)
        let codec = WireCodec()
        let frames = codec.encode(.task(task, payload: payload, config: RawJSON([:]), slotState: nil, routineState: nil, shared: nil))
        guard case .task(let h, let p, _, _, _, _) = try codec.decode(frames) else { Issue.record("not a TASK"); return }
        #expect(h == task)
        #expect(p == payload)
    }
}

/// Batches (PROTOCOL.md §2a): the golden batches unpack into messages that decode, and pack
/// back to the same frames; the invalid ones are refused with their reason; any message round-trips.
@Suite struct BatchFramingTests {
    @Test(arguments: goldenFiles("golden/batch"))
    func goldenBatchesUnpackIntoMessagesAndPackBack(_ file: GoldenFile) throws {
        let frames = file.frames
        #expect(BatchFraming.isBatch(frames))
        let messages = try BatchFraming.unpack(frames)
        #expect(messages.count >= 2, "\(file): a golden batch holds several messages")
        for m in messages { _ = try WireCodec().decode(m) }
        let again = BatchFraming.pack(messages)
        #expect(again[0] == frames[0])
        #expect(canonical(try JSONValue.parse(again[1])) == canonical(try JSONValue.parse(frames[1])), "\(file): header")
        #expect(Array(again.dropFirst(2)) == Array(frames.dropFirst(2)), "\(file): the messages' frames, in order")
        // The header holds what the schema requires and nothing else.
        let schemaURL = protocolDirectory.appendingPathComponent("schema/BATCH.schema.json")
        let schema = try JSONValue.parse(Array(try #require(FileManager.default.contents(atPath: schemaURL.path))))
        #expect(schema["properties"]["v"]["const"] == .int(protocolVersion))
        let header = try #require(try JSONValue.parse(frames[1]).objectValue)
        for key in header.keys { #expect(schema["properties"][key] != .null, "\(file): field '\(key)' is not in the schema") }
    }

    @Test(arguments: goldenFiles("golden/batch/invalid"))
    func invalidBatchesAreRefusedWithTheirReason(_ file: GoldenFile) throws {
        let expected = try #require(file.json["error"].stringValue, "\(file): needs an \"error\"")
        do {
            let m = try BatchFraming.unpack(file.frames)
            Issue.record("\(file): unpacked into \(m.count) messages, expected an error containing '\(expected)'")
        } catch {
            #expect(error.description.hasPrefix("BATCH: "), "\(file): got '\(error.description)'")
            #expect(error.description.contains(expected), "\(file): got '\(error.description)'")
        }
    }

    @Test func everyGoldenMessageRoundTripsThroughABatch() throws {
        let messages = goldenFiles("golden").map(\.frames)
        let unpacked = try BatchFraming.unpack(BatchFraming.pack(messages))
        #expect(unpacked == messages)
        #expect(!BatchFraming.isBatch(messages[0]))
    }

    @Test func aBatchIsNotDecodedAsOneMessage() throws {
        let batch = BatchFraming.pack([goldenFiles("golden").first!.frames, goldenFiles("golden").last!.frames])
        #expect(throws: WireError.self) { try WireCodec().decode(batch) }
        do { _ = try WireCodec().decode(batch) } catch { #expect(error.description.contains("unpack it")) }
    }
}
