import Foundation

/// A condition that did not come true in time.
public struct WaitError: Error, CustomStringConvertible {
    public var description: String
}

/// Polls `condition` every 20 ms until it holds; fails with `what` after `timeout` seconds.
public func waitUntil(_ what: String, timeout: Double = 30, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while try await !condition() {
        if Date() > deadline { throw WaitError(description: "timed out after \(timeout) s waiting for: \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// Waits until `file` holds a process id (a command under test writes it) and returns it.
public func waitForPid(in file: String, _ what: String, timeout: Double = 30) async throws -> Int32 {
    var pid: Int32 = 0
    try await waitUntil(what, timeout: timeout) {
        pid = Int32((try? String(contentsOfFile: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        return pid > 0
    }
    return pid
}

/// True once `pid` is gone, or a zombie nobody will reap.
public func processHasEnded(_ pid: Int32) -> Bool {
    kill(pid, 0) != 0 || (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z") == true
}

/// Runs `action` every `interval` until the calling task is cancelled; returns how many times it acted
/// (`action` says whether it did). For load a test applies (a chaos test's kills), not for waiting.
public func repeatEvery(_ interval: Duration, _ action: () -> Bool) async -> Int {
    var acted = 0
    while !Task.isCancelled {
        try? await Task.sleep(for: interval)
        if !Task.isCancelled, action() { acted += 1 }
    }
    return acted
}
