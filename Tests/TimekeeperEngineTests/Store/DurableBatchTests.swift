import Foundation
import Synchronization
import Testing
internal import SwiftProtobuf
internal import TemporalAPI
@testable import TimekeeperEngine
import TimekeeperStore

/// Batch operations in the durable store: each transition that starts, moves on or stops a batch carries
/// its record, the file gives every record back, and a batch that was running when the server stopped goes
/// on from where it was once the engine is rebuilt (Temporal's batches are workflows: they survive a restart).
@Suite struct DurableBatchTests {
    static func signalBatch() -> StartBatchRequest {
        .with {
            $0.namespace = "default"
            $0.jobID = "poke-all"
            $0.reason = "wake them"
            $0.visibilityQuery = "WorkflowType = 'Hello'"
            $0.signalOperation = .with {
                $0.signal = "poke"
                $0.identity = "cli"
                $0.input = .with { $0.payloads = [.with { $0.data = Data("\"hi\"".utf8) }] }
                $0.header.fields["trace"] = .with { $0.data = Data("t-1".utf8) }
            }
        }
    }

    @Test func batchesAreKeptAndARunningOneGoesOnAfterARestart() async throws {
        let path = StoreFiles.temporaryPath("durable-batches")
        defer { StoreFiles.remove(path) }
        var store = try SQLiteExecutionStore(path: path)
        try store.load()
        var scenario = Scenario(skipsTime: false, startsLocked: false)
        for index in 0..<5 { _ = try scenario.start("w\(index)", requestID: "r\(index)") }
        _ = try scenario.start("gone", requestID: "g") { $0.workflowType.name = "Other" }
        let done = try scenario.core.startBatch(.with {
            $0.namespace = "default"
            $0.jobID = "terminate-other"
            $0.reason = "tidy up"
            $0.executions = [.with { $0.workflowID = "gone" }]
            $0.terminationOperation = .with { $0.identity = "cli" }
        }, wallNow: scenario.wall)
        let doneHasMore = scenario.core.advanceBatch(done, limit: 100, wallNow: scenario.wall)
        #expect(doneHasMore == false)
        store.commit(scenario.core.takeTransition())
        let running = try scenario.core.startBatch(Self.signalBatch(), wallNow: scenario.wall)
        let runningHasMore = scenario.core.advanceBatch(running, limit: 2, wallNow: scenario.wall)
        #expect(runningHasMore)
        let carried = scenario.core.takeTransition()
        #expect(Set(carried.batchRecords.keys.map(\.jobID)) == ["poke-all"], "only the batch that moved is carried")
        store.commit(carried)
        store.close()

        var reopened = try SQLiteExecutionStore(path: path)
        try reopened.load()
        let kept = try #require(reopened.batchRecords[running])
        #expect(kept.state == .running && kept.total == 5 && kept.succeeded == 2 && kept.remaining.count == 3)
        #expect(kept.remaining == scenario.core.batches[running]?.remaining)
        guard case .signal(let name, let input, let header) = kept.operation else {
            Issue.record("the kept batch is not a signal batch: \(kept.operation)")
            return
        }
        #expect(name == "poke" && input?.payloads.first?.data == Data("\"hi\"".utf8))
        #expect(header?.fields["trace"]?.data == Data("t-1".utf8))
        #expect(kept.identity == "cli" && kept.reason == "wake them" && kept.query == "WorkflowType = 'Hello'")
        #expect(reopened.batchRecords[done]?.state == .completed && reopened.batchRecords[done]?.closedAt != nil)
        reopened.close()

        // A server on the file: the running batch visits the three runs it had left.
        let engine = Engine(configuration: .init(skipsTime: false, startsLocked: false))
        let opened = RecoveryOpeningTests.Opened()
        engine.recoverInBackground(claiming: RecoveryOpeningTests.claimTimingTheOpening(path, opened), prepare: { _, _ in },
                                   onFailure: { Issue.record("recovery failed: \($0)") })
        await engine.ready.opened()
        var described = try engine.describeBatchOperation(namespace: "default", jobID: "poke-all")
        for _ in 0..<200 where described.state == .running {
            try await Task.sleep(for: .milliseconds(10))
            described = try engine.describeBatchOperation(namespace: "default", jobID: "poke-all")
        }
        #expect(described.state == .completed)
        #expect([described.totalOperationCount, described.completeOperationCount, described.failureOperationCount] == [5, 5, 0])
        for index in 0..<5 {
            let history = try await engine.readHistory(.with {
                $0.namespace = "default"
                $0.execution.workflowID = "w\(index)"
            }, timeout: .seconds(5)).history.events
            let signals = history.filter { $0.eventType == .workflowExecutionSignaled }
            #expect(signals.count == 1, "w\(index) is signalled once, before or after the restart")
            #expect(signals.first?.workflowExecutionSignaledEventAttributes.header.fields["trace"]?.data == Data("t-1".utf8))
        }
        #expect(try engine.describeBatchOperation(namespace: "default", jobID: "terminate-other").state == .completed)
        var store2 = try #require(opened.store.withLock { $0 })
        store2.close()
    }
}
