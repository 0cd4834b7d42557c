import RoutiluxCore

/// Many messages in one ZeroMQ message (PROTOCOL.md §2a): frame 0 is the tag
/// `RTX<version> BATCH`, frame 1 the header `{"v":5,"frames":[n1,n2,...]}` (how
/// many frames each message has, in order), then every message's own frames,
/// tag first, one message after another. Batches do not nest.
///
/// Senders batch what is ready at one wake-up to one peer (a lone message goes
/// as itself, at once); receivers unpack a batch and handle its messages in order,
/// exactly as if each had come alone.
public enum BatchFraming {
    /// Frame 0 of a batch.
    public static let tag: [UInt8] = Array("RTX\(protocolVersion) BATCH".utf8)
    /// Messages one batch may hold.
    public static let maxMessages = 4096

    /// The most bytes a sender puts in one batch for a receiver whose message limit is `limit`
    /// (half of it, and at most 256 KiB: enough to amortize a send over hundreds of small messages).
    public static func maxBytes(forLimit limit: Int) -> Int { max(1, min(256 << 10, limit / 2)) }

    /// The frames of one batch holding `messages` (each a message's frames: a tag, a header, bodies).
    public static func pack(_ messages: [[[UInt8]]]) -> [[UInt8]] {
        var header: [UInt8] = Array("{\"v\":\(protocolVersion),\"frames\":[".utf8)
        var count = 2
        for (i, m) in messages.enumerated() {
            if i > 0 { header.append(UInt8(ascii: ",")) }
            header += String(m.count).utf8
            count += m.count
        }
        header += Array("]}".utf8)
        var frames: [[UInt8]] = [tag, header]
        frames.reserveCapacity(count)
        for m in messages { frames += m }
        return frames
    }

    /// Whether `frames` is a batch (by its tag alone).
    public static func isBatch(_ frames: [[UInt8]]) -> Bool { frames.first == tag }

    /// The messages a batch holds, in order; throws, naming the fault, when its header does not
    /// describe its frames exactly (each message at least a tag and a header, at most
    /// `maxMessages` of them, their frame counts adding up to what follows the header).
    public static func unpack(_ frames: [[UInt8]]) throws(WireError) -> [[[UInt8]]] {
        func refuse(_ why: String) -> WireError { WireError(messageType: "BATCH", reason: why) }
        guard frames.count >= 2 else { throw refuse("missing header frame") }
        let header: JSONValue
        do { header = try JSONValue.parse(frames[1]) } catch { throw refuse("header is not valid JSON (\(error))") }
        guard case .object(let fields) = header else {
            throw refuse("header has the wrong type: expected a JSON object, got \(header.typeName)")
        }
        guard let list = fields["frames"] else { throw refuse("header field 'frames' is missing") }
        guard case .array(let counts) = list else { throw refuse("header field 'frames' has the wrong type") }
        guard !counts.isEmpty, counts.count <= maxMessages else {
            throw refuse("header field 'frames' has \(counts.count) entries (expected 1...\(maxMessages))")
        }
        guard let v = fields["v"] else { throw refuse("header field 'v' is missing") }
        guard v.intValue == protocolVersion else {
            throw refuse("header says protocol version \(v.jsonString()), the tag says \(protocolVersion)")
        }
        let available = frames.count - 2
        var messages: [[[UInt8]]] = []
        messages.reserveCapacity(counts.count)
        var at = 2
        for (i, c) in counts.enumerated() {
            // Compared before any arithmetic: a hostile count cannot overflow.
            guard let n = c.intValue, n >= 2, n <= available else {
                throw refuse("header field 'frames[\(i)]' is out of range (\(c.jsonString()); expected 2...\(max(2, available)))")
            }
            guard n <= frames.count - at else {
                throw refuse("header field 'frames' counts more frames than the batch has (\(available) after the header)")
            }
            if frames[at] == tag { throw refuse("message \(i) is itself a BATCH (batches do not nest)") }
            messages.append(Array(frames[at..<(at + n)]))
            at += n
        }
        guard at == frames.count else {
            throw refuse("header field 'frames' counts \(at - 2) frames, the batch has \(available) after the header")
        }
        return messages
    }
}
