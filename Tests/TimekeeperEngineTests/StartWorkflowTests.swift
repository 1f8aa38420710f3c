import SwiftProtobuf
import Testing
import TemporalAPI
@testable import TimekeeperEngine

@Suite struct StartWorkflowTests {
    /// Breaks one field of an otherwise good request.
    static func breaking(_ field: String, _ request: inout StartWorkflowRequest) {
        switch field {
        case "workflow_id": request.workflowID = ""
        case "workflow_type.name": request.workflowType.name = ""
        case "task_queue.name": request.taskQueue.name = ""
        case "namespace": request.namespace = ""
        case "request_id": request.requestID = ""
        case "workflow_run_timeout": request.workflowRunTimeout.seconds = -1
        default: Issue.record("no way to break \(field)")
        }
    }

    @Test(arguments: ["workflow_id", "workflow_type.name", "task_queue.name", "namespace", "request_id", "workflow_run_timeout"])
    func aMissingOrBadFieldIsRejectedByName(field: String) throws {
        var scenario = Scenario()
        let error = try #require(throws: EngineError.self) { try scenario.start("wf") { Self.breaking(field, &$0) } }
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains(field))
        #expect(scenario.core.runs.isEmpty)
    }

    @Test func theSameRequestIDAgainReturnsTheSameRun() throws {
        var scenario = Scenario()
        let first = try scenario.start("wf", requestID: "same")
        let again = try scenario.start("wf", requestID: "same")
        #expect(again == first)
        #expect(scenario.core.runs.count == 1)
    }

    @Test func aSecondStartOfARunningWorkflowFailsWithTheRunningRunInTheDetail() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf", requestID: "a")
        let error = try #require(throws: EngineError.self) { try scenario.start("wf", requestID: "b") }
        #expect(error.code == .alreadyExists)
        guard case .workflowExecutionAlreadyStarted(let requestID, let runID) = error.detail else {
            Issue.record("expected a WorkflowExecutionAlreadyStartedFailure detail")
            return
        }
        #expect(requestID == "a")
        #expect(runID == "run-1")
    }

    @Test func conflictPoliciesUseOrTerminateTheRunningRun() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf", requestID: "a")
        let existing = try scenario.start("wf", requestID: "b") { $0.workflowIDConflictPolicy = .useExisting }
        #expect(existing == StartOutcome(runID: "run-1", started: false))

        let replaced = try scenario.start("wf", requestID: "c") { $0.workflowIDConflictPolicy = .terminateExisting }
        #expect(replaced == StartOutcome(runID: "run-2", started: true))
        #expect(scenario.run("run-1")?.status == .terminated)
        #expect(scenario.core.clock.holds[.workflowTask(runID: "run-1")] == nil)
    }

    @Test func reusePoliciesDecideWhetherAClosedWorkflowIDMayStartAgain() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf", requestID: "a")
        try scenario.complete(try #require(try scenario.poll()), [completeCommand()])

        let rejected = try #require(throws: EngineError.self) {
            try scenario.start("wf", requestID: "b") { $0.workflowIDReusePolicy = .rejectDuplicate }
        }
        #expect(rejected.code == .alreadyExists)
        let failedOnly = try #require(throws: EngineError.self) {
            try scenario.start("wf", requestID: "c") { $0.workflowIDReusePolicy = .allowDuplicateFailedOnly }
        }
        #expect(failedOnly.code == .alreadyExists)
        #expect(try scenario.start("wf", requestID: "d").runID == "run-2")
    }

    @Test func timeoutsAreNormalisedAsTheJavaTestServerDoes() {
        let unset = WorkflowTimeouts(execution: .zero, run: .zero, workflowTask: .zero)
        #expect(unset == WorkflowTimeouts(execution: WorkflowTimeouts.tenYears, run: WorkflowTimeouts.tenYears, workflowTask: .seconds(10)))
        let capped = WorkflowTimeouts(execution: .seconds(600), run: .seconds(3600), workflowTask: .seconds(300))
        #expect(capped.run == .seconds(600))
        #expect(capped.workflowTask == .seconds(120))
        #expect(WorkflowTimeouts(execution: .zero, run: .seconds(5), workflowTask: .zero).workflowTask == .seconds(5))
    }
}
