import Foundation
import SwiftProtobuf
import TemporalAPI
import Testing
@testable import TimekeeperEngine

/// A refused request changes nothing: for each RPC family, a request that fails late (after the parts
/// before it checked out: a bad command in the middle of a list, a stale token, a refused unlock) leaves
/// the engine exactly as it was, and its transition records nothing.
@Suite struct AtomicityTests {
    /// Everything a transition can change, compared whole.
    struct Frozen: Equatable {
        var runs: [String: WorkflowRun]
        var histories: [String: [HistoryEvent]]
        var currentRuns: [WorkflowKey: String]
        var timetable: [String]
        var clock: String
        var queries: [String]
        var matching: [String]
        var sleeps: [SleepID: EntryID]

        init(_ core: EngineCore) {
            runs = core.runs
            histories = Dictionary(uniqueKeysWithValues: core.runs.keys.map { ($0, core.history($0)) })
            currentRuns = core.currentRuns
            timetable = core.timetable.pending.map { "\($0.id) \($0.kind) \($0.fireAt) \($0.owner?.runID ?? "-")" }
            clock = "\(core.now) \(core.clock.lockCount) \(core.clock.clientLocks) \(core.clock.holds.sorted { $0.key.description < $1.key.description }) \(core.clock.permission)"
            queries = core.queries.map { "\($0.key.rawValue) \($0.value.route) \($0.value.runID)" }.sorted()
                + core.runs.keys.sorted().map { "\($0): \(core.queryBook.buffered(for: $0)) \(core.queryBook.inFlight(for: $0))" }
            matching = core.matching.waitingPollers.keys.map { "poller \($0.rawValue)" }.sorted()
                + core.matching.workflowQueues.map { "\($0.key.name): \($0.value.backlog)" }.sorted()
                + core.matching.activityQueues.map { "\($0.key.name): \($0.value.backlog)" }.sorted()
            sleeps = core.sleeps
        }
    }

