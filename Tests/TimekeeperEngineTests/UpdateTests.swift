import Foundation
import SwiftProtobuf
import Testing
import TemporalAPI
@testable import TimekeeperEngine

/// Updates through the core: admitted by a client, carried to a worker on a workflow task, answered by the
/// worker's messages, and the clock's behaviour while a client awaits one.
@Suite struct UpdateTests {
    private let waits = Counter()

    // MARK: Helpers

    private func updateRequest(_ workflowID: String, _ updateID: String, stage: UpdateStage = .completed)
        -> UpdateWorkflowRequest
    {
        .with {
            $0.namespace = "default"
            $0.workflowExecution.workflowID = workflowID
            $0.waitPolicy.lifecycleStage = stage
            $0.request.meta.updateID = updateID
            $0.request.meta.identity = "client"
            $0.request.input.name = "setGreeting"
        }
    }

    private func message(_ id: String, _ updateID: String, _ body: some SwiftProtobuf.Message) throws -> Temporal_Api_Protocol_V1_Message {
        try .with {
            $0.id = id
            $0.protocolInstanceID = updateID
            $0.body = try Google_Protobuf_Any(message: body)
        }
    }

    private func acceptance(_ updateID: String, sequencedAfter eventID: Int64) throws -> Temporal_Api_Protocol_V1_Message {
        try message("\(updateID)/accept", updateID, Temporal_Api_Update_V1_Acceptance.with {
            $0.acceptedRequestMessageID = "\(updateID)/request"
            $0.acceptedRequestSequencingEventID = eventID
        })
    }

    private func response(_ updateID: String, _ text: String) throws -> Temporal_Api_Protocol_V1_Message {
        try message("\(updateID)/complete", updateID, Temporal_Api_Update_V1_Response.with {
            $0.meta.updateID = updateID
            $0.outcome.success.payloads = [.with { $0.data = Data(text.utf8) }]
        })
    }

    private func rejection(_ updateID: String, _ text: String) throws -> Temporal_Api_Protocol_V1_Message {
        try message("\(updateID)/reject", updateID, Temporal_Api_Update_V1_Rejection.with {
            $0.rejectedRequestMessageID = "\(updateID)/request"
            $0.failure.message = text
        })
    }

    private func placing(_ message: Temporal_Api_Protocol_V1_Message) -> Command {
        .with {
            $0.commandType = .protocolMessage
            $0.protocolMessageCommandAttributes.messageID = message.id
        }
    }

    private func complete(_ scenario: inout Scenario, _ task: PollWorkflowTaskResponse, commands: [Command],
                          messages: [Temporal_Api_Protocol_V1_Message]) throws(EngineError) {
        try scenario.core.completeWorkflowTask(
            .with {
                $0.namespace = "default"
                $0.taskToken = task.taskToken
                $0.commands = commands
                $0.messages = messages
                $0.identity = "worker"
            }, wallNow: scenario.wall)
    }

    /// Sends an update call and answers what it got at once, or `nil` if it waits.
    private func update(_ scenario: inout Scenario, _ request: UpdateWorkflowRequest) throws(EngineError)
        -> (UpdateWaitID, UpdateProgress?)
    {
        let wait = UpdateWaitID(rawValue: UInt64(waits.next()))
        switch try scenario.core.updateWorkflow(request, wait: wait, wallNow: scenario.wall) {
        case .answered(let progress): return (wait, progress)
        case .pending: return (wait, nil)
        }
    }

    private func answers(_ scenario: inout Scenario) -> [UpdateWaitID: Result<UpdateProgress, EngineError>] {
        var answers: [UpdateWaitID: Result<UpdateProgress, EngineError>] = [:]
        for case .answerUpdate(let id, let answer) in scenario.core.takeTransition().effects { answers[id] = answer }
        return answers
    }

