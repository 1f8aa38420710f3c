internal import Foundation
internal import GRDB
package import TimekeeperEngine

/// The dev server's durable store: every committed transition is one SQLite transaction on a file, and
/// opening the file again gives back everything the engine needs to go on (`Engine.recoverInBackground`).
///
/// What is kept is what the engine cannot derive: each run's changes (history events and notes, in order),
/// the current run of each workflow id, namespace records, registered search attributes, schedules and
/// batch operations. Timetable entries, clock holds, queued tasks and visibility records are derived from
/// the runs on recovery, by the same code that derives them live, so they cannot disagree with the
/// histories.
///
/// Transitions are written by a `GroupCommitWriter` off the engine's lock and the event loop, several to
/// a commit when they come faster than commits do; answers wait at its barrier until what they tell is
/// committed.
///
/// Durability: the journal is SQLite's write-ahead log, and by default `synchronous=NORMAL`, so a commit
/// is in the operating system's hands before the engine answers anyone. A killed process (`kill -9`, the
/// way SDKs stop a dev server) loses nothing it acknowledged; a power loss or kernel crash may lose the
/// last transactions (never consistency). `--sqlite-pragma synchronous=FULL` also survives those, at the
/// cost of one fsync per commit (shared by the transitions of a group commit).
package struct SQLiteExecutionStore: ExecutionStore {
    private let database: DatabaseQueue
    private let claim: FileClaim
    package let writer: GroupCommitWriter
    /// What the file held when it was opened, until the engine has recovered from it.
    private var loaded: Loaded

    private struct Loaded {
        var runs: [(runID: String, changes: [RunChange])] = []
        var currentRuns: [WorkflowKey: String] = [:]
        var namespaceRecords: [String: NamespaceRecord] = [:]
        var registeredSearchAttributes: [String: [String: SearchAttributeType]] = [:]
        var scheduleRecords: [ScheduleKey: ScheduleRecord] = [:]
        var batchRecords: [BatchKey: BatchRecord] = [:]
    }

    /// The pragmas applied when none is given: a write-ahead log, and commits that survive a process crash.
    package static let defaultPragmas: [(String, String)] = [("journal_mode", "WAL"), ("synchronous", "NORMAL")]

    /// Opens (or creates) the store at `path`, taking the file for this process alone first (`FileClaim`).
    package init(path: String, pragmas: [(String, String)] = [], barrier: DurabilityBarrier = DurabilityBarrier(),
                 beforeCommit: (@Sendable () -> Void)? = nil) throws(StoreError) {
        try Self.checkPragmas(pragmas)
        try self.init(claim: FileClaim(path: path), pragmas: pragmas, barrier: barrier, beforeCommit: beforeCommit)
    }

    /// Opens the store on a file this process has claimed; `load()` reads what it holds. `pragmas` are
    /// applied after the defaults, each checked to be a plain name and value. SQLite locks the file too
    /// (`locking_mode=EXCLUSIVE`). Answers wait at `barrier` (the server makes it before the store is
    /// opened, see `durability`). `beforeCommit` runs on the writer's thread before each commit (tests hold
    /// the writer with it). A store that does not open lets its claim go.
    package init(claim: FileClaim, pragmas: [(String, String)] = [], barrier: DurabilityBarrier = DurabilityBarrier(),
                 beforeCommit: (@Sendable () -> Void)? = nil) throws(StoreError) {
        let path = claim.path
        var opened = false
        defer { if !opened { claim.release() } }
        try Self.checkPragmas(pragmas)
        var configuration = Configuration()
        configuration.label = "timekeeper.store"
        configuration.busyMode = .immediateError
        configuration.prepareDatabase { db in
            for (name, value) in Self.defaultPragmas + pragmas where name.lowercased() != "journal_mode" {
                try db.execute(sql: "PRAGMA \(name) = \(value)")
            }
        }
        do {
            let database = try DatabaseQueue(path: path, configuration: configuration)
            let journalMode = (pragmas.last { $0.0.lowercased() == "journal_mode" }?.1) ?? "WAL"
            // Outside any transaction: SQLite refuses to change the journal mode inside one.
            try database.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = \(journalMode)")
                // One process at a time: a second server on the same file would commit behind this one's back.
                try db.execute(sql: "PRAGMA locking_mode = EXCLUSIVE")
            }
            try Self.migrator.migrate(database)
            self.database = database
            self.claim = claim
            writer = GroupCommitWriter(database: database, barrier: barrier, beforeCommit: beforeCommit)
            loaded = Loaded()
            opened = true
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            throw StoreError(.busy, "\(path) is in use by another process")
        } catch {
            throw StoreError(.io, "\(path): \(error)")
        }
    }

    /// Refuses a pragma whose name or value is not a plain word (before anything is opened).
    package static func checkPragmas(_ pragmas: [(String, String)]) throws(StoreError) {
        for (name, value) in pragmas {
            guard isPlain(name), isPlain(value) else {
                throw StoreError(.invalidPragma, "sqlite pragma \(name)=\(value): names and values are letters, digits and underscores")
            }
        }
    }

    private static func isPlain(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64 && text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    // MARK: Schema

    /// Schema versions, applied in order and recorded in the file (GRDB's `grdb_migrations` table). A new
    /// version is a new migration, never an edit of one that shipped.
    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: runs, changes, current runs, namespaces, search attributes") { db in
            try db.execute(sql: """
                CREATE TABLE runs (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE);
                CREATE TABLE changes (
                    run INTEGER NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL, body BLOB NOT NULL,
                    PRIMARY KEY (run, seq)) WITHOUT ROWID;
                CREATE TABLE current_runs (
                    namespace TEXT NOT NULL, workflow_id TEXT NOT NULL, run_id TEXT NOT NULL,
                    PRIMARY KEY (namespace, workflow_id)) WITHOUT ROWID;
                CREATE TABLE namespaces (name TEXT PRIMARY KEY, body BLOB NOT NULL);
                CREATE TABLE search_attributes (
                    namespace TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
                    PRIMARY KEY (namespace, name)) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2: schedules") { db in
            try db.execute(sql: """
                CREATE TABLE schedules (
                    namespace TEXT NOT NULL, schedule_id TEXT NOT NULL, body BLOB NOT NULL,
                    PRIMARY KEY (namespace, schedule_id)) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v3: batch operations") { db in
            try db.execute(sql: """
                CREATE TABLE batches (
                    namespace TEXT NOT NULL, job_id TEXT NOT NULL, body BLOB NOT NULL,
                    PRIMARY KEY (namespace, job_id)) WITHOUT ROWID;
                """)
        }
        return migrator
    }

    // MARK: Reading

    private static func load(_ db: Database) throws -> (Loaded, [String: (row: Int64, nextSeq: Int64)]) {
        var loaded = Loaded()
        var rows: [String: (row: Int64, nextSeq: Int64)] = [:]
        var runIDs: [Int64: String] = [:]
        var order: [Int64] = []
        for row in try Row.fetchAll(db, sql: "SELECT id, run_id FROM runs ORDER BY id") {
            let id: Int64 = row[0]
            let runID: String = row[1]
            runIDs[id] = runID
            order.append(id)
            rows[runID] = (id, 0)
        }
        // The rows first, as stored; then each run's changes decoded, runs in parallel (`InParallel`).
        var stored: [Int64: [StoredChange.Row]] = [:]
        let cursor = try Row.fetchCursor(db, sql: "SELECT run, seq, kind, body FROM changes ORDER BY run, seq")
        while let row = try cursor.next() {
            let run: Int64 = row[0]
            let seq: Int64 = row[1]
            guard let runID = runIDs[run] else { throw StoreError(.corrupt, "a change of run row \(run), which has no run") }
            let expected = rows[runID]!.nextSeq
            guard seq == expected else { throw StoreError(.corrupt, "run \(runID): change \(seq) where \(expected) was next") }
            stored[run, default: []].append(StoredChange.Row(kind: row[2], body: row[3]))
            rows[runID]!.nextSeq = seq + 1
        }
        loaded.runs = try InParallel.map(order.map { (runIDs[$0]!, stored.removeValue(forKey: $0) ?? []) }) {
            (run: (runID: String, rows: [StoredChange.Row])) throws(StoreError) in
            (run.runID, try StoredChange.decode(run.rows, of: run.runID))
        }
        for row in try Row.fetchAll(db, sql: "SELECT namespace, workflow_id, run_id FROM current_runs") {
            loaded.currentRuns[WorkflowKey(namespace: row[0], workflowID: row[1])] = row[2]
        }
        for row in try Row.fetchAll(db, sql: "SELECT name, body FROM namespaces") {
            loaded.namespaceRecords[row[0]] = try StoredNamespace.decode(row[1])
        }
        for row in try Row.fetchAll(db, sql: "SELECT namespace, name, type FROM search_attributes") {
            let typeName: String = row[2]
            guard let type = SearchAttributeType(rawValue: typeName) else {
                throw StoreError(.corrupt, "search attribute \(row[1] as String) has unknown type \(typeName)")
            }
            loaded.registeredSearchAttributes[row[0], default: [:]][row[1]] = type
        }
        for row in try Row.fetchAll(db, sql: "SELECT namespace, schedule_id, body FROM schedules") {
            let key = ScheduleKey(namespace: row[0], scheduleID: row[1])
            do {
                loaded.scheduleRecords[key] = try StoredSchedule.decode(row[2])
            } catch {
                throw StoreError(.corrupt, "schedule \(key.scheduleID) (namespace \(key.namespace)) does not read: \(error)")
            }
        }
        for row in try Row.fetchAll(db, sql: "SELECT namespace, job_id, body FROM batches") {
            let key = BatchKey(namespace: row[0], jobID: row[1])
            do {
                loaded.batchRecords[key] = try StoredBatch.decode(row[2])
            } catch {
                throw StoreError(.corrupt, "batch operation \(key.jobID) (namespace \(key.namespace)) does not read: \(error)")
            }
        }
        return (loaded, rows)
    }

    /// Reads every run, current run and record the file holds (what recovery folds).
    package mutating func load() throws {
        do {
            let runRows: [String: (row: Int64, nextSeq: Int64)]
            (loaded, runRows) = try database.read { db in try Self.load(db) }
            writer.start(from: runRows)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.io, "reading the durable store: \(error)")
        }
    }

    package var runs: [(runID: String, changes: [RunChange])] { loaded.runs }
    package var currentRuns: [WorkflowKey: String] { loaded.currentRuns }
    package var namespaceRecords: [String: NamespaceRecord] { loaded.namespaceRecords }
    package var registeredSearchAttributes: [String: [String: SearchAttributeType]] { loaded.registeredSearchAttributes }
    package var scheduleRecords: [ScheduleKey: ScheduleRecord] { loaded.scheduleRecords }
    package var batchRecords: [BatchKey: BatchRecord] { loaded.batchRecords }

    package mutating func didRecover() { loaded = Loaded() }

    // MARK: Writing

    /// Admits the transition to the writer's next commit (see `GroupCommitWriter`); answers wait for it at
    /// `durability`. A store that cannot write stops the process before anyone is told.
    package mutating func commit(_ transition: Transition) {
        guard transition.changesStore else { return }
        writer.admit(transition)
    }

    package var durability: DurabilityBarrier? { writer.barrier }

    /// Commits what the writer holds, closes the file, then lets the claim go.
    package mutating func close() {
        writer.close()
        claim.release()
    }

    /// One transition's rows, inside the writer's transaction.
    static func write(_ transition: Transition, to db: Database,
                              rows: inout [String: (row: Int64, nextSeq: Int64)]) throws {
        if !transition.journal.isEmpty {
            let insertRun = try db.cachedStatement(sql: "INSERT INTO runs (run_id) VALUES (?)")
            let insertChange = try db.cachedStatement(sql: "INSERT INTO changes (run, seq, kind, body) VALUES (?, ?, ?, ?)")
            for entry in transition.journal {
                if rows[entry.runID] == nil {
                    try insertRun.execute(arguments: [entry.runID])
                    rows[entry.runID] = (db.lastInsertedRowID, 0)
                }
                let (row, seq) = rows[entry.runID]!
                let (kind, body) = try StoredChange.encode(entry.change)
                try insertChange.execute(arguments: [row, seq, kind, body])
                rows[entry.runID]!.nextSeq = seq + 1
            }
        }
        if !transition.currentRuns.isEmpty || !transition.clearedCurrentRuns.isEmpty {
            let upsert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO current_runs (namespace, workflow_id, run_id) VALUES (?, ?, ?)")
            for (key, runID) in transition.currentRuns {
                try upsert.execute(arguments: [key.namespace, key.workflowID, runID])
            }
            let clear = try db.cachedStatement(sql: "DELETE FROM current_runs WHERE namespace = ? AND workflow_id = ?")
            for key in transition.clearedCurrentRuns where transition.currentRuns[key] == nil {
                try clear.execute(arguments: [key.namespace, key.workflowID])
            }
        }
        for runID in transition.deletedRuns {
            guard let (row, _) = rows.removeValue(forKey: runID) else { continue }
            try db.execute(sql: "DELETE FROM changes WHERE run = ?", arguments: [row])
            try db.execute(sql: "DELETE FROM runs WHERE id = ?", arguments: [row])
        }
        for (name, record) in transition.namespaceRecords {
            try db.execute(sql: "INSERT OR REPLACE INTO namespaces (name, body) VALUES (?, ?)",
                           arguments: [name, try StoredNamespace.encode(record)])
        }
        for (key, record) in transition.scheduleRecords {
            try db.execute(sql: "INSERT OR REPLACE INTO schedules (namespace, schedule_id, body) VALUES (?, ?, ?)",
                           arguments: [key.namespace, key.scheduleID, try StoredSchedule.encode(record)])
        }
        for key in transition.deletedSchedules where transition.scheduleRecords[key] == nil {
            try db.execute(sql: "DELETE FROM schedules WHERE namespace = ? AND schedule_id = ?",
                           arguments: [key.namespace, key.scheduleID])
        }
        for (key, record) in transition.batchRecords {
            try db.execute(sql: "INSERT OR REPLACE INTO batches (namespace, job_id, body) VALUES (?, ?, ?)",
                           arguments: [key.namespace, key.jobID, try StoredBatch.encode(record)])
        }
        for key in transition.deletedBatches where transition.batchRecords[key] == nil {
            try db.execute(sql: "DELETE FROM batches WHERE namespace = ? AND job_id = ?", arguments: [key.namespace, key.jobID])
        }
        for (namespace, types) in transition.registeredSearchAttributes {
            try db.execute(sql: "DELETE FROM search_attributes WHERE namespace = ?", arguments: [namespace])
            for (name, type) in types {
                try db.execute(sql: "INSERT INTO search_attributes (namespace, name, type) VALUES (?, ?, ?)",
                               arguments: [namespace, name, type.rawValue])
            }
        }
    }
}

/// Why a store could not be opened or read.
package struct StoreError: Error, CustomStringConvertible {
    package enum Code: Sendable { case invalidPragma, busy, io, corrupt }
    package var code: Code
    package var message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}
