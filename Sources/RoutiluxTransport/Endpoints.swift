import Foundation

/// True when a tcp endpoint names this machine's loopback.
public func isLoopback(_ endpoint: String) -> Bool {
    let host = endpoint.replacingOccurrences(of: "tcp://", with: "").split(separator: ":").first.map(String.init) ?? ""
    return host.hasPrefix("127.") || host == "localhost" || host == "[::1]"
}

/// An endpoint others can connect to: a wildcard bind address is replaced by this host's name.
public func advertisable(_ bound: String) -> String {
    for wildcard in ["tcp://0.0.0.0:", "tcp://*:"] where bound.hasPrefix(wildcard) {
        return "tcp://" + ProcessInfo.processInfo.hostName + ":" + bound.dropFirst(wildcard.count)
    }
    return bound
}