    /// A started workflow whose first task completed with no commands: it waits for what comes.
    private func idleWorkflow(_ id: String = "wf", timeout: Duration? = nil) throws -> Scenario {
        var scenario = Scenario()
        _ = try scenario.start(id) { request in
            if let timeout { request.workflowExecutionTimeout = timeout.protobuf }
        }
        try scenario.complete(try #require(try scenario.poll()), [])
        _ = scenario.core.takeTransition()
        return scenario
    }

    // MARK: Tests

    @Test func anUpdateRidesOnTheNextTaskAndItsAnswersBecomeHistory() throws {
        var scenario = try idleWorkflow()
        let (wait, immediate) = try update(&scenario, updateRequest("wf", "u1"))
        #expect(immediate == nil, "a wait for COMPLETED waits")
        let task = try #require(try scenario.poll())
        let delivered = try #require(task.messages.first)
        #expect(delivered.id == "u1/request")
        #expect(delivered.protocolInstanceID == "u1")
        #expect(delivered.eventID == task.startedEventID - 1, "sequenced after the event before the task's start")
        #expect(try Temporal_Api_Update_V1_Request(unpackingAny: delivered.body).input.name == "setGreeting")

        let accept = try acceptance("u1", sequencedAfter: delivered.eventID)
        let respond = try response("u1", "hi")
        try complete(&scenario, task, commands: [placing(accept), placing(respond)], messages: [accept, respond])
        #expect(scenario.eventTypes("run-1").suffix(3) == [
            .workflowTaskCompleted, .workflowExecutionUpdateAccepted, .workflowExecutionUpdateCompleted,
        ])
        let history = scenario.core.history("run-1")
        let accepted = history[history.count - 2].workflowExecutionUpdateAcceptedEventAttributes
        #expect(accepted.acceptedRequestMessageID == "u1/request")
        #expect(accepted.acceptedRequest.input.name == "setGreeting")
        #expect(history.last?.workflowExecutionUpdateCompletedEventAttributes.acceptedEventID == history[history.count - 2].eventID)
        let answer = try #require(answers(&scenario)[wait]).get()
        #expect(answer.stage == .completed)
        #expect(answer.outcome?.success.payloads.first?.data == Data("hi".utf8))
        #expect(scenario.run("run-1")?.updates["u1"]?.isCompleted == true)
    }

    @Test func aRejectedUpdateLeavesNoUpdateEventsAndFailsItsCaller() throws {
        var scenario = try idleWorkflow()
        let (wait, _) = try update(&scenario, updateRequest("wf", "u1", stage: .accepted))
        let task = try #require(try scenario.poll())
        try complete(&scenario, task, commands: [], messages: [try rejection("u1", "not today")])
        #expect(!scenario.eventTypes("run-1").contains(.workflowExecutionUpdateAccepted))
        let answer = try #require(answers(&scenario)[wait]).get()
        #expect(answer.stage == .completed)
        #expect(answer.outcome?.failure.message == "not today")
        #expect(scenario.core.updateBook.admitted.isEmpty)
    }

    @Test func theSameUpdateIDJoinsTheFirstAndACompletedOneAnswersItsStoredOutcome() throws {
        var scenario = try idleWorkflow()
        let (first, _) = try update(&scenario, updateRequest("wf", "u1"))
        let (second, _) = try update(&scenario, updateRequest("wf", "u1"))
        let task = try #require(try scenario.poll())
        #expect(task.messages.count == 1, "one update, however many callers")
        let accept = try acceptance("u1", sequencedAfter: task.startedEventID - 1)
        try complete(&scenario, task, commands: [], messages: [accept, try response("u1", "once")])
        let answered = answers(&scenario)
        #expect(try answered[first]?.get().outcome?.success.payloads.first?.data == Data("once".utf8))
        #expect(try answered[second]?.get().outcome?.success.payloads.first?.data == Data("once".utf8))

        let (_, again) = try update(&scenario, updateRequest("wf", "u1"))
        #expect(again?.outcome?.success.payloads.first?.data == Data("once".utf8))
        #expect(try scenario.poll() == nil, "a repeat schedules no workflow task")
    }

    @Test func closingTheRunFailsAdmittedUpdatesAndGivesAcceptedOnesAFailedOutcome() throws {
        var scenario = try idleWorkflow()
        // Waits for acceptance only: a client awaiting the outcome would let the clock jump to the run's
        // timeout (the trap), which closes the run before the test does.
        _ = try update(&scenario, updateRequest("wf", "accepted", stage: .accepted))
        let task = try #require(try scenario.poll())
        try complete(&scenario, task, commands: [], messages: [try acceptance("accepted", sequencedAfter: task.startedEventID - 1)])
        let (admittedWait, _) = try update(&scenario, updateRequest("wf", "admitted"))
        _ = answers(&scenario)

        try scenario.core.terminateWorkflow(
            .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "wf" }, wallNow: scenario.wall)
        guard case .failure(let error)? = answers(&scenario)[admittedWait] else {
            Issue.record("the admitted update's caller got no error")
            return
        }
        #expect(error.code == .notFound)
        #expect(error.message == "workflow update was aborted by closing workflow")

        let (_, accepted) = try update(&scenario, updateRequest("wf", "accepted"))
        #expect(accepted?.stage == .completed)
        #expect(accepted?.outcome?.failure.message == "Workflow Update failed because the Workflow completed before the Update completed.")
        #expect(accepted?.outcome?.failure.applicationFailureInfo.type == "AcceptedUpdateCompletedWorkflow")
        do {
            _ = try update(&scenario, updateRequest("wf", "late"))
            Issue.record("an update of a closed run was admitted")
        } catch {
            #expect(error.message == "workflow execution already completed")
        }
    }

    @Test func awaitingAnUpdateThatNeverCompletesJumpsToTheRunTimeoutAndFailsIt() throws {
        var scenario = try idleWorkflow(timeout: .seconds(7200))
        let (wait, _) = try update(&scenario, updateRequest("wf", "forever"))
        let task = try #require(try scenario.poll())
        try complete(&scenario, task, commands: [], messages: [try acceptance("forever", sequencedAfter: task.startedEventID - 1)])
        #expect(scenario.run("run-1")?.status == .timedOut)
        #expect(try answers(&scenario)[wait]?.get().outcome?.failure.applicationFailureInfo.type == "AcceptedUpdateCompletedWorkflow")
        #expect(scenario.core.traps["run-1"]?.jump.permission == "permitted by a client awaiting update forever of workflow wf")
    }

    @Test func awaitingAnUpdateDoesNotJumpToTheTenYearTimeoutOfAWorkflowThatSetNone() throws {
        var scenario = try idleWorkflow()
        let before = scenario.core.now
        let (wait, _) = try update(&scenario, updateRequest("wf", "waits-for-a-signal"))
        let task = try #require(try scenario.poll())
        try complete(&scenario, task, commands: [], messages: [try acceptance("waits-for-a-signal", sequencedAfter: task.startedEventID - 1)])
        scenario.advanceWall(by: .seconds(1))
        #expect(scenario.run("run-1")?.status == .running, "the workflow is still there for the signal that finishes the update")
        #expect(scenario.core.now - before < .seconds(60))
        #expect(!answers(&scenario).keys.contains(wait), "the update still waits")
    }

    @Test(arguments: [false, true])
    func aResetAdmitsAgainTheUpdatesAcceptedAfterItsPointUnlessExcluded(excluded: Bool) throws {
        var scenario = try idleWorkflow()
        let resetPoint = try #require(scenario.core.history("run-1").last { $0.eventType == .workflowTaskCompleted }).eventID
        _ = try update(&scenario, updateRequest("wf", "u"))
        let task = try #require(try scenario.poll())
        try complete(&scenario, task, commands: [], messages: [
            try acceptance("u", sequencedAfter: task.startedEventID - 1), try response("u", "done"),
        ])
        let newRunID = try scenario.core.resetWorkflow(.with {
            $0.namespace = "default"
            $0.workflowExecution.workflowID = "wf"
            $0.workflowTaskFinishEventID = resetPoint
            $0.requestID = "reset"
            if excluded { $0.resetReapplyExcludeTypes = [.update] }
        }, wallNow: scenario.wall)
        let again = try #require(try scenario.poll())
        #expect(again.workflowExecution.runID == newRunID)
        #expect(again.messages.map(\.protocolInstanceID) == (excluded ? [] : ["u"]))
    }

    @Test func aCloseWhileAnUpdateWaitsUnseenGoesThroughAndAbortsTheUpdate() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        let (wait, _) = try update(&scenario, updateRequest("wf", "u1"))  // arrives while the task runs: not in it
        try scenario.complete(task, [completeCommand()])
        #expect(scenario.run("run-1")?.status == .completed)
        guard case .failure(let error)? = answers(&scenario)[wait] else { Issue.record("the update's caller got no error"); return }
        #expect(error.message == "workflow update was aborted by closing workflow")
    }

    @Test func anUpdateWaitingUnseenWhenTheRunContinuesAsNewGoesToTheNewRun() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        let task = try #require(try scenario.poll())
        let (wait, _) = try update(&scenario, updateRequest("wf", "u1"))
        let continueAsNew = Command.with {
            $0.commandType = .continueAsNewWorkflowExecution
            $0.continueAsNewWorkflowExecutionCommandAttributes = .with { $0.workflowType.name = "Hello" }
        }
        try scenario.complete(task, [continueAsNew])
        #expect(answers(&scenario)[wait] == nil, "its caller still waits")
        let next = try #require(try scenario.poll())
        #expect(next.workflowExecution.runID == "run-2")
        #expect(next.messages.map(\.protocolInstanceID) == ["u1"])
    }

    @Test func anAnswerToAnUnknownUpdateRefusesTheCompletionAndChangesNothing() throws {
        var scenario = try idleWorkflow()
        _ = try update(&scenario, updateRequest("wf", "u1"))
        let task = try #require(try scenario.poll())
        let before = scenario.core.history("run-1")
        #expect(throws: EngineError.self) {
            try self.complete(&scenario, task, commands: [], messages: [try self.acceptance("nope", sequencedAfter: 1)])
        }
        #expect(throws: EngineError.self) {
            try self.complete(&scenario, task, commands: [], messages: [try self.response("u1", "before accepting")])
        }
        #expect(scenario.core.history("run-1") == before)
        #expect(scenario.core.updateBook.admitted("run-1", "u1")?.route == .inFlight(startedEventID: task.startedEventID))
    }

    @Test func awaitingAnOutcomeLetsTheClockSkipAndTheJumpNamesTheUpdate() throws {
        var scenario = try idleWorkflow()
        let (wait, _) = try update(&scenario, updateRequest("wf", "nap"))
        let task = try #require(try scenario.poll())
        let accept = try acceptance("nap", sequencedAfter: task.startedEventID - 1)
        let startTimer = Command.with {
            $0.commandType = .startTimer
            $0.startTimerCommandAttributes = .with { $0.timerID = "1"; $0.startToFireTimeout = Duration.seconds(3600).protobuf }
        }
        let before = scenario.core.now
        try complete(&scenario, task, commands: [placing(accept), startTimer], messages: [accept])
        #expect(scenario.core.clock.clientLocks == 1, "the client still holds its lock")
        #expect(scenario.core.now - before >= .seconds(3600), "the clock jumped to the handler's timer")
        let jump = try #require(scenario.core.recentJumps.inOrder.last)
        #expect(jump.permission == "permitted by a client awaiting update nap of workflow wf")

        // The timer's task: the handler finishes.
        let next = try #require(try scenario.poll())
        try complete(&scenario, next, commands: [], messages: [try response("nap", "rested")])
        #expect(try answers(&scenario)[wait]?.get().stage == .completed)
        #expect(!scenario.core.clock.clientLocksWaived)
    }

    @Test func aWaitForAcceptanceOnlyDoesNotLetTheClockSkip() throws {
        var scenario = try idleWorkflow()
        _ = try update(&scenario, updateRequest("wf", "nap", stage: .accepted))
        let task = try #require(try scenario.poll())
        let startTimer = Command.with {
            $0.commandType = .startTimer
            $0.startTimerCommandAttributes = .with { $0.timerID = "1"; $0.startToFireTimeout = Duration.seconds(3600).protobuf }
        }
        let before = scenario.core.now
        try complete(&scenario, task, commands: [startTimer],
                     messages: [try acceptance("nap", sequencedAfter: task.startedEventID - 1)])
        #expect(scenario.core.now - before < .seconds(1))
    }

    @Test func theEleventhUpdateInFlightIsRefused() throws {
        var scenario = try idleWorkflow()
        for index in 0..<EngineCore.maximumInFlightUpdates {
            _ = try update(&scenario, updateRequest("wf", "u\(index)"))
        }
        do {
            _ = try update(&scenario, updateRequest("wf", "one-too-many"))
            Issue.record("the eleventh update was admitted")
        } catch {
            #expect(error.code == .resourceExhausted)
            #expect(error.message == "limit on number of concurrent in-flight updates has been reached (10)")
        }
        #expect(scenario.core.updateBook.count("run-1") == EngineCore.maximumInFlightUpdates)
    }

    @Test func aWaitForAdmittedIsRefusedAsTemporalRefusesIt() throws {
        var scenario = try idleWorkflow()
        do {
            _ = try update(&scenario, updateRequest("wf", "u1", stage: .admitted))
            Issue.record("a wait for ADMITTED was accepted")
        } catch {
            #expect(error.code == .permissionDenied)
        }
        #expect(scenario.core.updateBook.admitted.isEmpty)
    }

    @Test func pollingAnUnknownUpdateIsNotFound() throws {
        var scenario = try idleWorkflow()
        do {
            _ = try scenario.core.pollUpdate(
                .with {
                    $0.namespace = "default"
                    $0.updateRef.workflowExecution.workflowID = "wf"
                    $0.updateRef.updateID = "nope"
                    $0.waitPolicy.lifecycleStage = .completed
                }, wait: UpdateWaitID(rawValue: 99), wallNow: scenario.wall)
            Issue.record("an unknown update was found")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.message == "update \"nope\" not found")
        }
    }
}

