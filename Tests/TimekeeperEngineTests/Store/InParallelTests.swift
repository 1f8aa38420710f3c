import Foundation
import Synchronization
internal import SwiftProtobuf
internal import TemporalAPI
import Testing
@testable import TimekeeperEngine
import TimekeeperStore

/// Recovery decodes and rebuilds runs in parallel (`InParallel`): the results keep the items' order, the
/// first failure in order is the one thrown, and a file of many runs rebuilds the same runs and histories
/// the live engine had.
@Suite struct InParallelTests {
    struct Refused: Error, Equatable { let item: Int }

    @Test func slicesRunOnSeveralThreadsAndKeepTheOrder() throws {
        let items = Array(0..<10_000)
        let threads = Mutex<Set<UInt>>([])
        let mapped = try InParallel.map(items) { (item: Int) throws(Refused) -> Int in
            if item % 1000 == 0 { threads.withLock { _ = $0.insert(UInt(pthread_self())) } }
            return item * 2
        }
        #expect(mapped == items.map { $0 * 2 })
        if ProcessInfo.processInfo.activeProcessorCount > 1 {
            #expect(threads.withLock { $0.count } > 1, "more than one thread mapped the slices")
        }
    }

    @Test func theFirstFailureInOrderIsThrown() {
        let thrown = #expect(throws: Refused.self) {
            _ = try InParallel.map(Array(0..<10_000)) { (item: Int) throws(Refused) -> Int in
                if item == 9_000 || item == 200 { throw Refused(item: item) }
                return item
            }
        }
        #expect(thrown == Refused(item: 200))
    }

    @Test func aFileOfManyRunsRebuildsTheLiveRunsAndHistories() throws {
        let path = StoreFiles.temporaryPath("parallel-recovery")
        defer { StoreFiles.remove(path) }
        var store = try SQLiteExecutionStore(path: path)
        try store.load()
        var scenario = Scenario(skipsTime: false, startsLocked: false)
        var created: [String] = []
        for index in 0..<1_200 {
            created.append(try scenario.start("w\(index)", requestID: "r\(index)").runID)
            if index % 3 == 0 {
                try scenario.core.terminateWorkflow(.with {
                    $0.namespace = "default"
                    $0.workflowExecution.workflowID = "w\(index)"
                }, wallNow: scenario.wall)
            }
        }
        store.commit(scenario.core.takeTransition())
        store.close()

        var reopened = try SQLiteExecutionStore(path: path)
        try reopened.load()
        defer { reopened.close() }
        #expect(reopened.runs.map(\.runID) == created, "runs in the order they were created")
        let recovered = try EngineCore(recovering: reopened, configuration: scenario.core.configuration,
                                       wallNow: scenario.wall, makeRunID: { "recovered" })
        #expect(recovered.runs.count == 1_200)
        for (runID, live) in scenario.core.runs {
            #expect(recovered.runs[runID]?.status == live.status, "run \(live.ref.workflowID)")
            #expect(recovered.history(runID) == scenario.core.history(runID), "history of \(live.ref.workflowID)")
        }
    }
}
