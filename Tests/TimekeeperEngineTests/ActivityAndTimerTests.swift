import Foundation
import SwiftProtobuf
import TemporalAPI
import Testing
@testable import TimekeeperEngine

extension Scenario {
    mutating func pollActivity(queue: String = "q") throws(EngineError) -> PollActivityTaskResponse? {
        let poller = PollerID(rawValue: 1_000_000 + UInt64(core.runs.count))
        let task = try core.pollActivityTask(namespace: "default", taskQueue: queue, identity: "worker", poller: poller, wallNow: wall)
        if task == nil { core.cancelPoll(poller) }
        return task
    }

    /// Starts a workflow and completes its first task with `commands`.
    mutating func startAndRun(_ commands: [Command]) throws {
        _ = try start("wf")
        try complete(try #require(try poll()), commands)
    }
}

func timerCommand(_ id: String, seconds: Int64) -> Command {
    .with {
        $0.commandType = .startTimer
        $0.startTimerCommandAttributes = .with {
            $0.timerID = id
            $0.startToFireTimeout = .init(seconds: seconds)
        }
    }
}

func activityCommand(_ id: String, startToClose: Int64 = 30, heartbeat: Int64 = 0, maximumAttempts: Int32 = 0) -> Command {
    .with {
        $0.commandType = .scheduleActivityTask
        $0.scheduleActivityTaskCommandAttributes = .with {
            $0.activityID = id
            $0.activityType.name = "Work"
            $0.startToCloseTimeout = .init(seconds: startToClose)
            $0.heartbeatTimeout = .init(seconds: heartbeat)
            $0.retryPolicy = .with { $0.maximumAttempts = maximumAttempts }
        }
    }
}

@Suite struct TimerTests {
    @Test func anEagerActivityOnTheWorkflowsQueueGoesBackStartedWithTheCompletion() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        var eager = activityCommand("here")
        eager.scheduleActivityTaskCommandAttributes.taskQueue.name = "q"
        eager.scheduleActivityTaskCommandAttributes.requestEagerExecution = true
        var elsewhere = activityCommand("there")
        elsewhere.scheduleActivityTaskCommandAttributes.taskQueue.name = "other"
        elsewhere.scheduleActivityTaskCommandAttributes.requestEagerExecution = true
        let started = try scenario.core.completeWorkflowTask(
            .with {
                $0.namespace = "default"
                $0.taskToken = task.taskToken
                $0.commands = [eager, elsewhere]
                $0.identity = "worker"
            }, wallNow: scenario.wall)
        #expect(started.map(\.activityID) == ["here"], "only the one on the workflow's own queue")
        let here = try #require(scenario.run("run-1")?.activities.values.first { $0.activityID == "here" })
        guard case .started(_, let identity) = here.phase else { Issue.record("the eager activity is not started"); return }
        #expect(identity == "worker")
        #expect(scenario.core.matching.activityQueues[TaskQueueKey(namespace: "default", name: "q")]?.backlog ?? 0 == 0)
        #expect(scenario.core.matching.activityQueues[TaskQueueKey(namespace: "default", name: "other")]?.backlog == 1)
    }

    @Test func anActivityStartedAtOnceTimesOutScheduleToCloseWhenItsStartToCloseIsTheSame() throws {
        var scenario = Scenario(startsLocked: false)
        _ = try scenario.start("wf")
        var command = activityCommand("a", startToClose: 0)
        command.scheduleActivityTaskCommandAttributes.scheduleToCloseTimeout = .init(seconds: 3)
        command.scheduleActivityTaskCommandAttributes.taskQueue.name = "q"
        command.scheduleActivityTaskCommandAttributes.requestEagerExecution = true
        let task = try #require(try scenario.poll())
        let eager = try scenario.core.completeWorkflowTask(
            .with { $0.namespace = "default"; $0.taskToken = task.taskToken; $0.commands = [command]; $0.identity = "w" },
            wallNow: scenario.wall)
        #expect(eager.count == 1)
        scenario.advanceWall(by: .seconds(4))
        let timedOut = try #require(scenario.core.history("run-1").first { $0.eventType == .activityTaskTimedOut })
        #expect(timedOut.activityTaskTimedOutEventAttributes.failure.timeoutFailureInfo.timeoutType == .scheduleToClose)
    }

