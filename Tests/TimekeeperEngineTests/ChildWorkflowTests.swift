import Foundation
import SwiftProtobuf
import Testing
import TemporalAPI
@testable import TimekeeperEngine

/// Child workflows, and signals and cancel requests from one workflow to another.
@Suite struct ChildWorkflowTests {
    private func startChild(_ id: String, policy: Temporal_Api_Enums_V1_ParentClosePolicy = .unspecified) -> Command {
        .with {
            $0.commandType = .startChildWorkflowExecution
            $0.startChildWorkflowExecutionCommandAttributes = .with {
                $0.workflowID = id
                $0.workflowType.name = "Child"
                $0.taskQueue.name = "c"
                $0.parentClosePolicy = policy
            }
        }
    }

    private func signalExternal(_ id: String, childOnly: Bool = false) -> Command {
        .with {
            $0.commandType = .signalExternalWorkflowExecution
            $0.signalExternalWorkflowExecutionCommandAttributes = .with {
                $0.execution.workflowID = id
                $0.signalName = "poke"
                $0.childWorkflowOnly = childOnly
            }
        }
    }

    private func cancelExternal(_ id: String) -> Command {
        .with {
            $0.commandType = .requestCancelExternalWorkflowExecution
            $0.requestCancelExternalWorkflowExecutionCommandAttributes = .with { $0.workflowID = id }
        }
    }

    private let continueAsNew = Command.with {
        $0.commandType = .continueAsNewWorkflowExecution
        $0.continueAsNewWorkflowExecutionCommandAttributes = .with { $0.workflowType.name = "Child" }
    }

    /// A parent whose first task started a child ("child", run-2); both have a workflow task waiting.
    private func parentWithChild(policy: Temporal_Api_Enums_V1_ParentClosePolicy = .unspecified) throws -> Scenario {
        var scenario = Scenario()
        _ = try scenario.start("parent")
        try scenario.complete(try #require(try scenario.poll()), [startChild("child", policy: policy)])
        return scenario
    }

    @Test func aChildStartsWithItsParentsCompletionAndBothGetATask() throws {
        let scenario = try parentWithChild()
        #expect(scenario.eventTypes("run-1").suffix(4) == [
            .workflowTaskCompleted, .startChildWorkflowExecutionInitiated, .childWorkflowExecutionStarted, .workflowTaskScheduled,
        ])
        let started = try #require(scenario.core.history("run-1").first { $0.eventType == .childWorkflowExecutionStarted })
        #expect(started.childWorkflowExecutionStartedEventAttributes.initiatedEventID == 5)
        #expect(started.childWorkflowExecutionStartedEventAttributes.workflowExecution.runID == "run-2")
        let initiated = scenario.core.history("run-1")[4].startChildWorkflowExecutionInitiatedEventAttributes
        #expect(initiated.taskQueue.name == "c")
        #expect(initiated.parentClosePolicy == .terminate)
        #expect(initiated.workflowIDReusePolicy == .allowDuplicate)

        let child = try #require(scenario.run("run-2"))
        let childStarted = child.history[0].workflowExecutionStartedEventAttributes
        #expect(childStarted.parentWorkflowExecution.workflowID == "parent")
        #expect(childStarted.parentWorkflowExecution.runID == "run-1")
        #expect(childStarted.parentInitiatedEventID == 5)
        #expect(childStarted.rootWorkflowExecution.workflowID == "parent")
        #expect(child.history.last?.eventType == .workflowTaskScheduled)

