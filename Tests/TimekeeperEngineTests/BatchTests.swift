import Foundation
import SwiftProtobuf
import TemporalAPI
import Testing
@testable import TimekeeperEngine

/// Batch operations over a query's matches or named executions: what each visits, the counts, the
/// one-open-batch rule, stopping, and the refusals Temporal's server gives.
@Suite struct BatchTests {
    func batch(_ jobID: String, query: String = "", _ configure: (inout StartBatchRequest) -> Void) -> StartBatchRequest {
        .with {
            $0.namespace = "default"
            $0.jobID = jobID
            $0.reason = "tidy up"
            $0.visibilityQuery = query
            configure(&$0)
        }
    }

    /// The error `body` throws, if it throws one.
    func refusal(_ body: () throws(EngineError) -> Void) -> EngineError? {
        do throws(EngineError) { try body() } catch { return error }
        return nil
    }

    @Test func terminateByQueryVisitsOnlyTheRunningMatches() throws {
        var scenario = Scenario()
        for id in ["a", "b", "c"] { _ = try scenario.start(id, requestID: id) }
        _ = try scenario.start("other", requestID: "o") { $0.workflowType.name = "Other" }
        try scenario.core.terminateWorkflow(.with { $0.namespace = "default"; $0.workflowExecution.workflowID = "c" },
                                            wallNow: scenario.wall)
        let key = try scenario.core.startBatch(batch("job-1", query: "WorkflowType = 'Hello'") {
            $0.terminationOperation = .with { $0.identity = "cli" }
        }, wallNow: scenario.wall)
        let more1 = scenario.core.advanceBatch(key, limit: 100, wallNow: scenario.wall)
        #expect(more1 == false)
        let statuses = ["a", "b", "other"].map { id in scenario.core.runs.values.first { $0.ref.workflowID == id }?.status }
        #expect(statuses == [.terminated, .terminated, .running])
        let described = try scenario.core.describeBatch(namespace: "default", jobID: "job-1")
        #expect(described.state == .completed && described.operationType == .terminateWorkflow)
        #expect([described.totalOperationCount, described.completeOperationCount, described.failureOperationCount] == [2, 2, 0])
        #expect(described.identity == "cli" && described.reason == "tidy up" && described.query == "WorkflowType = 'Hello'")
        #expect(described.hasCloseTime)
    }

    @Test func aLargeBatchGoesOnAChunkAtATimeAndStoppingLeavesTheRestAlone() throws {
        var scenario = Scenario()
        for index in 0..<5 { _ = try scenario.start("w\(index)", requestID: "r\(index)") }
        let key = try scenario.core.startBatch(batch("job-2", query: "ExecutionStatus = 'Running'") {
            $0.signalOperation = .with { $0.signal = "poke"; $0.identity = "cli" }
        }, wallNow: scenario.wall)
        let more2 = scenario.core.advanceBatch(key, limit: 2, wallNow: scenario.wall)
        #expect(more2)
        var described = try scenario.core.describeBatch(namespace: "default", jobID: "job-2")
        #expect(described.state == .running && described.totalOperationCount == 5 && described.completeOperationCount == 2)
        // Another batch in the namespace must wait for this one.
        let second = batch("job-3", query: "WorkflowId = 'w0'") { $0.cancellationOperation = .init() }
        #expect(refusal { () throws(EngineError) in _ = try scenario.core.startBatch(second, wallNow: scenario.wall) }?.code == .resourceExhausted)
        try scenario.core.stopBatch(.with { $0.namespace = "default"; $0.jobID = "job-2"; $0.reason = "enough" }, wallNow: scenario.wall)
        let more3 = scenario.core.advanceBatch(key, limit: 100, wallNow: scenario.wall)
        #expect(more3 == false)
        described = try scenario.core.describeBatch(namespace: "default", jobID: "job-2")
        #expect(described.state == .failed && described.completeOperationCount == 2 && described.totalOperationCount == 2)
        let signalled = scenario.core.runs.values.filter { run in
            scenario.core.history(run.ref.runID).contains { $0.eventType == .workflowExecutionSignaled }
        }
        #expect(signalled.count == 2)
        // A closed batch cannot be stopped: Temporal answers NOT_FOUND, which the CLI shows as "could not find".
        let stopAgain = StopBatchRequest.with { $0.namespace = "default"; $0.jobID = "job-2"; $0.reason = "again" }
        #expect(refusal { () throws(EngineError) in try scenario.core.stopBatch(stopAgain, wallNow: scenario.wall) }?.code == .notFound)
        #expect(try scenario.core.listBatches(.with { $0.namespace = "default" }).operationInfo.map(\.jobID) == ["job-2"])
    }