    @Test func anActivityNoWorkerTakesTimesOutScheduleToStartWhenBothDeadlinesMeet() throws {
        var scenario = Scenario(startsLocked: false)
        _ = try scenario.start("wf")
        var command = activityCommand("a", startToClose: 0)
        command.scheduleActivityTaskCommandAttributes.scheduleToCloseTimeout = .init(seconds: 3)
        try scenario.complete(try #require(try scenario.poll()), [command])
        scenario.advanceWall(by: .seconds(4))
        let timedOut = try #require(scenario.core.history("run-1").first { $0.eventType == .activityTaskTimedOut })
        #expect(timedOut.activityTaskTimedOutEventAttributes.failure.timeoutFailureInfo.timeoutType == .scheduleToStart)
    }

    @Test func aTimerDueWhileATaskRunsWaitsForItAndItsCompletionMayCancelIt() throws {
        var scenario = Scenario()  // locked: time flows at wall speed
        _ = try scenario.start("wf")
        try scenario.complete(try #require(try scenario.poll()), [timerCommand("t", seconds: 1), timerCommand("u", seconds: 1)])
        try scenario.core.signalWorkflow(
            .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "wf"; $0.signalName = "s" }, wallNow: scenario.wall)
        let task = try #require(try scenario.poll())
        scenario.advanceWall(by: .seconds(2))  // both timers are due while the task runs
        #expect(!scenario.eventTypes("run-1").contains(.timerFired), "nothing fires inside the task")
        let cancel = Command.with {
            $0.commandType = .cancelTimer
            $0.cancelTimerCommandAttributes.timerID = "t"
        }
        try scenario.complete(task, [cancel])
        let types = scenario.eventTypes("run-1")
        #expect(Array(types.suffix(4)) == [.workflowTaskCompleted, .timerCanceled, .timerFired, .workflowTaskScheduled])
        let fired = try #require(scenario.core.history("run-1").first { $0.eventType == .timerFired })
        #expect(fired.timerFiredEventAttributes.timerID == "u")
    }

    @Test func aZeroTimerFiresAtOnceAndANegativeOneIsRefused() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        #expect(throws: EngineError.self) { try scenario.complete(task, [timerCommand("late", seconds: -1)]) }
        try scenario.complete(task, [timerCommand("now", seconds: 0)])
        #expect(scenario.eventTypes("run-1").suffix(3) == [.timerStarted, .timerFired, .workflowTaskScheduled])
    }

    @Test func anUnlockedClockJumpsToATimerAndTheWorkflowGetsATask() throws {
        var scenario = Scenario()
        try scenario.startAndRun([timerCommand("t", seconds: 3600)])
        let start = scenario.core.now
        try scenario.core.unlockTimeSkipping(wallNow: scenario.wall)
        #expect(scenario.core.now - start == .seconds(3600))
        #expect(scenario.eventTypes("run-1").suffix(2) == [.timerFired, .workflowTaskScheduled])
        #expect(scenario.core.clock.lockCount == 1, "the new workflow task holds the clock")
    }

    @Test func aCancelledTimerNeverFires() throws {
        var scenario = Scenario()
        try scenario.startAndRun([timerCommand("t", seconds: 60)])
        try scenario.complete(
            try #require(try { () throws -> PollWorkflowTaskResponse? in
                try scenario.signal("wake")
                return try scenario.poll()
            }()),
            [.with { $0.commandType = .cancelTimer; $0.cancelTimerCommandAttributes.timerID = "t" }])
        scenario.advanceWall(by: .seconds(120))
        #expect(!scenario.eventTypes("run-1").contains(.timerFired))
        #expect(scenario.eventTypes("run-1").contains(.timerCanceled))
    }
}

