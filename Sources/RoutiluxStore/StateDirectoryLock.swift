import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive `flock` on `DIR/lock`, held while the process lives: a second
/// coordinator on the same state directory is refused, naming the holder's pid.
/// (The kernel drops the lock when the process dies, even by `kill -9`.)
final class StateDirectoryLock: Sendable {
    let fd: Int32

    init(directory: String) throws(StoreError) {
        let path = (directory as NSString).appendingPathComponent("lock")
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError(path, "cannot be opened: \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            throw StoreError(directory, "is in use by another coordinator\(holder.isEmpty ? "" : " (pid \(holder))"); one coordinator per state dir")
        }
        ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        self.fd = fd
    }

    deinit { close(fd) }
}
