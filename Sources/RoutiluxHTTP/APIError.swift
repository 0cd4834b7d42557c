import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RoutiluxCore

/// An API error: its HTTP status and the JSON envelope clients get, routilux 1.x's shape
/// (`code`, `message`, `details`, and the same under `error` with the request id).
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// A stable code, e.g. `JOB_NOT_FOUND`, `VALIDATION_ERROR`, `UNAUTHORIZED`.
    public var code: String
    public var message: String
    /// Where the problem is: a body field path (`entry.slot`), a query parameter, a header.
    public var field: String?
    /// Extra headers (e.g. `WWW-Authenticate` on a 401).
    public var headers: [(HTTPField.Name, String)] = []

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String { "\(status.code) \(code): \(message)\(field.map { " (\($0))" } ?? "")" }

    static func notFound(_ what: String, _ id: String, code: String) -> APIError {
        APIError(.notFound, code, "\(what) '\(id)' not found")
    }
    static func invalid(_ message: String, field: String?) -> APIError { APIError(.badRequest, "VALIDATION_ERROR", message, field: field) }

    /// The envelope, with the request's id.
    func body(requestId: String) -> JSONValue {
        var details: JSONObject = [:]
        if let field { details["field"] = .string(field) }
        let inner: JSONObject = [
            "code": .string(code), "message": .string(message), "details": .object(details), "request_id": .string(requestId),
        ]
        return .object(["code": .string(code), "message": .string(message), "details": .object(details), "error": .object(inner)])
    }

    func response(requestId: String) -> Response {
        var r = JSONResponse.make(body(requestId: requestId), status: status)
        for (name, value) in headers { r.headers[name] = value }
        return r
    }
}

/// JSON responses, written by our own writer (the same bytes the CLI prints).
enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var bytes = value.serialized()
        bytes.append(UInt8(ascii: "\n"))
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func text(_ text: String, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: contentType, .cacheControl: "no-store"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