@Suite struct ActivityTests {
    @Test func aScheduledActivityHoldsTheClockUntilItCompletes() throws {
        var scenario = Scenario()
        try scenario.startAndRun([activityCommand("a")])
        try scenario.core.unlockTimeSkipping(wallNow: scenario.wall)
        let start = scenario.core.now
        #expect(scenario.core.clock.holds[.activity(runID: "run-1", scheduledEventID: 5)] == 1)
        let task = try #require(try scenario.pollActivity())
        #expect(task.activityID == "a" && task.attempt == 1)
        scenario.advanceWall(by: .seconds(1))
        #expect(scenario.core.now - start == .seconds(1), "a running activity pins the clock to wall speed")
        try scenario.core.completeActivity(.token(task.taskToken), result: nil, identity: "w", wallNow: scenario.wall)
        #expect(scenario.eventTypes("run-1").suffix(3) == [.activityTaskStarted, .activityTaskCompleted, .workflowTaskScheduled])
        #expect(scenario.core.clock.holds[.activity(runID: "run-1", scheduledEventID: 5)] == nil)
    }

    @Test func aFailedAttemptWaitsItsBackoffWithoutHoldingTheClockThenRetries() throws {
        var scenario = Scenario()
        try scenario.startAndRun([activityCommand("a")])
        let task = try #require(try scenario.pollActivity())
        try scenario.core.failActivity(
            .token(task.taskToken), failure: .with { $0.message = "no" }, lastHeartbeatDetails: nil, identity: "w",
            wallNow: scenario.wall)
        #expect(scenario.core.clock.holds[.activity(runID: "run-1", scheduledEventID: 5)] == nil)
        #expect(!scenario.eventTypes("run-1").contains(.activityTaskFailed), "retries are not in history")
        let start = scenario.core.now
        try scenario.core.unlockTimeSkipping(wallNow: scenario.wall)
        #expect(scenario.core.now - start == .seconds(1), "jumped over the 1 s default initial interval")
        let retry = try #require(try scenario.pollActivity())
        #expect(retry.attempt == 2)
    }

    @Test func aNonRetryableFailureGoesToTheWorkflowWithItsRetryState() throws {
        var scenario = Scenario()
        try scenario.startAndRun([activityCommand("a")])
        let task = try #require(try scenario.pollActivity())
        try scenario.core.failActivity(
            .token(task.taskToken),
            failure: .with { $0.message = "fatal"; $0.applicationFailureInfo = .with { $0.nonRetryable = true } },
            lastHeartbeatDetails: nil, identity: "w", wallNow: scenario.wall)
        let failed = try #require(scenario.run("run-1")?.history.last(where: { $0.eventType == .activityTaskFailed }))
        #expect(failed.activityTaskFailedEventAttributes.retryState == .nonRetryableFailure)
        #expect(failed.activityTaskFailedEventAttributes.failure.message == "fatal")
    }

    @Test func aMissedHeartbeatTimesTheAttemptOutWithTheLastDetails() throws {
        var scenario = Scenario()
        try scenario.startAndRun([activityCommand("a", heartbeat: 5, maximumAttempts: 1)])
        let task = try #require(try scenario.pollActivity())
        scenario.advanceWall(by: .seconds(4))
        let details = Payloads.with { $0.payloads = [.with { $0.data = Data("halfway".utf8) }] }
        #expect(try scenario.core.heartbeatActivity(.token(task.taskToken), details: details, wallNow: scenario.wall).cancelRequested == false)
        scenario.advanceWall(by: .seconds(4))
        #expect(!scenario.eventTypes("run-1").contains(.activityTaskTimedOut), "the heartbeat re-armed the timeout")
        scenario.advanceWall(by: .seconds(1))
        let timedOut = try #require(scenario.run("run-1")?.history.last(where: { $0.eventType == .activityTaskTimedOut }))
        let info = timedOut.activityTaskTimedOutEventAttributes.failure.timeoutFailureInfo
        #expect(info.timeoutType == .heartbeat)
        #expect(info.lastHeartbeatDetails == details)
        #expect(timedOut.activityTaskTimedOutEventAttributes.retryState == .maximumAttemptsReached)
    }

