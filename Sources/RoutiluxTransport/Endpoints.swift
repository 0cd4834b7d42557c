import Foundation

/// True when a tcp endpoint names this machine's loopback.
public func isLoopback(_ endpoint: String) -> Bool {
    let host = endpoint.replacingOccurrences(of: "tcp://", with: "").split(separator: ":").first.map(String.init) ?? ""
    if host == "localhost" || host == "[::1]" { return true }
    // 127.0.0.0/8, as a dotted IPv4 address (a host name starting "127." is not one).
    let parts = host.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { p in p.allSatisfy(\.isASCII) && UInt8(p) != nil }
}

/// An endpoint others can connect to: a wildcard bind address is replaced by this host's name.
public func advertisable(_ bound: String) -> String {
    for wildcard in ["tcp://0.0.0.0:", "tcp://*:"] where bound.hasPrefix(wildcard) {
        return "tcp://" + ProcessInfo.processInfo.hostName + ":" + bound.dropFirst(wildcard.count)
    }
    return bound
}

/// A malformed endpoint: what is wrong with it, in one line.
public struct EndpointError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// Checks an endpoint before any socket sees it, so that a typo is bad input at
/// once rather than a silent wait: `tcp://HOST:PORT` (PORT 1-65535; HOST a name,
/// an interface or an IPv4 address), `ipc://PATH`, and for binds
/// (`allowWildcardPort`) also port `*`, host `*` and `inproc://NAME`. `what`
/// names the option in the message.
public func checkEndpoint(_ endpoint: String, what: String, allowWildcardPort: Bool = false) throws(EndpointError) {
    func bad(_ why: String) -> EndpointError { EndpointError(description: "\(what) '\(endpoint)': \(why)") }
    if endpoint.hasPrefix("ipc://") {
        if endpoint.count == 6 { throw bad("ipc:// needs a socket path, e.g. ipc:///tmp/routilux.sock") }
        return
    }
    if endpoint.hasPrefix("inproc://") {
        // Within one process only: never between a coordinator and other processes.
        guard allowWildcardPort else { throw bad("inproc:// connects within one process only; use tcp:// or ipc://") }
        if endpoint.count == 9 { throw bad("inproc:// needs a name") }
        return
    }
    guard endpoint.hasPrefix("tcp://") else {
        let hint = endpoint.contains("://") ? "" : ", e.g. tcp://\(endpoint)"
        throw bad("needs a scheme: tcp://HOST:PORT, ipc://PATH or inproc://NAME\(hint)")
    }
    let rest = endpoint.dropFirst(6)
    guard let colon = rest.lastIndex(of: ":") else { throw bad("needs a port: tcp://HOST:PORT") }
    let host = rest[..<colon]
    let port = rest[rest.index(after: colon)...]
    if host.isEmpty { throw bad("needs a host before the port") }
    // The sockets are IPv4 (CZMQ's default): an IPv6 address would fail at bind or wait silently at connect.
    if host.hasPrefix("[") || host.contains(":") { throw bad("IPv6 addresses are not supported; use an IPv4 address or a host name") }
    if host == "*" && !allowWildcardPort { throw bad("host '*' (every interface) is only for binding; name the host to connect to") }
    let hostChars = host.allSatisfy { $0.isLetter || $0.isNumber || "-._*:[]%".contains($0) }
    if !hostChars || host.contains(" ") { throw bad("'\(host)' is not a host name or address") }
    if port == "*" {
        if allowWildcardPort { return }
        throw bad("port '*' (any free port) is only for binding")
    }
    guard !port.isEmpty, port.allSatisfy(\.isASCII), port.allSatisfy(\.isNumber), let n = Int(port), (1...65535).contains(n) else {
        throw bad("port '\(port)' must be a number from 1 to 65535\(allowWildcardPort ? " or *" : "")")
    }
}
