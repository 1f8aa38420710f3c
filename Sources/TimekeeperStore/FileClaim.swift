#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif
internal import Synchronization

/// A database file taken for this process alone, before SQLite opens it: an exclusive `flock` on the file
/// itself, which another Timekeeper on the same file is refused. Taking it costs a system call, where
/// SQLite's own lock comes with opening the file and reading its write-ahead log (milliseconds after a
/// `kill -9` left a large one), so a server can say it is up as soon as it knows the file is its own.
///
/// SQLite locks with `fcntl`, which is independent of `flock` on Linux; but closing any descriptor of a
/// file drops the process's `fcntl` locks on it, so the descriptor is closed only after SQLite has closed
/// the file (`release`, from `SQLiteExecutionStore.close`).
package final class FileClaim: Sendable {
    package let path: String
    private let descriptor = Mutex<Int32?>(nil)

    /// Creates the file if it is not there (empty: SQLite makes a new database of it) and locks it.
    package init(path: String) throws(StoreError) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StoreError(.io, "\(path): cannot open (\(String(cString: strerror(errno))))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK { throw StoreError(.busy, "\(path) is in use by another process") }
            throw StoreError(.io, "\(path): cannot lock (\(String(cString: strerror(code))))")
        }
        descriptor.withLock { $0 = fd }
    }

    /// Lets the file go (after SQLite has closed it); calling it again does nothing.
    package func release() {
        guard let fd = descriptor.withLock({ held -> Int32? in defer { held = nil }; return held }) else { return }
        close(fd)  // closing the descriptor drops the flock
    }
}