    @Test func activitiesNeedAStartToCloseOrScheduleToCloseTimeout() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        let error = try #require(throws: EngineError.self) {
            try scenario.complete(task, [activityCommand("a", startToClose: 0)])
        }
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("start_to_close_timeout"))
    }

    @Test func cancellingAStartedActivityIsReportedThroughItsHeartbeat() throws {
        var scenario = Scenario()
        try scenario.startAndRun([activityCommand("a")])
        let activityTask = try #require(try scenario.pollActivity())
        try scenario.signal("cancel it")
        let workflowTask = try #require(try scenario.poll())
        try scenario.complete(workflowTask, [.with {
            $0.commandType = .requestCancelActivityTask
            $0.requestCancelActivityTaskCommandAttributes.scheduledEventID = 5
        }])
        #expect(try scenario.core.heartbeatActivity(.token(activityTask.taskToken), details: nil, wallNow: scenario.wall).cancelRequested)
        try scenario.core.cancelActivity(.token(activityTask.taskToken), details: nil, identity: "w", wallNow: scenario.wall)
        #expect(scenario.eventTypes("run-1").contains(.activityTaskCanceled))
    }
}

@Suite struct SignalAndQueryTests {
    @Test func aSignalSchedulesAWorkflowTaskAndIsRefusedOnceTheRunIsClosed() throws {
        var scenario = Scenario()
        try scenario.startAndRun([])
        #expect(scenario.run("run-1")?.workflowTask == WorkflowRun.WorkflowTaskState.none)
        try scenario.signal("go")
        #expect(scenario.eventTypes("run-1").suffix(2) == [.workflowExecutionSignaled, .workflowTaskScheduled])
        try scenario.complete(try #require(try scenario.poll()), [completeCommand()])
        let error = try #require(throws: EngineError.self) {
            try scenario.core.signalWorkflow(
                .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "wf"; $0.signalName = "late" },
                wallNow: scenario.wall)
        }
        #expect(error.code == .notFound)
    }

    @Test func closingWithAnUnseenSignalFailsTheTaskSoTheWorkflowSeesIt() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        try scenario.signal("meanwhile")
        try scenario.complete(task, [completeCommand()])
        #expect(scenario.run("run-1")?.isOpen == true)
        let failed = try #require(scenario.run("run-1")?.history.last(where: { $0.eventType == .workflowTaskFailed }))
        #expect(failed.workflowTaskFailedEventAttributes.cause == .unhandledCommand)
        #expect(try scenario.poll() != nil)
    }

    @Test func aQueryWithNoTaskInFlightGoesOutAsALegacyQueryTaskThatHoldsNothing() throws {
        var scenario = Scenario()
        try scenario.startAndRun([])
        let outcome = try scenario.core.queryWorkflow(
            .with { $0.namespace = "default"; $0.execution.workflowID = "wf"; $0.query.queryType = "state" },
            id: QueryID(rawValue: 7), wallNow: scenario.wall)
        guard case .pending = outcome else { Issue.record("the query waits for a worker"); return }
        #expect(scenario.core.clock.holds.isEmpty)
        let task = try #require(try scenario.poll())
        #expect(task.query.queryType == "state")
        try scenario.core.completeQueryTask(
            .with { $0.namespace = "default"; $0.taskToken = task.taskToken; $0.completedType = .answered },
            wallNow: scenario.wall)
        #expect(scenario.core.takeTransition().effects.contains { if case .answerQuery(QueryID(rawValue: 7), .success) = $0 { true } else { false } })
    }

    @Test func aWorkflowTaskWaitsWhileALegacyQueryOfItsRunIsWithAWorker() throws {
        var scenario = Scenario()
        try scenario.startAndRun([activityCommand("a")])
        _ = try scenario.core.queryWorkflow(
            .with { $0.namespace = "default"; $0.execution.workflowID = "wf"; $0.query.queryType = "state" },
            id: QueryID(rawValue: 11), wallNow: scenario.wall)
        let query = try #require(try scenario.poll())
        #expect(query.query.queryType == "state")
        // The activity completes while the worker has the query: the new task waits for the answer (sdk-core
        // loses a legacy query when a task of the same run reaches it first).
        let activity = try #require(try scenario.pollActivity())
        try scenario.core.completeActivity(.token(activity.taskToken), result: nil, identity: "w", wallNow: scenario.wall)
        #expect(scenario.eventTypes("run-1").last == .workflowTaskScheduled)
        #expect(try scenario.poll() == nil, "held while the query is with the worker")
        try scenario.core.completeQueryTask(
            .with { $0.namespace = "default"; $0.taskToken = query.taskToken; $0.completedType = .answered },
            wallNow: scenario.wall)
        let task = try #require(try scenario.poll(), "offered once the query is answered")
        #expect(task.history.events.last?.eventType == .workflowTaskStarted)
    }

    @Test func aQueryDuringAWorkflowTaskRidesOnTheNextOneAndHoldsTheClock() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        _ = try scenario.core.queryWorkflow(
            .with { $0.namespace = "default"; $0.execution.workflowID = "wf"; $0.query.queryType = "state" },
            id: QueryID(rawValue: 9), wallNow: scenario.wall)
        #expect(scenario.core.clock.holds[.query(QueryID(rawValue: 9))] == 1)
        let task = try #require(try scenario.poll())
        #expect(task.queries["9"]?.queryType == "state")
        try scenario.core.completeWorkflowTask(
            .with {
                $0.namespace = "default"
                $0.taskToken = task.taskToken
                $0.queryResults["9"] = .with { $0.resultType = .answered }
            }, wallNow: scenario.wall)
        #expect(scenario.core.clock.holds[.query(QueryID(rawValue: 9))] == nil)
    }

    @Test func rejectConditionsAnswerAtOnceForClosedRuns() throws {
        var scenario = Scenario()
        try scenario.startAndRun([failCommand("no")])
        let outcome = try scenario.core.queryWorkflow(
            .with {
                $0.namespace = "default"; $0.execution.workflowID = "wf"; $0.query.queryType = "state"
                $0.queryRejectCondition = .notCompletedCleanly
            }, id: QueryID(rawValue: 1), wallNow: scenario.wall)
        guard case .answered(let response) = outcome else { Issue.record("rejected at once"); return }
        #expect(response.queryRejected.status == .failed)
    }
}

