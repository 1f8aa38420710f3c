import Foundation
import SwiftProtobuf
import TemporalAPI
import Testing
@testable import TimekeeperEngine

/// Bugs the simulation found, each pinned by the shortest step sequence that shows it. The comment on
/// each names the invariant it broke and a seed that broke it before the fix (with the step generator as
/// it was then: later tuning of the generator changes what a seed does).
@Suite struct FoundBySimulationTests {
    /// timerLifecycle (seed 16): the second timer replaced the first in the run's state, so the first's
    /// entry outlived it (a jump target that fires as nothing, still there after the run closed).
    @Test func aSecondOpenTimerWithTheSameIDIsRefusedAsTheJavaServerRefusesIt() throws {
        var scenario = Scenario()
        try scenario.startAndRun([timerCommand("t", seconds: 60)])
        try scenario.signal("wake")
        let task = try #require(try scenario.poll())
        let error = try #require(throws: EngineError.self) { try scenario.complete(task, [timerCommand("t", seconds: 30)]) }
        #expect(error.code == .failedPrecondition)
        #expect(error.message.contains("commands[0].start_timer_command_attributes.timer_id t"))
        #expect(throws: EngineError.self) {
            try scenario.complete(task, [timerCommand("u", seconds: 1), timerCommand("u", seconds: 2)])
        }
        // Cancelling first frees the id, within one completion too.
        try scenario.complete(
            task, [.with { $0.commandType = .cancelTimer; $0.cancelTimerCommandAttributes.timerID = "t" }, timerCommand("t", seconds: 30)])
        #expect(scenario.run("run-1")?.timers.count == 1)
        #expect(scenario.core.timetable.pending.filter { if case .userTimer = $0.kind { true } else { false } }.count == 1)
    }

    /// Found while making replays exact (the timer twin above is what an invariant caught): two open
    /// activities with one id made `…ById` calls pick one in dictionary order, which differs from process
    /// to process; the Java server refuses the second ("Already open activity with …").
    @Test func aSecondOpenActivityWithTheSameIDIsRefused() throws {
        var scenario = Scenario()
        try scenario.startAndRun([activityCommand("a")])
        try scenario.signal("wake")
        let task = try #require(try scenario.poll())
        let error = try #require(throws: EngineError.self) { try scenario.complete(task, [activityCommand("a")]) }
        #expect(error.code == .failedPrecondition)
        #expect(error.message.contains("activity_id a"))
        #expect(throws: EngineError.self) { try scenario.complete(task, [activityCommand("b"), activityCommand("b")]) }
        try scenario.complete(task, [activityCommand("b")])
        #expect(scenario.run("run-1")?.activities.count == 2)
    }

    /// runTimeoutDeadline (seed 9): a negative delay or backoff moved the run's timeout before its run
    /// timeout (the started event records no backoff, the timetable had one).
    @Test func aNegativeStartDelayOrContinueAsNewBackoffIsRefused() throws {
        var scenario = Scenario()
        let error = try #require(throws: EngineError.self) {
            try scenario.start("wf") { $0.workflowStartDelay = Duration.seconds(-5).protobuf }
        }
        #expect(error.message == "workflow_start_delay must not be negative")
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        let continueAsNew = Command.with {
            $0.commandType = .continueAsNewWorkflowExecution
            $0.continueAsNewWorkflowExecutionCommandAttributes.backoffStartInterval = Duration.seconds(-5).protobuf
        }
        let refused = try #require(throws: EngineError.self) { try scenario.complete(task, [continueAsNew]) }
        #expect(refused.message.contains("backoff_start_interval must not be negative"))
    }

    /// timetableOwnership (seed 18): a run terminated while waiting for its retry backoff left the backoff
    /// in the timetable, a stale jump target owned by a closed run.
    @Test func aRunClosedDuringItsRetryBackoffLeavesNothingInTheTimetable() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf") { $0.retryPolicy = .with { $0.initialInterval = Duration.seconds(10).protobuf } }
        try scenario.complete(try #require(try scenario.poll()), [failCommand("boom")])
        #expect(scenario.run("run-2")?.workflowTask == WorkflowRun.WorkflowTaskState.none, "waiting for its backoff")
        try scenario.core.terminateWorkflow(
            .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "wf" }, wallNow: scenario.wall)
        #expect(scenario.core.timetable.pending.isEmpty)
    }

    /// backoffBeforeFirstTask (seed 64): a signal schedules the first workflow task before the start delay
    /// is over; the delay's entry then fired anyway and scheduled a second, needless task.
    @Test func aSignalThatEndsAStartDelayEarlyLeavesNoSecondTask() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf") { $0.workflowStartDelay = Duration.seconds(10).protobuf }
        try scenario.signal("wake")
        try scenario.complete(try #require(try scenario.poll()), [])
        scenario.advanceWall(by: .seconds(20))
        #expect(scenario.eventTypes("run-1").last == .workflowTaskCompleted)
        #expect(scenario.core.timetable.pending.map(\.kind) == [.workflowRunTimeout])
    }

    /// deliveredOnce (seed 32): a waiting activity poller was handed the activity a completion scheduled
    /// even though a later command of the same completion closed the run; the worker ran an activity
    /// whose run was gone (Temporal's matching drops such a task).
    @Test func anActivityScheduledByACompletionThatClosesTheRunGoesToNoWorker() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        let poller = PollerID(rawValue: 99)
        #expect(try scenario.core.pollActivityTask(
            namespace: "default", taskQueue: "q", identity: "w", poller: poller, wallNow: scenario.wall) == nil)
        _ = scenario.core.takeTransition().effects
        try scenario.complete(task, [activityCommand("a"), completeCommand()])
        let delivered = scenario.core.takeTransition().effects.filter { if case .deliverActivityTask = $0 { true } else { false } }
        #expect(delivered.isEmpty)
        #expect(scenario.core.matching.waitingPollers[poller] != nil, "the poller still waits")
    }

    /// commandBatches (seed 34): a cancel request for an activity that had not started cancels it at once, and its
    /// ActivityTaskCanceled scheduled the next workflow task in the middle of the completion's commands, so
    /// a waiting worker got a task whose history lacked the commands' later events.
    @Test func theWorkflowTaskACompletionCallsForIsScheduledAfterAllItsCommandsEvents() throws {
        var scenario = Scenario()
        try scenario.startAndRun([activityCommand("a")])  // activity scheduled at event 5, never polled
        try scenario.signal("wake")
        let task = try #require(try scenario.poll())
        let poller = PollerID(rawValue: 99)
        #expect(try scenario.core.pollWorkflowTask(
            namespace: "default", taskQueue: "q", identity: "w", poller: poller, wallNow: scenario.wall) == nil)
        _ = scenario.core.takeTransition().effects
        try scenario.complete(task, [
            .with { $0.commandType = .requestCancelActivityTask; $0.requestCancelActivityTaskCommandAttributes.scheduledEventID = 5 },
            timerCommand("t", seconds: 60),
        ])
        #expect(scenario.eventTypes("run-1").suffix(6) == [
            .workflowTaskCompleted, .activityTaskCancelRequested, .activityTaskCanceled, .timerStarted, .workflowTaskScheduled,
            .workflowTaskStarted,
        ])
        let next = scenario.core.takeTransition().effects.compactMap { if case .deliverWorkflowTask(_, let task) = $0 { task } else { nil } }
        #expect(next.first?.history.events.contains { $0.eventType == .timerStarted } == true)
    }

    /// Found while making replays exact: `ShutdownWorker` moved the sticky queue's tasks to the normal
    /// queue in dictionary order, which Swift seeds per process, so the same calls could hand the same
    /// workers different workflows from one run of the server to the next.
    @Test func tasksMovedOffAShutDownWorkersStickyQueueKeepTheOrderTheyWereScheduledIn() throws {
        var scenario = Scenario()
        let workflows = ["wf-c", "wf-a", "wf-d", "wf-b"]
        for (index, workflowID) in workflows.enumerated() {
            _ = try scenario.start(workflowID, requestID: "req-\(index)")
            let task = try #require(try scenario.poll())
            try scenario.core.completeWorkflowTask(
                .with {
                    $0.namespace = "default"
                    $0.taskToken = task.taskToken
                    $0.stickyAttributes.workerTaskQueue.name = "sticky"
                    $0.stickyAttributes.scheduleToStartTimeout = .init(seconds: 60)
                }, wallNow: scenario.wall)
        }
        for workflowID in workflows {
            try scenario.core.signalWorkflow(
                .with { $0.namespace = "default"; $0.workflowExecution.workflowID = workflowID; $0.signalName = "s" },
                wallNow: scenario.wall)
            scenario.advanceWall(by: .milliseconds(10))
        }
        scenario.core.shutdownWorker(namespace: "default", stickyQueue: "sticky", wallNow: scenario.wall)
        var order: [String] = []
        while let task = try scenario.poll() { order.append(task.workflowExecution.workflowID) }
        #expect(order == workflows)
    }
}
