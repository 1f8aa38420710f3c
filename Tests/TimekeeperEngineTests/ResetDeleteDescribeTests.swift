import Foundation
import SwiftProtobuf
import Testing
import TemporalAPI
@testable import TimekeeperEngine

/// Reset, delete, reverse history reads, and what Describe tells of a run's pending work.
@Suite struct ResetDeleteDescribeTests {
    private func signal(_ scenario: inout Scenario, _ name: String) throws {
        try scenario.core.signalWorkflow(
            .with {
                $0.namespace = "default"
                $0.workflowExecution.workflowID = "wf"
                $0.signalName = name
            }, wallNow: scenario.wall)
    }

    private let timer = Command.with {
        $0.commandType = .startTimer
        $0.startTimerCommandAttributes = .with { $0.timerID = "t"; $0.startToFireTimeout = Duration.seconds(60).protobuf }
    }

    /// wf: task 1 started a timer (events 2–5), a signal came (7) and task 2 (8–10) completed with nothing.
    private func twoTasks() throws -> Scenario {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        try scenario.complete(try #require(try scenario.poll()), [timer])
        try signal(&scenario, "before")
        try scenario.complete(try #require(try scenario.poll()), [])
        return scenario
    }

    @Test func resetMakesANewRunFromTheHistoryBeforeTheTaskAndReappliesLaterSignals() throws {
        var scenario = try twoTasks()
        try signal(&scenario, "after")
        let history = scenario.core.history("run-1")
        let firstCompleted = try #require(history.first { $0.eventType == .workflowTaskCompleted })
        let newRunID = try scenario.core.resetWorkflow(
            .with {
                $0.namespace = "default"
                $0.workflowExecution.workflowID = "wf"
                $0.reason = "try again"
                $0.workflowTaskFinishEventID = firstCompleted.eventID
                $0.requestID = "reset-1"
            }, wallNow: scenario.wall)
        #expect(newRunID == "run-2")
        #expect(scenario.run("run-1")?.status == .terminated)
        #expect(scenario.run("run-1")?.closeEvent?.workflowExecutionTerminatedEventAttributes.reason == "try again")
        let reset = scenario.core.history("run-2")
        func withoutTaskIDs(_ events: ArraySlice<HistoryEvent>) -> [HistoryEvent] {
            events.map { event in
                var event = event
                event.taskID = 0
                return event
            }
        }
        #expect(withoutTaskIDs(reset.prefix(3)) == withoutTaskIDs(history.prefix(3)), "events up to the task's start, as they were")
        #expect(reset[3].eventType == .workflowTaskFailed)
        #expect(reset[3].workflowTaskFailedEventAttributes.cause == .resetWorkflow)
        #expect(reset[3].workflowTaskFailedEventAttributes.baseRunID == "run-1")
        #expect(reset[3].workflowTaskFailedEventAttributes.newRunID == "run-2")
        #expect(reset[3].workflowTaskFailedEventAttributes.failure.message == "try again")
        #expect(reset.dropFirst(4).filter { $0.eventType == .workflowExecutionSignaled }
            .map(\.workflowExecutionSignaledEventAttributes.signalName) == ["before", "after"])
        #expect(reset.last?.eventType == .workflowTaskScheduled)
        #expect(scenario.run("run-2")?.timers.isEmpty == true, "the timer the reset task started is gone")
        #expect(scenario.core.currentRuns[WorkflowKey(namespace: "default", workflowID: "wf")] == "run-2")
        let task = try #require(try scenario.poll())
        #expect(task.workflowExecution.runID == "run-2")
    }

    @Test func resetToAnEventThatEndsNoTaskIsRefused() throws {
        var scenario = try twoTasks()
        do {
            _ = try scenario.core.resetWorkflow(
                .with {
                    $0.namespace = "default"
                    $0.workflowExecution.workflowID = "wf"
                    $0.workflowTaskFinishEventID = 1
                }, wallNow: scenario.wall)
            Issue.record("a reset to the started event was accepted")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("workflow_task_finish_event_id 1"))
        }
        #expect(scenario.core.runs.count == 1)
    }

    @Test func deletingARunningWorkflowTerminatesItAndForgetsIt() throws {
        var scenario = try twoTasks()
        try scenario.core.deleteWorkflow(
            .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "wf" }, wallNow: scenario.wall)
        #expect(scenario.core.runs.isEmpty)
        #expect(scenario.core.timetable.isEmpty)
        #expect(scenario.core.clock.holds.isEmpty)
        #expect(throws: EngineError.self) {
            _ = try scenario.core.describeWorkflow(.with { $0.namespace = "default"; $0.execution.workflowID = "wf" })
        }
        // The same id starts afresh.
        _ = try scenario.start("wf", requestID: "again")
        #expect(scenario.core.runs.count == 1)
    }

    @Test func aReverseReadGivesTheNewestEventsFirstPageByPage() throws {
        let scenario = try twoTasks()
        let count = scenario.core.history("run-1").count
        var ids: [Int64] = []
        var token = Data()
        repeat {
            let page = try scenario.core.readHistoryReverse(
                .with {
                    $0.namespace = "default"
                    $0.execution.workflowID = "wf"
                    $0.maximumPageSize = 3
                    $0.nextPageToken = token
                })
            #expect(page.history.events.count <= 3)
            ids += page.history.events.map(\.eventID)
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(ids == Array((1...Int64(count)).reversed()))
    }

    @Test func describeReportsPendingActivitiesAndTheWorkflowTask() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let schedule = Command.with {
            $0.commandType = .scheduleActivityTask
            $0.scheduleActivityTaskCommandAttributes = .with {
                $0.activityID = "a1"
                $0.activityType.name = "Greet"
                $0.taskQueue.name = "acts"
                $0.startToCloseTimeout = Duration.seconds(30).protobuf
                $0.retryPolicy.maximumAttempts = 3
            }
        }
        try scenario.complete(try #require(try scenario.poll()), [schedule])
        try signal(&scenario, "poke")
        let described = try scenario.core.describeWorkflow(.with { $0.namespace = "default"; $0.execution.workflowID = "wf" })
        let activity = try #require(described.pendingActivities.first)
        #expect(activity.activityID == "a1")
        #expect(activity.activityType.name == "Greet")
        #expect(activity.state == .scheduled)
        #expect(activity.attempt == 1)
        #expect(activity.maximumAttempts == 3)
        #expect(described.pendingWorkflowTask.state == .scheduled)
        #expect(described.pendingWorkflowTask.attempt == 1)
    }
}
