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
        /// When the file was claimed and when the store began to open (the time between is the wait).
        let claimedAt = Mutex<ContinuousClock.Instant?>(nil)
        let openingAt = Mutex<ContinuousClock.Instant?>(nil)
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

    /// Claims the file and opens its store, recording when in `opened`.
    static func claimTimingTheOpening(_ path: String, _ opened: Opened) -> @Sendable () throws -> StoreClaim {
        return {
            let claim = try FileClaim(path: path)
            opened.claimedAt.withLock { $0 = ContinuousClock.now }
            return StoreClaim {
                opened.openingAt.withLock { $0 = ContinuousClock.now }
                let store = try SQLiteExecutionStore(claim: claim)
                opened.store.withLock { $0 = store }
                return store
            }
        }
    }

    @Test func theReadingWaitsForAReadinessProbeToBeAnswered() async throws {
        let path = StoreFiles.temporaryPath("recovery-probe")
        defer { StoreFiles.remove(path) }
        let engine = Engine(configuration: .init(skipsTime: false, startsLocked: false))
        let opened = Opened()
        // A long wait: the engine is ready in time only because the probe's answer ends it.
        engine.recoverInBackground(claiming: Self.claimTimingTheOpening(path, opened),
                                   prepare: { _, _ in }, waitingForAProbe: .seconds(30),
                                   onFailure: { Issue.record("recovery failed: \($0)") })
        await engine.storeClaimed.opened()
        try await Task.sleep(for: .milliseconds(50))
        #expect(opened.openingAt.withLock { $0 } == nil, "nothing is read before a probe is answered")
        engine.letRecoveryRead()
        let began = ContinuousClock.now
        await engine.ready.opened()
        #expect(ContinuousClock.now - began < .seconds(10))
        var store = try #require(opened.store.withLock { $0 })
        store.close()
    }

    @Test func aCallWaitingForTheEngineEndsTheWaitForAProbe() async throws {
        let path = StoreFiles.temporaryPath("recovery-call")
        defer { StoreFiles.remove(path) }
        let engine = Engine(configuration: .init(skipsTime: false, startsLocked: false))
        let opened = Opened()
        engine.recoverInBackground(claiming: Self.claimTimingTheOpening(path, opened), prepare: { _, _ in },
                                   waitingForAProbe: .seconds(30), onFailure: { Issue.record("recovery failed: \($0)") })
        await engine.storeClaimed.opened()
        let began = ContinuousClock.now
        await engine.ready.opened()  // a call that needs the engine waits like this (`UnaryRouter.waitForReadiness`)
        #expect(ContinuousClock.now - began < .seconds(10))
        var store = try #require(opened.store.withLock { $0 })
        store.close()
    }

    @Test func withoutAProbeTheReadingWaitsAMomentOnly() async throws {
        let path = StoreFiles.temporaryPath("recovery-no-probe")
        defer { StoreFiles.remove(path) }
        let engine = Engine(configuration: .init(skipsTime: false, startsLocked: false))
        let opened = Opened()
        engine.recoverInBackground(claiming: Self.claimTimingTheOpening(path, opened),
                                   prepare: { _, _ in }, waitingForAProbe: .milliseconds(40),
                                   onFailure: { Issue.record("recovery failed: \($0)") })
        while !engine.ready.isOpen { try await Task.sleep(for: .milliseconds(5)) }  // not waiting on the gate: that wakes it
        let waited = try #require(opened.openingAt.withLock { $0 }) - (try #require(opened.claimedAt.withLock { $0 }))
        #expect(waited >= .milliseconds(35), "the reading waited for a probe first")
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
