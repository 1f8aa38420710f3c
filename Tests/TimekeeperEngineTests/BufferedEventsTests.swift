import SwiftProtobuf
import TemporalAPI
import Testing
@testable import TimekeeperEngine

/// Events that come while a worker runs a workflow task (signals, activities' and children's results, cancel
/// requests) are buffered, as on Temporal's server: their effects hold at once, and they are written when the
/// task ends, after its own events and its commands', results last, then a task carries them.
@Suite struct BufferedEventsTests {
    typealias EventType = Temporal_Api_Enums_V1_EventType

    private func signal(_ scenario: inout Scenario, _ name: String = "s") throws {
        try scenario.core.signalWorkflow(
            .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "wf"; $0.signalName = name },
            wallNow: scenario.wall)
    }

    /// A run with one activity scheduled and started, and its second workflow task started: the events
    /// up to there, and the activity task.
    private func runningActivityDuringATask(_ scenario: inout Scenario) throws
        -> (PollActivityTaskResponse, PollWorkflowTaskResponse)
    {
        try scenario.startAndRun([activityCommand("a")])
        let activity = try #require(try scenario.pollActivity())
        try signal(&scenario, "first")
        let task = try #require(try scenario.poll())
        return (activity, task)
    }

    @Test func whatComesDuringATaskIsWrittenAfterItsCommandsResultsLast() throws {
        var scenario = Scenario()
        let (activity, task) = try runningActivityDuringATask(&scenario)
        let before = scenario.eventTypes("run-1")
        #expect(before.last == .workflowTaskStarted)

        try scenario.core.completeActivity(.token(activity.taskToken), result: nil, identity: "w", wallNow: scenario.wall)
        try signal(&scenario, "second")
        #expect(scenario.eventTypes("run-1") == before, "nothing is written while the task runs")
        let run = try #require(scenario.run("run-1")).run
        #expect(run.activities.isEmpty, "the activity's result holds at once: it is no longer open")
        #expect(run.bufferedEvents.map(\.eventType) == [.activityTaskStarted, .activityTaskCompleted, .workflowExecutionSignaled])

        try scenario.complete(task, [timerCommand("t", seconds: 60)])
        let written = Array(scenario.core.history("run-1").dropFirst(before.count))
        #expect(written.map(\.eventType) == [
            .workflowTaskCompleted, .timerStarted,
            .activityTaskStarted, .workflowExecutionSignaled, .activityTaskCompleted,  // results after the rest
            .workflowTaskScheduled,
        ])
        #expect(written[4].activityTaskCompletedEventAttributes.startedEventID == written[2].eventID,
                "the result names the started event it was buffered with")
        #expect(written[5].workflowTaskScheduledEventAttributes.attempt == 1)
        #expect(try #require(scenario.run("run-1")).run.bufferedEvents.isEmpty)
    }

    @Test func aCompletionThatClosesTheRunWhileEventsWaitIsRefusedAndTheyAreWrittenAfterTheFailure() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        try signal(&scenario)
        try scenario.complete(task, [completeCommand()])
        #expect(scenario.eventTypes("run-1").suffix(3) == [.workflowTaskFailed, .workflowExecutionSignaled, .workflowTaskScheduled])
        let failed = scenario.core.history("run-1").first { $0.eventType == .workflowTaskFailed }
        #expect(failed?.workflowTaskFailedEventAttributes.cause == .unhandledCommand)
        let next = try #require(try scenario.poll())
        #expect(next.attempt == 1)
        #expect(next.history.events.contains { $0.eventType == .workflowExecutionSignaled })
    }

    @Test func aFailedTaskIsFollowedByWhatCameMeanwhileAndAFirstAttemptNotATransientOne() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        try signal(&scenario)
        try scenario.core.failWorkflowTask(
            .with { $0.namespace = "default"; $0.taskToken = task.taskToken; $0.cause = .workflowWorkerUnhandledFailure },
            wallNow: scenario.wall)
        #expect(scenario.eventTypes("run-1").suffix(3) == [.workflowTaskFailed, .workflowExecutionSignaled, .workflowTaskScheduled])
        let next = try #require(try scenario.poll())
        #expect(next.attempt == 1)
        #expect(try #require(scenario.run("run-1")).run.hasTransientWorkflowTask == false)
    }

    @Test func aRunTerminatedDuringATaskFailsTheTaskAndWritesWhatCameBeforeTheClose() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        _ = try #require(try scenario.poll())
        try signal(&scenario)
        try scenario.core.terminateWorkflow(
            .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "wf" }, wallNow: scenario.wall)
        #expect(scenario.eventTypes("run-1").suffix(3) == [.workflowTaskFailed, .workflowExecutionSignaled, .workflowExecutionTerminated])
        let failed = scenario.core.history("run-1").first { $0.eventType == .workflowTaskFailed }
        #expect(failed?.workflowTaskFailedEventAttributes.cause == .forceCloseCommand)
    }

    @Test func aBufferedEventKeepsTheTimeItCameAt() throws {
        var scenario = Scenario(skipsTime: false, startsLocked: false)
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        try signal(&scenario)
        let cameAt = scenario.core.now
        scenario.advanceWall(by: .seconds(2))
        try scenario.complete(task, [])
        let signaled = try #require(scenario.core.history("run-1").first { $0.eventType == .workflowExecutionSignaled })
        let completed = try #require(scenario.core.history("run-1").first { $0.eventType == .workflowTaskCompleted })
        #expect(Instant(signaled.eventTime) == cameAt)
        #expect(Instant(completed.eventTime) == cameAt + .seconds(2), "written after the completion, with its own earlier time")
    }

    @Test func bufferedEventsAreRebuiltFromTheRunsChanges() throws {
        var scenario = Scenario()
        let (activity, _) = try runningActivityDuringATask(&scenario)
        try scenario.core.completeActivity(.token(activity.taskToken), result: nil, identity: "w", wallNow: scenario.wall)
        try signal(&scenario, "second")
        let live = try #require(scenario.core.runs["run-1"])
        // Everything since the scenario began (nothing took its transitions).
        let changes = scenario.core.takeTransition().journal.filter { $0.runID == "run-1" }.map(\.change)
        let (rebuilt, _) = try EngineCore.rebuild(live.ref, from: changes)
        #expect(rebuilt == live)
        #expect(rebuilt.bufferedEvents.count == 3)
    }

    @Test func aRunThatBuffersPastTheLimitHasItsTaskFailedAndANewOneCarriesThem() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        let before = scenario.eventTypes("run-1")
        for index in 0..<EngineCore.bufferedEventsLimit.count {
            try signal(&scenario, "s\(index)")
        }
        #expect(scenario.eventTypes("run-1") == before, "up to the limit, all of it waits")
        try signal(&scenario, "one too many")
        let written = Array(scenario.core.history("run-1").dropFirst(before.count))
        #expect(written.first?.workflowTaskFailedEventAttributes.cause == .forceCloseCommand)
        #expect(written.dropFirst().prefix(101).allSatisfy { $0.eventType == .workflowExecutionSignaled })
        #expect(written.count == 103 && written.last?.eventType == .workflowTaskScheduled)
        #expect(written.last?.workflowTaskScheduledEventAttributes.attempt == 1)
        let stale = try #require(throws: EngineError.self) { try scenario.complete(task, []) }
        #expect(stale.code == .notFound, "the failed task's completion is refused")
    }
}
