import Foundation

/// SQLite files the store tests make: a path in the temporary directory, and removing a file with its
/// write-ahead log and shared-memory index.
enum StoreFiles {
    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tk-\(name)-\(getpid()).sqlite").path
    }

    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}