/// Update-with-start: one call that starts the workflow (or uses its running run) and updates it.
@Suite struct UpdateWithStartTests {
    private func request(_ workflowID: String, updateID: String, requestID: String = "start-1",
                         conflict: Temporal_Api_Enums_V1_WorkflowIdConflictPolicy = .useExisting) -> MultiOperationRequest {
        .with {
            $0.namespace = "default"
            $0.operations = [
                .with {
                    $0.startWorkflow = .with {
                        $0.namespace = "default"
                        $0.workflowID = workflowID
                        $0.workflowType.name = "Hello"
                        $0.taskQueue.name = "q"
                        $0.requestID = requestID
                        $0.workflowIDConflictPolicy = conflict
                    }
                },
                .with {
                    $0.updateWorkflow = .with {
                        $0.namespace = "default"
                        $0.workflowExecution.workflowID = workflowID
                        $0.waitPolicy.lifecycleStage = .accepted
                        $0.request.meta.updateID = updateID
                        $0.request.input.name = "greet"
                    }
                },
            ]
        }
    }

    @Test func itStartsTheWorkflowAndItsFirstTaskCarriesTheUpdate() throws {
        var scenario = Scenario()
        let outcome = try scenario.core.updateWithStart(request("wf", updateID: "u1"), wait: UpdateWaitID(rawValue: 1), wallNow: scenario.wall)
        #expect(outcome.start == StartOutcome(runID: "run-1", started: true))
        guard case .pending = outcome.update else { Issue.record("the update was answered before a worker saw it"); return }
        let task = try #require(try scenario.poll())
        #expect(task.messages.map(\.protocolInstanceID) == ["u1"])
        #expect(task.history.events.map(\.eventType) == [.workflowExecutionStarted, .workflowTaskScheduled, .workflowTaskStarted])
    }

