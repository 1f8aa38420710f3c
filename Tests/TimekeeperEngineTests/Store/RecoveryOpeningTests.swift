import Dispatch
import Foundation
import SwiftProtobuf
import Synchronization
import TemporalAPI
import Testing
@testable import TimekeeperEngine
import TimekeeperStore

/// A durable server claims its file and opens its store on the recovery thread while it starts listening:
/// `storeClaimed` (what GetSystemInfo waits for) opens once the file is this process's, before SQLite opens
/// it, `ready` (what every other call waits for) once the engine is rebuilt from it, and the opening and
/// reading run at a lower priority than the event loop.
@Suite struct RecoveryOpeningTests {
    /// The file's store, once the recovery thread has opened it (to be closed by the test).
    final class Opened: Sendable {
        let store = Mutex<SQLiteExecutionStore?>(nil)
    }

    @Test func theStoreOpensOnTheRecoveryThreadAndTheEngineIsReadyOnceRebuiltFromIt() async throws {
        let path = StoreFiles.temporaryPath("recovery-opening")
        defer { StoreFiles.remove(path) }
        var writing = try SQLiteExecutionStore(path: path)
        try writing.load()
        var scenario = Scenario(skipsTime: false, startsLocked: false)
        _ = try scenario.start("kept")
        writing.commit(scenario.core.takeTransition())
        writing.close()

        let engine = Engine(configuration: .init(skipsTime: false, startsLocked: false))
        let mayClaim = DispatchSemaphore(value: 0)
        let mayOpen = DispatchSemaphore(value: 0)
        let opened = Opened()
        let niceWhileOpening = Mutex<Int32?>(nil)
        let niceWhileRebuilding = Mutex<Int32?>(nil)
        engine.recoverInBackground(claiming: {
            mayClaim.wait()
            let claim = try FileClaim(path: path)
            return StoreClaim {
                niceWhileOpening.withLock { $0 = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }
                mayOpen.wait()
                let store = try SQLiteExecutionStore(claim: claim)
                opened.store.withLock { $0 = store }
                return store
            }
        }, prepare: { _, _ in
            niceWhileRebuilding.withLock { $0 = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }
        }, onFailure: { Issue.record("recovery failed: \($0)") })

        #expect(!engine.storeClaimed.isOpen, "the file is not claimed yet")
        #expect(!engine.ready.isOpen)
        mayClaim.signal()
        await engine.storeClaimed.opened()
        #expect(!engine.ready.isOpen, "claimed, and the store is not open yet")
        #expect(opened.store.withLock { $0 } == nil)
        mayOpen.signal()
        await engine.ready.opened()
        #expect(niceWhileOpening.withLock { $0 } == 10, "the store opens below the event loop's priority")
        #expect(niceWhileRebuilding.withLock { $0 } == 10, "the recovery reads below the event loop's priority")
        let described = try engine.describeWorkflow(.with {
            $0.namespace = "default"
            $0.execution.workflowID = "kept"
        })
        #expect(described.workflowExecutionInfo.execution.workflowID == "kept")
        var store = try #require(opened.store.withLock { $0 })
        store.close()
    }

    @Test func aFileAnotherServerHoldsIsAFailureAndNeverSaysItIsClaimed() async throws {
        let path = StoreFiles.temporaryPath("recovery-opening-held")
        defer { StoreFiles.remove(path) }
        var holder = try SQLiteExecutionStore(path: path)  // another server has the file
        try holder.load()
        defer { holder.close() }

        let engine = Engine(configuration: .init(skipsTime: false, startsLocked: false))
        let failure = Mutex<String?>(nil)
        let failed = DispatchSemaphore(value: 0)
        engine.recoverInBackground(claiming: {
            let claim = try FileClaim(path: path)
            return StoreClaim { try SQLiteExecutionStore(claim: claim) }
        }, prepare: { _, _ in
            Issue.record("prepared an engine whose store did not open")
        }, onFailure: { error in
            failure.withLock { $0 = "\(error)" }
            failed.signal()
        })
        failed.wait()
        #expect(failure.withLock { $0 }?.contains("is in use by another process") == true)
        #expect(!engine.storeClaimed.isOpen)
    }
}
