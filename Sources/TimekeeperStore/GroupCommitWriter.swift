internal import Dispatch
internal import Foundation
internal import GRDB
internal import Synchronization
package import TimekeeperEngine

/// Writes the transitions the engine admits, on a thread of its own, several to one SQLite transaction
/// (group commit): while one commit is being written (and, with `synchronous=FULL`, synced), the engine
/// goes on and the transitions it admits meanwhile wait to share the next one. Each commit holds a prefix
/// of the engine's transitions, so the file always holds the state after some transition, never half of
/// one. Answers wait at the `barrier` until what they were made from is committed.
package final class GroupCommitWriter: Sendable {
    package let barrier: DurabilityBarrier
    private let database: DatabaseQueue
    private let queue = DispatchQueue(label: "timekeeper.store.writer")
    private let beforeCommit: (@Sendable () -> Void)?

    private struct Pending {
        var transitions: [Transition] = []
        var lastNumber: UInt64 = 0
        var draining = false
        var closed = false
    }

    private let pending = Mutex(Pending())

    /// What only the writer's thread touches (a lock nobody contends, for the compiler's sake).
    private struct Written {
        /// Each run's row id and the sequence number its next change gets.
        var runRows: [String: (row: Int64, nextSeq: Int64)] = [:]
        var commits = 0
        var transitions = 0
    }

    private let written = Mutex(Written())

    /// `beforeCommit` runs on the writer's thread before each commit (tests hold the writer with it).
    init(database: DatabaseQueue, barrier: DurabilityBarrier, beforeCommit: (@Sendable () -> Void)? = nil) {
        self.database = database
        self.barrier = barrier
        self.beforeCommit = beforeCommit
    }

    /// The row ids and next sequence numbers read from the file, before any transition is admitted.
    func start(from runRows: [String: (row: Int64, nextSeq: Int64)]) {
        written.withLock { $0.runRows = runRows }
    }

    /// How many transitions were committed, in how many SQLite transactions.
    package var statistics: (transitions: Int, commits: Int) {
        written.withLock { ($0.transitions, $0.commits) }
    }

    /// Takes `transition` to be written with the next commit (called under the engine's lock).
    func admit(_ transition: Transition) {
        let startDrain = pending.withLock { pending -> Bool in
            // After a graceful shutdown has closed the store nobody is answered any more: what the engine
            // still does (a timer of its last moments) is not kept, as if the server had stopped before.
            if pending.closed { return false }
            pending.lastNumber = barrier.admit()
            pending.transitions.append(transition)
            if pending.draining { return false }
            pending.draining = true
            return true
        }
        if startDrain { queue.async { self.drain() } }
    }

    /// Commits what is pending, again and again until nothing is.
    private func drain() {
        while true {
            let (batch, through) = pending.withLock { pending -> ([Transition], UInt64) in
                if pending.transitions.isEmpty { pending.draining = false }
                defer { pending.transitions = [] }
                return (pending.transitions, pending.lastNumber)
            }
            guard !batch.isEmpty else { return }
            beforeCommit?()
            do {
                try written.withLock { written in
                    var rows = written.runRows
                    try database.write { db in
                        for transition in batch { try SQLiteExecutionStore.write(transition, to: db, rows: &rows) }
                    }
                    written.runRows = rows
                    written.commits += 1
                    written.transitions += batch.count
                }
            } catch {
                // Nobody has been told of these transitions (their answers wait at the barrier); the next
                // start recovers the last commit.
                FileHandle.standardError.write(Data("timekeeper: the durable store could not commit, stopping: \(error)\n".utf8))
                exit(74)  // EX_IOERR
            }
            barrier.markDurable(through: through)
        }
    }

    /// Waits until everything admitted is committed, then closes the file; what is admitted after is dropped.
    func close() {
        pending.withLock { $0.closed = true }
        queue.sync {}  // a drain in progress or scheduled runs until nothing is pending
        try? database.close()
    }
}