    /// A busy engine: "wf" with a timer and an activity open, a started workflow task (after a signal)
    /// carrying a consistent query, a sticky queue, and a second workflow that completed.
    static func busy() throws -> (Scenario, started: PollWorkflowTaskResponse, stale: PollWorkflowTaskResponse) {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let first = try #require(try scenario.poll())
        try scenario.core.completeWorkflowTask(
            .with {
                $0.namespace = "default"
                $0.taskToken = first.taskToken
                $0.commands = [timerCommand("t", seconds: 60), activityCommand("a")]
                $0.stickyAttributes = .with { $0.workerTaskQueue.name = "sticky"; $0.scheduleToStartTimeout = .init(seconds: 5) }
            }, wallNow: scenario.wall)
        try scenario.signal("go")
        let started = try #require(try scenario.poll(queue: "sticky"))
        _ = try scenario.core.queryWorkflow(
            .with { $0.namespace = "default"; $0.execution.workflowID = "wf"; $0.query.queryType = "state" },
            id: QueryID(rawValue: 99), wallNow: scenario.wall)
        _ = try scenario.start("done", requestID: "req-2")
        try scenario.complete(try #require(try scenario.poll()), [completeCommand()])
        _ = scenario.core.takeTransition()
        let run = try #require(scenario.core.runs["run-1"])
        #expect(run.timers["t"] != nil && run.activities.count == 1 && run.stickyQueue == "sticky")
        #expect(run.workflowTask.scheduledEventID != nil && scenario.core.queryBook.buffered(for: "run-1") == [QueryID(rawValue: 99)])
        #expect(scenario.core.runs["run-2"]?.status == .completed)
        return (scenario, started, first)
    }

    /// Runs `call`, which must be refused, and checks that nothing changed.
    static func expectRefusedAndUnchanged(
        _ scenario: inout Scenario, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ call: (inout Scenario) throws(EngineError) -> Void
    ) {
        let before = Frozen(scenario.core)
        do throws(EngineError) {
            try call(&scenario)
            Issue.record("\(what) was not refused", sourceLocation: sourceLocation)
        } catch {}
        #expect(Frozen(scenario.core) == before, "\(what) changed the engine", sourceLocation: sourceLocation)
        #expect(scenario.core.takeTransition().isEmpty, "\(what) recorded a transition", sourceLocation: sourceLocation)
    }

    func complete(_ scenario: inout Scenario, _ task: PollWorkflowTaskResponse, _ commands: [Command]) throws(EngineError) {
        try scenario.core.completeWorkflowTask(
            .with { $0.namespace = "default"; $0.taskToken = task.taskToken; $0.commands = commands },
            wallNow: scenario.wall)
    }

    private func signalCommand(_ workflowID: String) -> Command {
        .with {
            $0.commandType = .signalExternalWorkflowExecution
            $0.signalExternalWorkflowExecutionCommandAttributes = .with {
                $0.execution.workflowID = workflowID
                $0.signalName = "poke"
            }
        }
    }

    @Test func aCompletionWithABadCommandInTheMiddleAppliesNoneOfIt() throws {
        var (scenario, started, _) = try Self.busy()
        let reusedTimer = timerCommand("t", seconds: 5)  // "t" is open: refused as the second of three
        Self.expectRefusedAndUnchanged(&scenario, "a reused timer id") { scenario throws(EngineError) in
            try complete(&scenario, started, [timerCommand("t2", seconds: 5), reusedTimer, completeCommand()])
        }
        let unsupported = Command.with {
            $0.commandType = .scheduleNexusOperation
            $0.scheduleNexusOperationCommandAttributes = .with { $0.endpoint = "elsewhere"; $0.operation = "op" }
        }
        Self.expectRefusedAndUnchanged(&scenario, "an unsupported command") { scenario throws(EngineError) in
            try complete(&scenario, started, [activityCommand("b"), unsupported, completeCommand()])
        }
        let childWithoutID = Command.with {
            $0.commandType = .startChildWorkflowExecution
            $0.startChildWorkflowExecutionCommandAttributes = .with { $0.workflowType.name = "Child" }
        }
        Self.expectRefusedAndUnchanged(&scenario, "a child without a workflow id") { scenario throws(EngineError) in
            try complete(&scenario, started, [signalCommand("other"), childWithoutID, completeCommand()])
        }
        Self.expectRefusedAndUnchanged(&scenario, "a schedule without timeouts") { scenario throws(EngineError) in
            try complete(&scenario, started, [timerCommand("t3", seconds: 5), activityCommand("c", startToClose: 0)])
        }
    }

    @Test func aStaleWorkflowTaskTokenFailsCompletesNothing() throws {
        var (scenario, _, stale) = try Self.busy()
        Self.expectRefusedAndUnchanged(&scenario, "a completion with a finished task's token") { scenario throws(EngineError) in
            try complete(&scenario, stale, [completeCommand()])
        }
        Self.expectRefusedAndUnchanged(&scenario, "a failure with a finished task's token") { scenario throws(EngineError) in
            try scenario.core.failWorkflowTask(
                .with { $0.namespace = "default"; $0.taskToken = stale.taskToken; $0.cause = .workflowWorkerUnhandledFailure },
                wallNow: scenario.wall)
        }
    }

    @Test func refusedStartsSignalsCancelsAndTerminationsChangeNothing() throws {
        var (scenario, _, _) = try Self.busy()
        Self.expectRefusedAndUnchanged(&scenario, "a start of a running workflow id") { scenario throws(EngineError) in
            _ = try scenario.start("wf", requestID: "another")
        }
        Self.expectRefusedAndUnchanged(&scenario, "a start the reuse policy forbids") { scenario throws(EngineError) in
            _ = try scenario.start("done", requestID: "again") { $0.workflowIDReusePolicy = .rejectDuplicate }
        }
        Self.expectRefusedAndUnchanged(&scenario, "a signal to a closed run") { scenario throws(EngineError) in
            try scenario.core.signalWorkflow(
                .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "done"; $0.signalName = "s" },
                wallNow: scenario.wall)
        }
        Self.expectRefusedAndUnchanged(&scenario, "a signal-with-start without a signal name") { scenario throws(EngineError) in
            _ = try scenario.core.signalWithStart(
                .with { $0.namespace = "default"; $0.workflowID = "new"; $0.workflowType.name = "W"; $0.taskQueue.name = "q" },
                wallNow: scenario.wall)
        }
        Self.expectRefusedAndUnchanged(&scenario, "a cancel of an unknown workflow") { scenario throws(EngineError) in
            try scenario.core.requestCancelWorkflow(
                .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "nobody" }, wallNow: scenario.wall)
        }
        // A cancel of a closed run is answered with success and records nothing (Temporal's server's rule).
        let doneRunID = try #require(scenario.core.currentRuns[WorkflowKey(namespace: "default", workflowID: "done")])
        let before = scenario.core.history(doneRunID)
        try scenario.core.requestCancelWorkflow(
            .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "done" }, wallNow: scenario.wall)
        #expect(scenario.core.history(doneRunID) == before)
        Self.expectRefusedAndUnchanged(&scenario, "a termination of a closed run") { scenario throws(EngineError) in
            try scenario.core.terminateWorkflow(
                .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "done" }, wallNow: scenario.wall)
        }
        Self.expectRefusedAndUnchanged(&scenario, "a sticky reset of an unknown run") { scenario throws(EngineError) in
            try scenario.core.resetStickyQueue(namespace: "default", .with { $0.workflowID = "nobody" }, wallNow: scenario.wall)
        }
    }

    @Test func refusedPollsActivityResponsesAndQueriesChangeNothing() throws {
        var (scenario, started, _) = try Self.busy()
        Self.expectRefusedAndUnchanged(&scenario, "a poll without a task queue") { scenario throws(EngineError) in
            _ = try scenario.core.pollWorkflowTask(
                namespace: "default", taskQueue: "", identity: "w", poller: PollerID(rawValue: 5), wallNow: scenario.wall)
        }
        let notStarted = TaskToken(kind: .activityTask, runID: "run-1", scheduledEventID: 6, attempt: 1).data
        Self.expectRefusedAndUnchanged(&scenario, "completing an attempt no worker took") { scenario throws(EngineError) in
            try scenario.core.completeActivity(.token(notStarted), result: nil, identity: "w", wallNow: scenario.wall)
        }
        Self.expectRefusedAndUnchanged(&scenario, "a heartbeat with a workflow task's token") { scenario throws(EngineError) in
            _ = try scenario.core.heartbeatActivity(.token(started.taskToken), details: nil, wallNow: scenario.wall)
        }
        Self.expectRefusedAndUnchanged(&scenario, "failing an activity of an unknown workflow") { scenario throws(EngineError) in
            try scenario.core.failActivity(
                .id(namespace: "default", workflowID: "nobody", runID: "", activityID: "a"), failure: Failure(),
                lastHeartbeatDetails: nil, identity: "w", wallNow: scenario.wall)
        }
        Self.expectRefusedAndUnchanged(&scenario, "a query of an unknown workflow") { scenario throws(EngineError) in
            _ = try scenario.core.queryWorkflow(
                .with { $0.namespace = "default"; $0.execution.workflowID = "nobody"; $0.query.queryType = "q" },
                id: QueryID(rawValue: 100), wallNow: scenario.wall)
        }
        let unknownQuery = TaskToken(kind: .queryTask, runID: "run-1", scheduledEventID: 12345, attempt: 1).data
        Self.expectRefusedAndUnchanged(&scenario, "an answer to an unknown query task") { scenario throws(EngineError) in
            try scenario.core.completeQueryTask(
                .with { $0.namespace = "default"; $0.taskToken = unknownQuery; $0.completedType = .answered }, wallNow: scenario.wall)
        }
    }

    @Test func aRefusedUnlockOrSleepChangesNothing() throws {
        var scenario = Scenario(startsLocked: false)
        #expect(scenario.core.clock.lockCount == 0)
        Self.expectRefusedAndUnchanged(&scenario, "an unbalanced unlock") { scenario throws(EngineError) in
            try scenario.core.unlockTimeSkipping(wallNow: scenario.wall)
        }
        Self.expectRefusedAndUnchanged(&scenario, "an unlocking sleep with nothing to unlock") { scenario throws(EngineError) in
            try scenario.core.sleep(SleepID(rawValue: 1), until: .after(.seconds(5)), unlocking: true, wallNow: scenario.wall)
        }
        scenario.core.lockTimeSkipping(wallNow: scenario.wall)
        _ = scenario.core.takeTransition()
        Self.expectRefusedAndUnchanged(&scenario, "a negative unlocking sleep") { scenario throws(EngineError) in
            try scenario.core.sleep(SleepID(rawValue: 2), until: .after(.seconds(-1)), unlocking: true, wallNow: scenario.wall)
        }
    }
}