    @Test func itUsesTheRunningRunWhenThePolicySaysSoAndRefusesWhenItDoesNot() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf", requestID: "first")
        let reused = try scenario.core.updateWithStart(request("wf", updateID: "u1"), wait: UpdateWaitID(rawValue: 1), wallNow: scenario.wall)
        #expect(reused.start == StartOutcome(runID: "run-1", started: false))
        #expect(scenario.core.updateBook.admitted("run-1", "u1") != nil)

        do {
            _ = try scenario.core.updateWithStart(
                request("wf", updateID: "u2", requestID: "other", conflict: .fail), wait: UpdateWaitID(rawValue: 2), wallNow: scenario.wall)
            Issue.record("a FAIL conflict policy started over a running workflow")
        } catch {
            #expect(error.code == .alreadyExists)
            #expect(error.message == "Update-with-Start could not be executed.")
            guard case .multiOperation(let statuses)? = error.detail, statuses.count == 2,
                case .failed(let startError) = statuses[0], case .aborted = statuses[1]
            else { Issue.record("not a multi-operation error with the start failed and the update aborted"); return }
            guard case .workflowExecutionAlreadyStarted? = startError.detail else {
                Issue.record("the start's status lacks its already-started detail")
                return
            }
        }
        #expect(scenario.core.updateBook.admitted("run-1", "u2") == nil, "a refused call admits nothing")
    }

    @Test func operationsOtherThanStartThenUpdateAreRefused() throws {
        var scenario = Scenario()
        var swapped = request("wf", updateID: "u1")
        swapped.operations.reverse()
        #expect(throws: EngineError.self) {
            _ = try scenario.core.updateWithStart(swapped, wait: UpdateWaitID(rawValue: 1), wallNow: scenario.wall)
        }
        var otherWorkflow = request("wf", updateID: "u1")
        otherWorkflow.operations[1].updateWorkflow.workflowExecution.workflowID = "elsewhere"
        do {
            _ = try scenario.core.updateWithStart(otherWorkflow, wait: UpdateWaitID(rawValue: 2), wallNow: scenario.wall)
            Issue.record("an update of another workflow was accepted")
        } catch {
            guard case .multiOperation(let statuses)? = error.detail, case .aborted = statuses[0],
                case .failed(let updateError) = statuses[1]
            else { Issue.record("not the update's failure"); return }
            #expect(updateError.message == "WorkflowId is not consistent with previous operation(s).")
        }
        #expect(scenario.core.runs.isEmpty)
    }
}
