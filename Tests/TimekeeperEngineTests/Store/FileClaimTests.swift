import Foundation
import GRDB
import Testing
@testable import TimekeeperEngine
import TimekeeperStore

/// A durable file is claimed for one process before SQLite opens it (`FileClaim`): a second claim is refused
/// while the first holds, a store lets its claim go when it closes or fails to open, and SQLite's own lock
/// still refuses a holder that never claimed.
@Suite struct FileClaimTests {
    @Test func aClaimedFileIsRefusedUntilItsStoreCloses() throws {
        let path = StoreFiles.temporaryPath("claim-held")
        defer { StoreFiles.remove(path) }
        var store = try SQLiteExecutionStore(path: path)
        try store.load()
        let refused = #expect(throws: StoreError.self) { try FileClaim(path: path) }
        #expect(refused?.code == .busy)
        #expect(refused?.message.contains("is in use by another process") == true)
        store.close()
        let again = try FileClaim(path: path)
        var reopened = try SQLiteExecutionStore(claim: again)
        try reopened.load()
        reopened.close()
    }

    @Test func aStoreThatDoesNotOpenLetsItsClaimGo() throws {
        let path = StoreFiles.temporaryPath("claim-not-a-database")
        defer { StoreFiles.remove(path) }
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: path))
        let claim = try FileClaim(path: path)
        let failed = #expect(throws: StoreError.self) { try SQLiteExecutionStore(claim: claim) }
        #expect(failed?.code == .io)
        let again = try FileClaim(path: path)  // refused if the failed store had kept it
        again.release()
    }

    @Test func sqliteStillRefusesAHolderThatNeverClaimed() throws {
        let path = StoreFiles.temporaryPath("claim-sqlite-holder")
        defer { StoreFiles.remove(path) }
        // What holds the file is SQLite alone, in exclusive locking mode (a server from before claims).
        let holder = try DatabaseQueue(path: path)
        try holder.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA locking_mode = EXCLUSIVE")
            try db.execute(sql: "CREATE TABLE held (x INTEGER)")
        }
        let claim = try FileClaim(path: path)
        let refused = #expect(throws: StoreError.self) { try SQLiteExecutionStore(claim: claim) }
        #expect(refused?.code == .busy)
        try holder.close()
        let again = try FileClaim(path: path)  // the refused store let its claim go
        again.release()
    }
}
