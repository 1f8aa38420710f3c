import Dispatch
import Foundation
import SwiftProtobuf
import Synchronization
import TemporalAPI
import Testing
@testable import TimekeeperEngine
import TimekeeperStore

/// A durable server opens its store on the recovery thread while it starts listening: `storeOpen` (what
/// GetSystemInfo waits for) opens once the file is open, `ready` (what every other call waits for) once the
/// engine is rebuilt from it, and the reading runs at a lower priority than the event loop.
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
        let mayOpen = DispatchSemaphore(value: 0)
        let opened = Opened()
        let niceWhileRebuilding = Mutex<Int32?>(nil)
        engine.recoverInBackground(opening: {
            mayOpen.wait()
            let store = try SQLiteExecutionStore(path: path)
            opened.store.withLock { $0 = store }
            return store
        }, prepare: { _, _ in
            niceWhileRebuilding.withLock { $0 = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }
        }, onFailure: { Issue.record("recovery failed: \($0)") })

        #expect(!engine.storeOpen.isOpen, "the file is not open yet")
        #expect(!engine.ready.isOpen)
        mayOpen.signal()
        await engine.storeOpen.opened()
        await engine.ready.opened()
        #expect(niceWhileRebuilding.withLock { $0 } == 10, "the recovery reads below the event loop's priority")
        let described = try engine.describeWorkflow(.with {
            $0.namespace = "default"
            $0.execution.workflowID = "kept"
        })
        #expect(described.workflowExecutionInfo.execution.workflowID == "kept")
        var store = try #require(opened.store.withLock { $0 })
        store.close()
    }

    @Test func aStoreThatDoesNotOpenIsAFailureAndNeverSaysItIsOpen() async throws {
        let path = StoreFiles.temporaryPath("recovery-opening-held")
        defer { StoreFiles.remove(path) }
        var holder = try SQLiteExecutionStore(path: path)  // another server has the file
        try holder.load()
        defer { holder.close() }

        let engine = Engine(configuration: .init(skipsTime: false, startsLocked: false))
        let failure = Mutex<String?>(nil)
        let failed = DispatchSemaphore(value: 0)
        engine.recoverInBackground(opening: { try SQLiteExecutionStore(path: path) }, prepare: { _, _ in
            Issue.record("prepared an engine whose store did not open")
        }, onFailure: { error in
            failure.withLock { $0 = "\(error)" }
            failed.signal()
        })
        failed.wait()
        #expect(failure.withLock { $0 }?.contains("is in use by another process") == true)
        #expect(!engine.storeOpen.isOpen)
    }
}