    @Test func deleteByNamedExecutionsCountsAGoneRunAsDone() throws {
        var scenario = Scenario()
        _ = try scenario.start("a", requestID: "a")
        let key = try scenario.core.startBatch(batch("job-4") {
            $0.executions = [.with { $0.workflowID = "a" }, .with { $0.workflowID = "never-started" }]
            $0.deletionOperation = .init()
        }, wallNow: scenario.wall)
        let more4 = scenario.core.advanceBatch(key, limit: 100, wallNow: scenario.wall)
        #expect(more4 == false)
        #expect(scenario.core.runs.isEmpty)
        let described = try scenario.core.describeBatch(namespace: "default", jobID: "job-4")
        #expect(described.completeOperationCount == 2 && described.failureOperationCount == 0)
    }

    @Test func refusalsNameWhatIsMissingAndChangeNothing() throws {
        var scenario = Scenario()
        let cases: [(StartBatchRequest, String)] = [
            (batch("j", query: "WorkflowId = 'x'") { $0.reason = "" ; $0.terminationOperation = .init() }, "must provide required parameters"),
            (batch("j") { $0.terminationOperation = .init() }, "must provide required parameters"),
            (batch("", query: "WorkflowId = 'x'") { $0.terminationOperation = .init() }, "JobId is not set on request."),
            (batch("j", query: "WorkflowId = 'x'") { $0.executions = [.with { $0.workflowID = "x" }]; $0.terminationOperation = .init() },
             "mutually exclusive"),
            (batch("j", query: "WorkflowId = ") { $0.terminationOperation = .init() }, "invalid visibility query"),
            (batch("j", query: "WorkflowId = 'x'") { $0.resetOperation = .init() }, "not supported"),
        ]
        for (request, words) in cases {
            let error = refusal { () throws(EngineError) in _ = try scenario.core.startBatch(request, wallNow: scenario.wall) }
            #expect(error?.message.contains(words) == true, "\(String(describing: error))")
        }
        #expect(scenario.core.batches.isEmpty)
        let missing = refusal { () throws(EngineError) in _ = try scenario.core.describeBatch(namespace: "default", jobID: "nope") }
        #expect(missing?.code == .notFound && missing?.message == "workflow not found for ID: nope")
    }

    @Test func finishedBatchesAreKeptUpToALimitTheOldestGoingFirst() throws {
        var scenario = Scenario()
        let limit = EngineCore.keptBatchesPerNamespace
        for index in 0..<(limit + 5) {
            let key = try scenario.core.startBatch(batch("job-\(index)", query: "WorkflowId = 'nobody'") {
                $0.terminationOperation = .init()
            }, wallNow: scenario.wall)
            _ = scenario.core.advanceBatch(key, limit: 100, wallNow: scenario.wall)
            scenario.advanceWall(by: .milliseconds(1))
        }
        #expect(scenario.core.batches.count == limit + 1)
        #expect(scenario.core.batches[BatchKey(namespace: "default", jobID: "job-0")] == nil)
        #expect(scenario.core.batches[BatchKey(namespace: "default", jobID: "job-\(limit + 4)")] != nil)
    }
}