        let described = try scenario.core.describeWorkflow(.with { $0.namespace = "default"; $0.execution.workflowID = "parent" })
        #expect(described.pendingChildren.map(\.workflowID) == ["child"])
        #expect(described.pendingChildren.first?.runID == "run-2")
        let childDescribed = try scenario.core.describeWorkflow(.with { $0.namespace = "default"; $0.execution.workflowID = "child" })
        #expect(childDescribed.workflowExecutionInfo.parentExecution.runID == "run-1")
        #expect(childDescribed.workflowExecutionInfo.rootExecution.workflowID == "parent")
    }

    @Test func aChildWithoutATaskQueueRunsOnItsParents() throws {
        var scenario = Scenario()
        _ = try scenario.start("parent")
        var command = startChild("child")
        command.startChildWorkflowExecutionCommandAttributes.clearTaskQueue()
        try scenario.complete(try #require(try scenario.poll()), [command])
        #expect(scenario.run("run-2")?.taskQueue == "q")
    }

    @Test func aCompletedChildReportsItsResultToItsParent() throws {
        var scenario = try parentWithChild()
        try scenario.complete(try #require(try scenario.poll()), [])  // the parent's task for the started event
        try scenario.complete(try #require(try scenario.poll(queue: "c")), [completeCommand("grown up")])  // the child's
        let history = scenario.core.history("run-1")
        let completed = try #require(history.first { $0.eventType == .childWorkflowExecutionCompleted })
        let attributes = completed.childWorkflowExecutionCompletedEventAttributes
        #expect(attributes.result.payloads.first?.data == Data("grown up".utf8))
        #expect(attributes.initiatedEventID == 5)
        #expect(attributes.startedEventID == 6)
        #expect(history.last?.eventType == .workflowTaskScheduled, "the parent gets a task to see it")
        #expect(scenario.run("run-1")?.children.isEmpty == true)
    }

    @Test func aChildIDTakenByARunningWorkflowFailsToStart() throws {
        var scenario = Scenario()
        _ = try scenario.start("taken", requestID: "other")
        _ = try scenario.start("parent", queue: "p")
        try scenario.complete(try #require(try scenario.poll(queue: "p")), [startChild("taken")])
        let failed = try #require(scenario.core.history("run-2").first { $0.eventType == .startChildWorkflowExecutionFailed })
        #expect(failed.startChildWorkflowExecutionFailedEventAttributes.cause == .workflowAlreadyExists)
        #expect(failed.startChildWorkflowExecutionFailedEventAttributes.initiatedEventID == 5)
        #expect(scenario.core.runs.count == 2, "no child run was made")
    }

    @Test func aChildThatContinuesAsNewReportsOnlyTheLastRunsClose() throws {
        var scenario = try parentWithChild()
        try scenario.complete(try #require(try scenario.poll()), [])  // parent
        try scenario.complete(try #require(try scenario.poll(queue: "c")), [continueAsNew])  // child run-2 → run-3
        #expect(!scenario.eventTypes("run-1").contains(.childWorkflowExecutionCompleted))
        #expect(scenario.run("run-3")?.parent?.runID == "run-1", "the next run keeps the parent")
        try scenario.complete(try #require(try scenario.poll(queue: "c")), [completeCommand()])  // child run-3
        let completed = try #require(scenario.core.history("run-1").first { $0.eventType == .childWorkflowExecutionCompleted })
        #expect(completed.childWorkflowExecutionCompletedEventAttributes.workflowExecution.runID == "run-3")
    }

    @Test(arguments: [
        (Temporal_Api_Enums_V1_ParentClosePolicy.unspecified, ExecutionStatus.terminated, false),
        (.requestCancel, .running, true),
        (.abandon, .running, false),
    ])
    func aClosingParentAppliesItsChildsPolicy(
        policy: Temporal_Api_Enums_V1_ParentClosePolicy, childStatus: ExecutionStatus, cancelRequested: Bool
    ) throws {
        var scenario = try parentWithChild(policy: policy)
        try scenario.complete(try #require(try scenario.poll()), [completeCommand()])  // the parent completes
        let child = try #require(scenario.run("run-2"))
        #expect(child.status == childStatus)
        #expect(child.cancelRequested == cancelRequested)
        if childStatus == .terminated {
            #expect(child.closeEvent?.workflowExecutionTerminatedEventAttributes.reason == "by parent close policy")
        }
        #expect(scenario.run("run-1")?.history.last?.eventType == .workflowExecutionCompleted, "a closed parent hears nothing more")
    }

    @Test func aSignalToARunningWorkflowArrivesNamingItsSenderAndTheSenderHearsSo() throws {
        var scenario = Scenario()
        _ = try scenario.start("target", requestID: "t", queue: "t")
        _ = try scenario.start("sender", requestID: "s", queue: "s")
        try scenario.complete(try #require(try scenario.poll(queue: "s")), [signalExternal("target"), signalExternal("nobody")])
        let signal = try #require(scenario.core.history("run-1").first { $0.eventType == .workflowExecutionSignaled })
        #expect(signal.workflowExecutionSignaledEventAttributes.signalName == "poke")
        #expect(signal.workflowExecutionSignaledEventAttributes.externalWorkflowExecution.workflowID == "sender")
        let sender = scenario.eventTypes("run-2")
        #expect(sender.contains(.externalWorkflowExecutionSignaled))
        let failed = try #require(scenario.core.history("run-2").first { $0.eventType == .signalExternalWorkflowExecutionFailed })
        #expect(failed.signalExternalWorkflowExecutionFailedEventAttributes.cause == .externalWorkflowExecutionNotFound)
        #expect(failed.signalExternalWorkflowExecutionFailedEventAttributes.workflowExecution.workflowID == "nobody")
        #expect(sender.last == .workflowTaskScheduled)
        #expect(scenario.run("run-2")?.externalRequests.isEmpty == true)
    }

    @Test func aChildOnlySignalToAWorkflowThatIsNotAChildFails() throws {
        var scenario = Scenario()
        _ = try scenario.start("stranger", requestID: "t", queue: "t")
        _ = try scenario.start("sender", requestID: "s", queue: "s")
        try scenario.complete(try #require(try scenario.poll(queue: "s")), [signalExternal("stranger", childOnly: true)])
        #expect(scenario.eventTypes("run-2").contains(.signalExternalWorkflowExecutionFailed))
        #expect(!scenario.eventTypes("run-1").contains(.workflowExecutionSignaled))
    }

    @Test func aCancelRequestToAClosedWorkflowSucceedsAndToAMissingOneFails() throws {
        var scenario = Scenario()
        _ = try scenario.start("done", requestID: "d", queue: "d")
        try scenario.complete(try #require(try scenario.poll(queue: "d")), [completeCommand()])
        _ = try scenario.start("sender", requestID: "s", queue: "s")
        try scenario.complete(try #require(try scenario.poll(queue: "s")), [cancelExternal("done"), cancelExternal("nobody")])
        let sender = scenario.eventTypes("run-2")
        #expect(sender.contains(.externalWorkflowExecutionCancelRequested))
        let failed = try #require(scenario.core.history("run-2").first { $0.eventType == .requestCancelExternalWorkflowExecutionFailed })
        #expect(failed.requestCancelExternalWorkflowExecutionFailedEventAttributes.cause == .externalWorkflowExecutionNotFound)
    }

    @Test func aCancelRequestReachesARunningWorkflowNamingItsSender() throws {
        var scenario = Scenario()
        _ = try scenario.start("target", requestID: "t", queue: "t")
        _ = try scenario.start("sender", requestID: "s", queue: "s")
        try scenario.complete(try #require(try scenario.poll(queue: "s")), [cancelExternal("target")])
        #expect(scenario.run("run-1")?.cancelRequested == true)
        let request = try #require(scenario.core.history("run-1").first { $0.eventType == .workflowExecutionCancelRequested })
        #expect(request.workflowExecutionCancelRequestedEventAttributes.externalInitiatedEventID == 5)
        #expect(request.workflowExecutionCancelRequestedEventAttributes.externalWorkflowExecution.workflowID == "sender")
    }

    @Test func aStartChildCommandWithoutAWorkflowIDIsRefusedWhole() throws {
        var scenario = Scenario()
        _ = try scenario.start("parent")
        let task = try #require(try scenario.poll())
        let before = scenario.core.history("run-1")
        #expect(throws: EngineError.self) { try scenario.complete(task, [completeCommand(), startChild("")]) }
        #expect(scenario.core.history("run-1") == before)
    }
}
