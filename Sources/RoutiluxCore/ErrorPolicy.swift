import Foundation
/// What happens when a routine's handler fails (routilux's ErrorHandler).
///
/// Unlike routilux 0.10, the policy applies to every routine's handler, not
/// only the entry's; retry counts belong to the task, never to the policy.
public struct ErrorPolicy: Sendable, Hashable {
    public enum Strategy: String, Sendable, CaseIterable {
        /// Fail the job.
        case stop
        /// Record the error and go on.
        case `continue`
        /// Run the activation again after a delay, up to `maxRetries` times.
        case retry
        /// Mark the routine skipped and go on.
        case skip
    }

    public var strategy: Strategy
    public var maxRetries: Int
    /// Seconds before the first retry.
    public var retryDelay: Double
    /// Each further retry waits `retryBackoff` times longer.
    public var retryBackoff: Double
    /// Error type names that may be retried; empty means every error.
    public var retryableErrors: [String]
    public var isCritical: Bool

    public init(
        strategy: Strategy, maxRetries: Int = 3, retryDelay: Double = 1.0, retryBackoff: Double = 2.0,
        retryableErrors: [String] = [], isCritical: Bool = false
    ) {
        self.strategy = strategy
        self.maxRetries = maxRetries
        self.retryDelay = retryDelay
        self.retryBackoff = retryBackoff
        self.retryableErrors = retryableErrors
        self.isCritical = isCritical
    }

    /// routilux `set_as_optional()`: continue (or skip), never critical.
    public static func optional(_ strategy: Strategy = .continue) -> ErrorPolicy {
        ErrorPolicy(strategy: strategy == .skip ? .skip : .continue)
    }

    /// routilux `set_as_critical(...)`: retry, and fail the job when retries run out.
    public static func critical(maxRetries: Int = 3, retryDelay: Double = 1.0, retryBackoff: Double = 2.0) -> ErrorPolicy {
        ErrorPolicy(strategy: .retry, maxRetries: maxRetries, retryDelay: retryDelay, retryBackoff: retryBackoff, isCritical: true)
    }

    /// Whether an error of type `errorType` may be retried.
    public func retries(_ errorType: String) -> Bool {
        retryableErrors.isEmpty || retryableErrors.contains(errorType)
    }

    /// Seconds to wait before retry number `n` (1-based): delay · backoff^(n−1).
    public func delay(beforeRetry n: Int) -> Double {
        retryDelay * pow(retryBackoff, Double(max(0, n - 1)))
    }

    /// The DSL form (`error_handler:` in a flow file).
    public var json: JSONValue {
        var o: JSONObject = ["strategy": .string(strategy.rawValue)]
        if strategy == .retry {
            o["max_retries"] = .int(maxRetries)
            o["retry_delay"] = .double(retryDelay)
            o["retry_backoff"] = .double(retryBackoff)
            if !retryableErrors.isEmpty { o["retryable_errors"] = .array(retryableErrors.map { .string($0) }) }
        }
        if isCritical { o["is_critical"] = true }
        return .object(o)
    }

    /// Reads `error_handler:`; errors name the key under `path`.
    public static func parse(_ v: JSONValue, path: String, file: String?) throws(FlowValidationError) -> ErrorPolicy {
        func fail(_ key: String?, _ message: String) -> FlowValidationError {
            FlowValidationError(file: file, path: key.map { "\(path).\($0)" } ?? path, message: message)
        }
        guard let o = v.objectValue else { throw fail(nil, "must be a mapping {strategy, max_retries, ...}, not \(v.typeName)") }
        let known = ["strategy", "max_retries", "retry_delay", "retry_backoff", "retryable_errors", "retryable_exceptions", "is_critical"]
        for k in o.keys where !known.contains(k) {
            throw fail(k, "unknown key (expected: \(known.joined(separator: ", ")))")
        }
        guard let s = o["strategy"]?.stringValue, let strategy = Strategy(rawValue: s.lowercased()) else {
            throw fail("strategy", "must be one of stop, continue, retry, skip (got \(o["strategy"].map { "\($0)" } ?? "nothing"))")
        }
        var p = ErrorPolicy(strategy: strategy)
        if let m = o["max_retries"], m != .null {
            guard let n = m.intValue, n >= 0, n <= 1000 else { throw fail("max_retries", "must be an integer from 0 to 1000, not \(m)") }
            p.maxRetries = n
        }
        if let d = o["retry_delay"], d != .null {
            guard let x = d.doubleValue, x >= 0, x <= 86_400 else { throw fail("retry_delay", "must be seconds from 0 to 86400, not \(d)") }
            p.retryDelay = x
        }
        if let b = o["retry_backoff"], b != .null {
            guard let x = b.doubleValue, x >= 1, x <= 100 else { throw fail("retry_backoff", "must be a number from 1 to 100, not \(b)") }
            p.retryBackoff = x
        }
        for key in ["retryable_errors", "retryable_exceptions"] {
            guard let r = o[key], r != .null else { continue }
            guard let names = r.arrayValue?.compactMap(\.stringValue), names.count == r.arrayValue?.count else {
                throw fail(key, "must be a list of error type names")
            }
            p.retryableErrors += names
        }
        if let c = o["is_critical"], c != .null {
            guard let b = c.boolValue else { throw fail("is_critical", "must be true or false") }
            p.isCritical = b
        }
        return p
    }
}
