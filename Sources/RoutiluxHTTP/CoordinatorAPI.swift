import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Logging
import RoutiluxCoordinator
import RoutiluxCore

/// The coordinator's HTTP API: JSON under `/api/v1`, routilux 1.x's paths and field names where
/// they fit, and `/health/live` and `/health/ready`. Every route but health needs a bearer token
/// (`Authorization: Bearer TOKEN`, or routilux's `X-API-Key: TOKEN`). Handlers read the core
/// through `CoordinatorService.inspect` (a copy, bounded by paging) and change it through its
/// requests, so a slow or hostile client costs the scheduling loop nothing but those calls.
public struct CoordinatorAPI: Sendable {
    let service: CoordinatorService
    let tokens: BearerTokens
    let maxBodyBytes: Int
    let idempotency = IdempotencyKeys()
    let logger: Logger

    public init(service: CoordinatorService, tokens: BearerTokens, maxBodyBytes: Int = 10 << 20, logger: Logger = Logger(label: "routilux.http")) {
        self.service = service
        self.tokens = tokens
        self.maxBodyBytes = maxBodyBytes
        self.logger = logger
    }

    /// The router with every route.
    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorEnvelopeMiddleware(logger: logger))
        router.add(middleware: BearerAuthMiddleware(tokens: tokens, logger: logger))
        addHealthRoutes(to: router)
        addFlowRoutes(to: router.group("api/v1/flows"))
        addJobRoutes(to: router.group("api/v1/jobs"))
        addWorkerRoutes(to: router.group("api/v1/workers"))
        router.get("api/v1") { _, _ in
            JSONResponse.make(["name": "routilux", "version": .string(RoutiluxVersion.release), "api": "v1"])
        }
        return router
    }

    func reader(_ request: Request) -> RequestReader { RequestReader(request: request, maxBodyBytes: maxBodyBytes) }

    /// Reads the core, or 503 once the coordinator has stopped.
    func inspect<T: Sendable>(_ read: @escaping @Sendable (CoordinatorCore, Double) -> T) async throws -> T {
        guard let value = await service.inspect(read) else { throw APIError(.serviceUnavailable, "RUNTIME_SHUTDOWN", "the coordinator is not running") }
        return value
    }
}

/// Every error becomes the JSON envelope: ours as they are, the router's (unknown path, wrong
/// method) with their status, anything else a 500 that names no internals.
struct ErrorEnvelopeMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as APIError {
            return e.response(requestId: context.id)
        } catch let e as HTTPError {
            let code = e.status == .notFound ? "NOT_FOUND" : e.status == .methodNotAllowed ? "METHOD_NOT_ALLOWED" : "HTTP_ERROR"
            let message = e.status == .notFound ? "no route \(request.method.rawValue) \(request.uri.path.prefix(200))" : (e.body ?? e.status.reasonPhrase)
            return APIError(e.status, code, message).response(requestId: context.id)
        } catch {
            logger.error("\(request.method.rawValue) \(request.uri.path.prefix(200)) failed: \(error) (request \(context.id))")
            return APIError(.internalServerError, "INTERNAL_ERROR", "the request failed inside the coordinator (request \(context.id) in its log)").response(requestId: context.id)
        }
    }
}

/// Bearer tokens on every route but `/health/...`: none (or an unknown one) is a 401, a
/// read-only token on anything but GET/HEAD a 403. Failures are logged, rate-limited, with the
/// client's address.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: BearerTokens
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path.hasPrefix("/health/") || request.uri.path == "/health" { return try await next(request, context) }
        var given: String?
        if let auth = request.headers[.authorization] {
            let parts = auth.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw unauthorized("the Authorization header must be `Bearer TOKEN`", field: "Authorization", error: "invalid_request")
            }
            given = String(parts[1]).trimmingCharacters(in: .whitespaces)
        } else if let key = request.headers[HTTPField.Name("X-API-Key")!] {
            given = key
        }
        guard let given else { throw unauthorized("a bearer token is required (Authorization: Bearer TOKEN)", field: "Authorization", error: nil) }
        guard let holder = tokens.holder(of: given) else {
            logger.warning("HTTP \(request.method.rawValue) \(request.uri.path.prefix(200)): refused an unknown token (request \(context.id))")
            throw unauthorized("the token is not valid", field: "Authorization", error: "invalid_token")
        }
        if holder.readOnly && request.method != .get && request.method != .head {
            throw APIError(.forbidden, "FORBIDDEN", "token '\(holder.name)' is read-only: it cannot \(request.method.rawValue) \(request.uri.path.prefix(200))", field: "Authorization")
        }
        return try await next(request, context)
    }

    private func unauthorized(_ message: String, field: String, error: String?) -> APIError {
        var e = APIError(.unauthorized, "UNAUTHORIZED", message, field: field)
        e.headers = [(.wwwAuthenticate, "Bearer realm=\"routilux\"" + (error.map { ", error=\"\($0)\"" } ?? ""))]
        return e
    }
}
