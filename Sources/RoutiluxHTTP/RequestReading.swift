import HTTPTypes
import Hummingbird
import NIOCore
import RoutiluxCore

/// Reading a request: its JSON body, checked field by field, and its query parameters.
struct RequestReader {
    let request: Request
    let maxBodyBytes: Int

    /// The body as a JSON object; an empty body is `{}`. Too big, not JSON or not an object: a 4xx naming why.
    func jsonObject() async throws -> JSONObject {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: maxBodyBytes) } catch {
            throw APIError(.contentTooLarge, "PAYLOAD_TOO_LARGE", "the request body is over \(maxBodyBytes) bytes (--http-max-body)", field: "body")
        }
        let bytes = Array(buffer.readableBytesView)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return [:] }
        let value: JSONValue
        do { value = try JSONValue.parse(bytes, rejectDuplicateKeys: true) } catch {
            throw APIError.invalid("the body is not valid JSON: \(error)", field: "body")
        }
        guard case .object(let o) = value else { throw APIError.invalid("the body must be a JSON object, not \(value.typeName)", field: "body") }
        return o
    }

    /// A query parameter, if given.
    func query(_ name: String) -> String? { request.uri.queryParameters.get(name).map { String($0) } }

    /// An integer query parameter within `range`, or `defaultValue` when absent.
    func int(_ name: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let raw = query(name) else { return defaultValue }
        guard let n = Int(raw), range.contains(n) else {
            throw APIError.invalid("query parameter \(name) must be an integer from \(range.lowerBound) to \(range.upperBound), not '\(raw.prefix(40))'", field: name)
        }
        return n
    }

    /// `offset` and `limit` (1...1000, default 100).
    func paging() throws -> (offset: Int, limit: Int) {
        (try int("offset", default: 0, in: 0...Int(Int32.max)), try int("limit", default: 100, in: 1...1000))
    }

    /// Refuses query parameters other than `allowed`.
    func onlyQuery(_ allowed: Set<String>) throws {
        for (k, _) in request.uri.queryParameters where !allowed.contains(String(k)) {
            let known = allowed.isEmpty ? "none" : allowed.sorted().joined(separator: ", ")
            throw APIError.invalid("unknown query parameter '\(k.prefix(40))' (known: \(known))", field: String(k.prefix(40)))
        }
    }
}

/// Field-by-field reading of a JSON body: every field's type is checked, unknown fields refused.
struct BodyFields {
    let object: JSONObject
    let prefix: String

    init(_ object: JSONObject, allowed: Set<String>, prefix: String = "") throws {
        self.object = object
        self.prefix = prefix
        for k in object.keys where !allowed.contains(k) {
            throw APIError.invalid("unknown field '\(prefix)\(k.prefix(60))' (known: \(allowed.sorted().joined(separator: ", ")))", field: prefix + String(k.prefix(60)))
        }
    }

    func string(_ key: String, maxLength: Int = 4096) throws -> String? {
        guard let v = object[key], v != .null else { return nil }
        guard let s = v.stringValue else { throw APIError.invalid("field '\(prefix)\(key)' must be a string, not \(v.typeName)", field: prefix + key) }
        guard !s.isEmpty, s.utf8.count <= maxLength else {
            throw APIError.invalid("field '\(prefix)\(key)' must be 1 to \(maxLength) bytes", field: prefix + key)
        }
        return s
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = object[key], v != .null else { return nil }
        guard let n = v.intValue, range.contains(n) else {
            throw APIError.invalid("field '\(prefix)\(key)' must be an integer from \(range.lowerBound) to \(range.upperBound)", field: prefix + key)
        }
        return n
    }

    func object(_ key: String) throws -> JSONObject? {
        guard let v = object[key], v != .null else { return nil }
        guard let o = v.objectValue else { throw APIError.invalid("field '\(prefix)\(key)' must be an object, not \(v.typeName)", field: prefix + key) }
        return o
    }
}
