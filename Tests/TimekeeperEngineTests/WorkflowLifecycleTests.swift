import SwiftProtobuf
import Testing
import TemporalAPI
@testable import TimekeeperEngine

@Suite struct WorkflowLifecycleTests {
    @Test func aStartedWorkflowHasAScheduledWorkflowTaskThatHoldsTheClock() throws {
        var scenario = Scenario()
        let outcome = try scenario.start("wf")
        #expect(outcome == StartOutcome(runID: "run-1", started: true))
        #expect(scenario.eventTypes("run-1") == [.workflowExecutionStarted, .workflowTaskScheduled])
        #expect(scenario.core.clock.holds[.workflowTask(runID: "run-1")] == 1)
        let started = try #require(scenario.run("run-1")?.history.first?.workflowExecutionStartedEventAttributes)
        // Recorded unset, as Temporal's server records it; the run still times out after 10 years.
        #expect(!started.hasWorkflowExecutionTimeout)
        #expect(!started.hasWorkflowRunTimeout)
        #expect(scenario.run("run-1")?.timeouts.execution == WorkflowTimeouts.tenYears)
        #expect(started.workflowTaskTimeout.seconds == 10)
    }

    @Test func pollingHandsOverTheTaskWithFullHistoryAndCompletingClosesTheRun() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        #expect(task.workflowExecution.workflowID == "wf")
        #expect(task.startedEventID == 3)
        #expect(task.previousStartedEventID == 0)
        #expect(task.history.events.map(\.eventID) == [1, 2, 3])
        #expect(try scenario.poll() == nil, "a task is handed out once")

        try scenario.complete(task, [completeCommand()])
        #expect(scenario.eventTypes("run-1") == [
            .workflowExecutionStarted, .workflowTaskScheduled, .workflowTaskStarted, .workflowTaskCompleted,
            .workflowExecutionCompleted,
        ])
        #expect(scenario.run("run-1")?.status == .completed)
        #expect(scenario.core.clock.holds.isEmpty)
        #expect(scenario.core.timetable.isEmpty, "the run timeout and task timeout are gone with the run")
        let close = try #require(scenario.run("run-1")?.closeEvent)
        #expect(close.workflowExecutionCompletedEventAttributes.workflowTaskCompletedEventID == 4)
    }

    @Test func aStartedTaskReportsTheSizeOfTheHistoryBeforeIt() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        let before = scenario.core.history("run-1").prefix(2)
        let expected = try before.reduce(0) { $0 + (try $1.serializedBytes() as [UInt8]).count }
        #expect(task.history.events.last?.workflowTaskStartedEventAttributes.historySizeBytes == Int64(expected))
    }

    @Test func aFailCommandFailsTheRunWithItsFailure() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        try scenario.complete(try #require(try scenario.poll()), [failCommand("boom")])
        #expect(scenario.run("run-1")?.status == .failed)
        #expect(scenario.run("run-1")?.closeEvent?.workflowExecutionFailedEventAttributes.failure.message == "boom")
    }

    @Test func aFailedWorkflowTaskIsRecordedAndRetriedWithTheNextAttempt() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        try scenario.core.failWorkflowTask(
            .with {
                $0.namespace = "default"
                $0.taskToken = task.taskToken
                $0.cause = .workflowWorkerUnhandledFailure
            }, wallNow: scenario.wall)
        let retry = try #require(try scenario.poll())
        #expect(retry.attempt == 2)
        // The retry is transient: the worker sees its scheduled and started events after the failure, but
        // they are not written.
        #expect(scenario.eventTypes("run-1").last == .workflowTaskFailed)
        #expect(retry.history.events.suffix(3).map(\.eventType) == [.workflowTaskFailed, .workflowTaskScheduled, .workflowTaskStarted])
        #expect(throws: EngineError.self) { try scenario.complete(task, [completeCommand()]) }
    }

    @Test func aWorkflowTaskThatRunsPastItsTimeoutTimesOutAndIsScheduledAgain() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        scenario.advanceWall(by: .seconds(9))
        #expect(scenario.eventTypes("run-1").last == .workflowTaskStarted)
        scenario.advanceWall(by: .seconds(1))
        #expect(scenario.eventTypes("run-1").last == .workflowTaskTimedOut)  // the retry is transient
        let error = try #require(throws: EngineError.self) { try scenario.complete(task, [completeCommand()]) }
        #expect(error.code == .notFound)
        #expect(try scenario.poll()?.attempt == 2)
    }

    @Test func aStaleWorkflowTaskTimeoutDoesNothing() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        try scenario.complete(try #require(try scenario.poll()), [completeCommand()])
        let before = scenario.eventTypes("run-1")
        scenario.advanceWall(by: .seconds(60))
        #expect(scenario.eventTypes("run-1") == before)
    }

    @Test func commandsAreValidatedBeforeAnythingIsApplied() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        let error = try #require(throws: EngineError.self) {
            try scenario.complete(task, [Command.with { $0.commandType = .completeWorkflowExecution }])
        }
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("commands[0]"))
        #expect(scenario.eventTypes("run-1").last == .workflowTaskStarted, "nothing was applied")
        try scenario.complete(task, [completeCommand()])
        #expect(scenario.run("run-1")?.status == .completed)
    }

    @Test func malformedTokensAreRejectedWithTheirFieldNamed() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        for token in ["", "garbage", "wt/run-1/x/1", "wt/run-1/2/0"] {
            let error = try #require(throws: EngineError.self) {
                try scenario.core.completeWorkflowTask(
                    .with { $0.namespace = "default"; $0.taskToken = Data(token.utf8) }, wallNow: scenario.wall)
            }
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("task_token"))
        }
    }
}

import Foundation

@Suite struct DescribeWorkflowTests {
    /// Regression (issue 10): describe answered the current run's id as `first_run_id`.
    @Test func firstRunIDNamesTheFirstRunAfterContinueAsNew() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        try scenario.complete(try #require(try scenario.poll()), [
            .with {
                $0.commandType = .continueAsNewWorkflowExecution
                $0.continueAsNewWorkflowExecutionCommandAttributes = .with {
                    $0.workflowType.name = "Hello"
                    $0.taskQueue.name = "q"
                }
            },
        ])
        #expect(scenario.run("run-1")?.status == .continuedAsNew)
        let described = try scenario.core.describeWorkflow(.with {
            $0.namespace = "default"
            $0.execution.workflowID = "wf"
        })
        #expect(described.workflowExecutionInfo.execution.runID == "run-2")
        #expect(described.workflowExecutionInfo.firstRunID == "run-1")
        let first = try scenario.core.describeWorkflow(.with {
            $0.namespace = "default"
            $0.execution.workflowID = "wf"
            $0.execution.runID = "run-1"
        })
        #expect(first.workflowExecutionInfo.firstRunID == "run-1")
    }
}
