import CZMQ

/// Gives memory the process has freed back to the system. glibc keeps freed
/// pages in its arenas, so a coordinator that dropped finished jobs would
/// otherwise keep its peak resident size.
public enum MemoryRelease {
    public static func trim() {
        _ = malloc_trim(0)
    }
}
