import Dispatch
import Foundation
import Synchronization

/// Runs a command for `Exec` without blocking a Swift concurrency thread, with
/// posix_spawn so the child starts clean: its own process group (a timeout kills
/// everything it started) and SIGINT, SIGTERM and SIGPIPE back at their defaults
/// (this process ignores them, and ignored signals would survive exec).
/// Pipes are drained and the exit is awaited on private dispatch queues.
enum ChildProcess {
    struct Result: Sendable {
        /// The exit code, or 128 + the signal that ended it.
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
        var timedOut: Bool
    }

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    static func run(
        executable: String, argv: [String], stdin: [UInt8], timeout: Double, cwd: String?, env: [String: String]
    ) async throws -> Result {
        signal(SIGPIPE, SIG_IGN)  // a child that does not read its stdin must not kill us
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        // Pipes are made close-on-exec and the child spawned under one lock, so a
        // concurrent spawn never inherits another command's pipe ends (which would
        // hold its output open).
        let pid: pid_t = try spawnLock.withLock { _ in
            guard pipe(&inPipe) == 0, pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
                for fd in inPipe + outPipe + errPipe where fd >= 0 { close(fd) }
                throw SpawnError(description: "cannot create pipes: \(String(cString: strerror(errno)))")
            }
            for fd in inPipe + outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            do {
                return try spawn(executable, argv, env, cwd, stdin: inPipe[0], stdout: outPipe[1], stderr: errPipe[1])
            } catch {
                for fd in inPipe + outPipe + errPipe { close(fd) }
                throw error
            }
        }
        // Only the child keeps these ends; with ours closed, end-of-file comes when it (and its group) is done.
        close(inPipe[0])
        close(outPipe[1])
        close(errPipe[1])
        let box = Box()
        return await withCheckedContinuation { (c: CheckedContinuation<Result, Never>) in
            @Sendable func finish(_ s: inout State, force: Bool = false) {
                guard let status = s.status, !s.resumed, (s.outDone && s.errDone) || s.timedOut || force else { return }
                s.resumed = true
                c.resume(returning: Result(status: status, stdout: s.out, stderr: s.err, timedOut: s.timedOut))
                s.out = []
                s.err = []
            }
            @Sendable func drain(_ fd: Int32, out: Bool) {
                // A private serial queue gets its own thread even while it blocks.
                DispatchQueue(label: out ? "routilux.exec.stdout" : "routilux.exec.stderr").async {
                    var buffer = [UInt8](repeating: 0, count: 1 << 16)
                    while true {
                        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                        if n < 0 && errno == EINTR { continue }
                        if n <= 0 { break }
                        box.state.withLock { s in
                            if out { s.out.append(contentsOf: buffer[0..<n]) } else if s.err.count < 1 << 20 { s.err.append(contentsOf: buffer[0..<n]) }
                        }
                    }
                    close(fd)
                    box.state.withLock { s in
                        if out { s.outDone = true } else { s.errDone = true }
                        finish(&s)
                    }
                }
            }
            drain(outPipe[0], out: true)
            drain(errPipe[0], out: false)
            DispatchQueue(label: "routilux.exec.wait").async {
                var raw: Int32 = 0
                while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
                let signalled = raw & 0x7f
                let status = signalled == 0 ? (raw >> 8) & 0xff : 128 + signalled
                box.state.withLock { s in
                    s.status = status
                    finish(&s)
                }
                // Something the command left running in the background may still hold the
                // pipes: give buffered output a moment, then end its group and finish.
                DispatchQueue.global().asyncAfter(deadline: .now() + 1) {
                    let pending = box.state.withLock { !$0.resumed }
                    if pending { kill(-pid, SIGKILL) }
                    box.state.withLock { finish(&$0, force: true) }
                }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                let late = box.state.withLock { s -> Bool in
                    guard s.status == nil else { return false }
                    s.timedOut = true
                    return true
                }
                guard late else { return }
                kill(-pid, SIGKILL)  // the whole group: the command and all it started
                box.state.withLock { s in
                    if s.status == nil { s.status = 128 + SIGKILL }
                    finish(&s)
                }
            }
            let input = inPipe[1]
            DispatchQueue(label: "routilux.exec.stdin").async {
                var offset = 0
                stdin.withUnsafeBytes { bytes in
                    while offset < bytes.count {
                        let n = write(input, bytes.baseAddress! + offset, bytes.count - offset)
                        if n < 0 && errno == EINTR { continue }
                        if n <= 0 { break }  // the child closed its stdin (EPIPE): fine
                        offset += n
                    }
                }
                close(input)
            }
        }
    }

    private static func spawn(
        _ executable: String, _ argv: [String], _ env: [String: String], _ cwd: String?, stdin: Int32, stdout: Int32, stderr: Int32
    ) throws -> pid_t {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGPIPE, SIGQUIT] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        // The working directory through a tiny shell step (posix_spawn has no portable chdir).
        var path = executable
        var args = argv
        if let cwd {
            path = "/bin/sh"
            args = ["/bin/sh", "-c", "cd -- \"$0\" || exit 127; exec \"$@\"", cwd, executable] + argv.dropFirst()
        }
        let cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attr, cArgs, cEnv)
        guard rc == 0 else {
            throw SpawnError(description: "cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        return pid
    }

    private static let spawnLock = Mutex(())

    private final class Box: Sendable {
        let state = Mutex(State())
    }

    private struct State {
        var out: [UInt8] = []
        var err: [UInt8] = []
        var outDone = false
        var errDone = false
        var status: Int32?
        var timedOut = false
        var resumed = false
    }
}
