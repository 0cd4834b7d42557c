import ArgumentParser
import Foundation
import RoutiluxTransport

/// Endpoint options, checked when parsed: a malformed endpoint is a usage
/// error (exit 2) before anything starts, never a silent wait.
public enum EndpointArguments {
    /// Checks `value` of option `what`; `forBinding` allows the port `*`.
    public static func check(_ value: String, what: String, forBinding: Bool = false) throws {
        do { try checkEndpoint(value, what: what, allowWildcardPort: forBinding) } catch {
            throw ValidationError(error.description)
        }
    }

    /// The coordinator to talk to: `--coordinator`, else `$ROUTILUX_COORDINATOR`, checked.
    public static func coordinator(_ flag: String?) throws -> String {
        let env = environmentValue("ROUTILUX_COORDINATOR")
        guard let value = flag ?? env else {
            throw ValidationError("no coordinator: give --coordinator ENDPOINT or set ROUTILUX_COORDINATOR (e.g. tcp://10.0.0.5:5555)")
        }
        try check(value, what: flag != nil ? "--coordinator" : "ROUTILUX_COORDINATOR")
        return value
    }
}

/// An environment variable's value; an empty one counts as unset.
public func environmentValue(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
}
