import Dispatch
import Foundation
import Synchronization
import Testing
@testable import TimekeeperEngine
import TimekeeperStore

/// The SQLite store's writer: transitions admitted while a commit is being written share the next one,
/// the barrier says how far the file has got, and closing commits what is pending first.
@Suite struct GroupCommitTests {
    /// Holds the writer inside its first commit until released.
    final class FirstCommitGate: Sendable {
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        private let commits = Mutex(0)

        func beforeCommit() {
            let first = commits.withLock { count in
                count += 1
                return count == 1
            }
            if first {
                entered.signal()
                release.wait()
            }
        }
    }

    @Test func transitionsAdmittedDuringACommitShareTheNextOne() throws {
        let path = StoreFiles.temporaryPath("group-commit")
        defer { StoreFiles.remove(path) }
        let gate = FirstCommitGate()
        var store = try SQLiteExecutionStore(path: path, beforeCommit: { gate.beforeCommit() })
        try store.load()
        let barrier = try #require(store.durability)
        var scenario = Scenario(skipsTime: false, startsLocked: false)

        _ = try scenario.start("w-0", requestID: "r-0")
        store.commit(scenario.core.takeTransition())
        gate.entered.wait()  // the writer is inside the first commit
        for index in 1..<20 {
            _ = try scenario.start("w-\(index)", requestID: "r-\(index)")
            store.commit(scenario.core.takeTransition())
        }
        #expect(!barrier.isCaughtUp)
        let answered = Mutex(false)
        #expect(barrier.whenDurable { answered.withLock { $0 = true } })
        gate.release.signal()
        store.close()

        #expect(barrier.isCaughtUp)
        #expect(answered.withLock { $0 })
        let (transitions, commits) = store.writer.statistics
        #expect(transitions == 20)
        #expect(commits == 2, "the 19 transitions admitted during the first commit went in one more")

        var reopened = try SQLiteExecutionStore(path: path)
        try reopened.load()
        #expect(reopened.runs.count == 20)
        #expect(reopened.currentRuns.count == 20)
        reopened.close()
    }

    @Test func aStoreWithNothingPendingAnswersAtOnce() throws {
        let path = StoreFiles.temporaryPath("group-commit-idle")
        defer { StoreFiles.remove(path) }
        var store = try SQLiteExecutionStore(path: path)
        try store.load()
        let barrier = try #require(store.durability)
        #expect(barrier.isCaughtUp)
        #expect(!barrier.whenDurable { Issue.record("ran although nothing was pending") })
        var scenario = Scenario(skipsTime: false, startsLocked: false)
        _ = try scenario.start("w-1")
        store.commit(scenario.core.takeTransition())
        store.close()
        #expect(barrier.isCaughtUp)
    }

    @Test func theBarrierRunsEachWaiterOnceItsPrefixIsDurable() {
        let barrier = DurabilityBarrier()
        let ran = Mutex<[String]>([])
        let first = barrier.admit()
        #expect(barrier.whenDurable { ran.withLock { $0.append("after 1") } })
        let second = barrier.admit()
        #expect(barrier.whenDurable { ran.withLock { $0.append("after 2") } })
        barrier.markDurable(through: first)
        #expect(ran.withLock { $0 } == ["after 1"])
        #expect(!barrier.isCaughtUp)
        barrier.markDurable(through: second)
        #expect(ran.withLock { $0 } == ["after 1", "after 2"])
        #expect(barrier.isCaughtUp)
        #expect(!barrier.whenDurable { ran.withLock { $0.append("never") } })
    }
}