extension Scenario {
    /// Signals "wf" in the default namespace.
    mutating func signal(_ name: String) throws {
        try core.signalWorkflow(
            .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "wf"; $0.signalName = name },
            wallNow: wall)
    }
}

@Suite struct StickyQueueTests {
    mutating func completeSticky(_ scenario: inout Scenario, _ task: PollWorkflowTaskResponse, _ commands: [Command]) throws {
        try scenario.core.completeWorkflowTask(
            .with {
                $0.namespace = "default"
                $0.taskToken = task.taskToken
                $0.commands = commands
                $0.stickyAttributes = .with {
                    $0.workerTaskQueue.name = "worker-1-sticky"
                    $0.scheduleToStartTimeout = .init(seconds: 10)
                }
            }, wallNow: scenario.wall)
    }

    @Test mutating func theNextTaskGoesToTheStickyQueueWithOnlyTheNewEvents() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        try completeSticky(&scenario, try #require(try scenario.poll()), [timerCommand("t", seconds: 1)])
        scenario.advanceWall(by: .seconds(1))
        #expect(try scenario.poll() == nil, "not on the normal queue")
        let task = try #require(try scenario.poll(queue: "worker-1-sticky"))
        #expect(task.previousStartedEventID == 3)
        #expect(task.history.events.map(\.eventID) == [4, 5, 6, 7, 8], "from the previous started event on")
        #expect(task.history.events.first?.eventType == .workflowTaskCompleted)
    }

    @Test mutating func aTaskNobodyTakesFromTheStickyQueueMovesToTheNormalQueueWithFullHistory() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        try completeSticky(&scenario, try #require(try scenario.poll()), [timerCommand("t", seconds: 1)])
        scenario.advanceWall(by: .seconds(1))
        scenario.advanceWall(by: .seconds(10))
        let task = try #require(try scenario.poll())
        #expect(task.history.events.first?.eventID == 1)
        #expect(try scenario.poll(queue: "worker-1-sticky") == nil)
    }
}
