import Testing
internal import TemporalAPI
internal import SwiftProtobuf
@testable import TimekeeperEngine

/// A workflow task retried after a failure or timeout is transient, as on Temporal's server: attempts
/// from the second on write nothing unless one completes, so a task that keeps failing does not grow the
/// history.
@Suite struct TransientWorkflowTaskTests {
    private func fail(_ scenario: inout Scenario, _ task: PollWorkflowTaskResponse) throws {
        try scenario.core.failWorkflowTask(
            .with {
                $0.namespace = "default"
                $0.taskToken = task.taskToken
                $0.cause = .workflowWorkerUnhandledFailure
            }, wallNow: scenario.wall)
    }

    @Test func failuresAfterTheFirstWriteNothingAndTheCompletingAttemptWritesTheEventsTheWorkerSaw() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        try fail(&scenario, try #require(try scenario.poll()))
        let written = scenario.eventTypes("run-1")
        #expect(written == [.workflowExecutionStarted, .workflowTaskScheduled, .workflowTaskStarted, .workflowTaskFailed])

        // Attempts 2 and 3 fail, attempt 4 times out: none of it is written.
        for _ in 0..<2 { try fail(&scenario, try #require(try scenario.poll())) }
        let fourth = try #require(try scenario.poll())
        scenario.advanceWall(by: .seconds(10) + .seconds(5))  // attempt 4's timeout grows by about 5 s
        #expect(scenario.eventTypes("run-1") == written)

        let fifth = try #require(try scenario.poll())
        #expect(fourth.attempt == 4 && fifth.attempt == 5)
        // The worker sees the written history, then the transient task's own events, ids following on.
        let suffix = Array(fifth.history.events.suffix(2))
        #expect(fifth.history.events.map(\.eventID) == [1, 2, 3, 4, 5, 6])
        #expect(suffix.map(\.eventType) == [.workflowTaskScheduled, .workflowTaskStarted])
        #expect(suffix[0].workflowTaskScheduledEventAttributes.attempt == 5)
        #expect(suffix[1].workflowTaskStartedEventAttributes.scheduledEventID == 5)
        #expect(fifth.startedEventID == 6)

        try scenario.complete(fifth, [completeCommand()])
        let history = try #require(scenario.run("run-1")).history
        #expect(history.map(\.eventType) == written + [
            .workflowTaskScheduled, .workflowTaskStarted, .workflowTaskCompleted, .workflowExecutionCompleted,
        ])
        // Written as the worker saw them (times and the started event's request id included).
        #expect(Array(history[4...5]).map { var event = $0; event.taskID = 0; return event } == suffix)
        #expect(history[6].workflowTaskCompletedEventAttributes.startedEventID == 6)
    }

    @Test func aStaleFailureOfAnEarlierTransientAttemptIsRefused() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        try fail(&scenario, try #require(try scenario.poll()))
        let second = try #require(try scenario.poll())
        try fail(&scenario, second)
        _ = try #require(try scenario.poll())
        // Attempt 3 has attempt 2's scheduled event id; the token's attempt tells them apart.
        let error = try #require(throws: EngineError.self) { try fail(&scenario, second) }
        #expect(error.code == .notFound)
    }

    @Test func aSignalDuringAStartedTransientAttemptWaitsAndTheNextAttemptIsAFirstOne() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        try fail(&scenario, try #require(try scenario.poll()))
        let before = scenario.eventTypes("run-1")
        let second = try #require(try scenario.poll())
        try scenario.core.signalWorkflow(
            .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "wf"; $0.signalName = "s" },
            wallNow: scenario.wall)
        // Buffered while the worker runs the attempt (Temporal's server): nothing is written yet.
        #expect(scenario.eventTypes("run-1") == before)
        #expect(try #require(scenario.run("run-1")).run.hasTransientWorkflowTask)
        // The transient attempt fails unwritten; the signal is written, and the task that carries it is an
        // ordinary first attempt.
        try fail(&scenario, second)
        #expect(scenario.eventTypes("run-1") == before + [.workflowExecutionSignaled, .workflowTaskScheduled])
        let third = try #require(try scenario.poll())
        #expect(third.attempt == 1)
        #expect(try #require(scenario.run("run-1")).run.hasTransientWorkflowTask == false)
    }

    @Test func terminatingARunDuringATransientAttemptWritesNoneOfItsEvents() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        try fail(&scenario, try #require(try scenario.poll()))
        _ = try #require(try scenario.poll())
        try scenario.core.terminateWorkflow(
            .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "wf" }, wallNow: scenario.wall)
        #expect(scenario.eventTypes("run-1").suffix(2) == [.workflowTaskFailed, .workflowExecutionTerminated])
    }
}
