internal import SwiftProtobuf
internal import TemporalAPI

/// Child workflows and the signals and cancel requests one workflow sends another. A completion's
/// commands record the initiated events; once all its commands are applied (`CommandApplication`), each
/// is carried out and its answer recorded in the sender, as Temporal's transfer tasks do after the
/// completion commits. Here that happens in the same transition, so nothing is left half done.
extension EngineCore {
    // MARK: Commands

    /// StartChildWorkflowExecution: the initiated event, with Temporal's defaults filled in.
    mutating func initiateChild(
        _ attributes: Temporal_Api_Command_V1_StartChildWorkflowExecutionCommandAttributes, runID: String, completedEventID: Int64
    ) {
        let run = runs[runID]!
        let initiatedID = record(runID, .startChildWorkflowExecutionInitiated) { event in
            event.startChildWorkflowExecutionInitiatedEventAttributes = .with {
                $0.namespace = attributes.namespace.isEmpty ? run.ref.namespace : attributes.namespace
                $0.workflowID = attributes.workflowID
                $0.workflowType = attributes.workflowType
                $0.taskQueue = attributes.taskQueue
                if $0.taskQueue.name.isEmpty { $0.taskQueue.name = run.taskQueue }
                $0.taskQueue.kind = .normal
                if attributes.hasInput { $0.input = attributes.input }
                $0.workflowExecutionTimeout = attributes.workflowExecutionTimeout
                $0.workflowRunTimeout = attributes.workflowRunTimeout
                $0.workflowTaskTimeout = attributes.workflowTaskTimeout
                $0.parentClosePolicy = attributes.parentClosePolicy == .unspecified ? .terminate : attributes.parentClosePolicy
                $0.control = attributes.control
                $0.workflowTaskCompletedEventID = completedEventID
                $0.workflowIDReusePolicy =
                    attributes.workflowIDReusePolicy == .unspecified ? .allowDuplicate : attributes.workflowIDReusePolicy
                if attributes.hasRetryPolicy { $0.retryPolicy = attributes.retryPolicy }
                $0.cronSchedule = attributes.cronSchedule
                if attributes.hasHeader { $0.header = attributes.header }
                if attributes.hasMemo { $0.memo = attributes.memo }
                if attributes.hasSearchAttributes { $0.searchAttributes = attributes.searchAttributes }
                if attributes.hasPriority { $0.priority = attributes.priority }
                // What the child will inherit of the parent's own clock (as the child's started event says).
                if let (config, propagation) = run.timeSkipping?.passedToChild {
                    if let config { $0.timeSkippingConfig = config }
                    $0.timeSkippingStatePropagation = propagation
                }
            }
        }
        applying?.outbound.append(initiatedID)
    }

    mutating func initiateExternalSignal(
        _ attributes: Temporal_Api_Command_V1_SignalExternalWorkflowExecutionCommandAttributes, runID: String,
        completedEventID: Int64
    ) {
        let initiatedID = record(runID, .signalExternalWorkflowExecutionInitiated) { event in
            event.signalExternalWorkflowExecutionInitiatedEventAttributes = .with {
                $0.workflowTaskCompletedEventID = completedEventID
                $0.namespace = attributes.namespace
                $0.workflowExecution = attributes.execution
                $0.signalName = attributes.signalName
                if attributes.hasInput { $0.input = attributes.input }
                $0.control = attributes.control
                $0.childWorkflowOnly = attributes.childWorkflowOnly
                if attributes.hasHeader { $0.header = attributes.header }
            }
        }
        applying?.outbound.append(initiatedID)
    }

    mutating func initiateExternalCancel(
        _ attributes: Temporal_Api_Command_V1_RequestCancelExternalWorkflowExecutionCommandAttributes, runID: String,
        completedEventID: Int64
    ) {
        let initiatedID = record(runID, .requestCancelExternalWorkflowExecutionInitiated) { event in
            event.requestCancelExternalWorkflowExecutionInitiatedEventAttributes = .with {
                $0.workflowTaskCompletedEventID = completedEventID
                $0.namespace = attributes.namespace
                $0.workflowExecution = .with { $0.workflowID = attributes.workflowID; $0.runID = attributes.runID }
                $0.control = attributes.control
                $0.childWorkflowOnly = attributes.childWorkflowOnly
                $0.reason = attributes.reason
            }
        }
        applying?.outbound.append(initiatedID)
    }

    // MARK: Carrying them out

    /// Carries out what a completion initiated, in the order it initiated them.
    mutating func carryOut(_ initiatedIDs: [Int64], from runID: String) {
        for initiatedID in initiatedIDs {
            guard let event = history(runID).dropFirst(Int(initiatedID) - 1).first else { continue }
            switch event.attributes {
            case .startChildWorkflowExecutionInitiatedEventAttributes(let attributes)?:
                startChild(attributes, initiatedID: initiatedID, parentRunID: runID)
            case .signalExternalWorkflowExecutionInitiatedEventAttributes(let attributes)?:
                deliverSignal(attributes, initiatedID: initiatedID, senderRunID: runID)
            case .requestCancelExternalWorkflowExecutionInitiatedEventAttributes(let attributes)?:
                deliverCancel(attributes, initiatedID: initiatedID, senderRunID: runID)
            default: continue
            }
        }
    }

    private mutating func startChild(
        _ attributes: Temporal_Api_History_V1_StartChildWorkflowExecutionInitiatedEventAttributes, initiatedID: Int64,
        parentRunID: String
    ) {
        // A parent that closed in the same completion never starts the child (nor does Temporal's).
        guard let parent = runs[parentRunID], parent.isOpen else { return }
        let request = StartWorkflowRequest.with {
            $0.namespace = attributes.namespace
            $0.workflowID = attributes.workflowID
            $0.workflowType = attributes.workflowType
            $0.taskQueue = attributes.taskQueue
            if attributes.hasInput { $0.input = attributes.input }
            $0.workflowExecutionTimeout = attributes.workflowExecutionTimeout
            $0.workflowRunTimeout = attributes.workflowRunTimeout
            $0.workflowTaskTimeout = attributes.workflowTaskTimeout
            // Temporal's child request id: a retried start of the same child is the same request.
            $0.requestID = "\(parentRunID):\(initiatedID)"
            $0.workflowIDReusePolicy = attributes.workflowIDReusePolicy
            $0.workflowIDConflictPolicy = .fail
            if attributes.hasRetryPolicy { $0.retryPolicy = attributes.retryPolicy }
            $0.cronSchedule = attributes.cronSchedule
            if attributes.hasHeader { $0.header = attributes.header }
            if attributes.hasMemo { $0.memo = attributes.memo }
            if attributes.hasSearchAttributes { $0.searchAttributes = attributes.searchAttributes }
            if attributes.hasPriority { $0.priority = attributes.priority }
        }
        let childRunID: String
        switch try? decideStart(request) {
        case .create(terminating: nil)?:
            let origin = ChildOrigin(
                parent: ParentLink(namespace: parent.ref.namespace, workflowID: parent.ref.workflowID, runID: parentRunID,
                                   initiatedEventID: initiatedID),
                root: parent.root)
            childRunID = startRun(
                request, key: WorkflowKey(namespace: request.namespace, workflowID: request.workflowID), child: origin)
        case .repeated(let runID)?:
            childRunID = runID
        default:
            record(parentRunID, .startChildWorkflowExecutionFailed) { event in
                event.startChildWorkflowExecutionFailedEventAttributes = .with {
                    $0.namespace = attributes.namespace
                    $0.workflowID = attributes.workflowID
                    $0.workflowType = attributes.workflowType
                    $0.cause = .workflowAlreadyExists
                    $0.control = attributes.control
                    $0.initiatedEventID = initiatedID
                }
            }
            workflowNeedsTask(parentRunID)
            return
        }
        record(parentRunID, .childWorkflowExecutionStarted) { event in
            event.childWorkflowExecutionStartedEventAttributes = .with {
                $0.namespace = attributes.namespace
                $0.initiatedEventID = initiatedID
                $0.workflowExecution = .with { $0.workflowID = attributes.workflowID; $0.runID = childRunID }
                $0.workflowType = attributes.workflowType
                if attributes.hasHeader { $0.header = attributes.header }
            }
        }
        workflowNeedsTask(parentRunID)
    }

    /// The run a signal or cancel request is for, if it may receive it: it exists, it is not the sender's
    /// own workflow, and a child-only request names a child of the sender.
    private func target(
        namespace: String, _ execution: Temporal_Api_Common_V1_WorkflowExecution, childOnly: Bool, sender: WorkflowRun
    ) -> WorkflowRun? {
        let namespace = namespace.isEmpty ? sender.ref.namespace : namespace
        guard namespace != sender.ref.namespace || execution.workflowID != sender.ref.workflowID,
            let run = try? resolveRun(namespace: namespace, execution)
        else { return nil }
        if childOnly, run.parent?.workflowID != sender.ref.workflowID || run.parent?.runID != sender.ref.runID {
            return nil
        }
        return run
    }

    private mutating func deliverSignal(
        _ attributes: Temporal_Api_History_V1_SignalExternalWorkflowExecutionInitiatedEventAttributes, initiatedID: Int64,
        senderRunID: String
    ) {
        let sender = runs[senderRunID]!
        let target = target(namespace: attributes.namespace, attributes.workflowExecution,
                            childOnly: attributes.childWorkflowOnly, sender: sender)
        if let target, target.isOpen {
            appendSignal(
                target.ref.runID, name: attributes.signalName, input: attributes.hasInput ? attributes.input : nil,
                identity: "history-service", header: attributes.hasHeader ? attributes.header : nil,
                from: .with { $0.workflowID = sender.ref.workflowID; $0.runID = senderRunID })
            workflowNeedsTask(target.ref.runID)
        }
        guard sender.isOpen else { return }
        if let target, target.isOpen {
            record(senderRunID, .externalWorkflowExecutionSignaled) { event in
                event.externalWorkflowExecutionSignaledEventAttributes = .with {
                    $0.initiatedEventID = initiatedID
                    $0.namespace = attributes.namespace
                    $0.workflowExecution = attributes.workflowExecution
                    $0.control = attributes.control
                }
            }
        } else {
            // A closed target cannot be signalled: NOT_FOUND, as Temporal answers.
            record(senderRunID, .signalExternalWorkflowExecutionFailed) { event in
                event.signalExternalWorkflowExecutionFailedEventAttributes = .with {
                    $0.cause = .externalWorkflowExecutionNotFound
                    $0.initiatedEventID = initiatedID
                    $0.namespace = attributes.namespace
                    $0.workflowExecution = attributes.workflowExecution
                    $0.control = attributes.control
                }
            }
        }
        workflowNeedsTask(senderRunID)
    }

    private mutating func deliverCancel(
        _ attributes: Temporal_Api_History_V1_RequestCancelExternalWorkflowExecutionInitiatedEventAttributes,
        initiatedID: Int64, senderRunID: String
    ) {
        let sender = runs[senderRunID]!
        let target = target(namespace: attributes.namespace, attributes.workflowExecution,
                            childOnly: attributes.childWorkflowOnly, sender: sender)
        if let target, target.isOpen, !target.cancelRequested {
            record(target.ref.runID, .workflowExecutionCancelRequested) { event in
                event.workflowExecutionCancelRequestedEventAttributes = .with {
                    $0.cause = attributes.reason
                    $0.identity = "history-service"
                    $0.externalInitiatedEventID = initiatedID
                    $0.externalWorkflowExecution = .with { $0.workflowID = sender.ref.workflowID; $0.runID = senderRunID }
                }
            }
            workflowNeedsTask(target.ref.runID)
        }
        guard sender.isOpen else { return }
        if target != nil {
            // Temporal answers a cancel request to a closed (or already cancelling) workflow with success.
            record(senderRunID, .externalWorkflowExecutionCancelRequested) { event in
                event.externalWorkflowExecutionCancelRequestedEventAttributes = .with {
                    $0.initiatedEventID = initiatedID
                    $0.namespace = attributes.namespace
                    $0.workflowExecution = attributes.workflowExecution
                }
            }
        } else {
            record(senderRunID, .requestCancelExternalWorkflowExecutionFailed) { event in
                event.requestCancelExternalWorkflowExecutionFailedEventAttributes = .with {
                    $0.cause = .externalWorkflowExecutionNotFound
                    $0.initiatedEventID = initiatedID
                    $0.namespace = attributes.namespace
                    $0.workflowExecution = attributes.workflowExecution
                    $0.control = attributes.control
                }
            }
        }
        workflowNeedsTask(senderRunID)
    }

    // MARK: Closing

    /// A child's chain ended (not a run that continued into another): its parent hears how.
    mutating func reportToParent(_ childRunID: String) {
        guard let child = runs[childRunID], let link = child.parent, let closeEvent = closeEvent(childRunID),
            let parent = runs[link.runID], parent.isOpen,
            let pending = parent.children[link.initiatedEventID], let startedEventID = pending.startedEventID,
            pending.startedRunID == child.firstRunID
        else { return }
        let execution = Temporal_Api_Common_V1_WorkflowExecution.with {
            $0.workflowID = child.ref.workflowID
            $0.runID = childRunID  // the last run of the chain, as Temporal names it
        }
        let type = Temporal_Api_Common_V1_WorkflowType.with { $0.name = pending.workflowType }
        /// The fields every child close event shares.
        func naming<Attributes: ChildCloseAttributes>(_ attributes: Attributes) -> Attributes {
            var attributes = attributes
            attributes.namespace = pending.namespace
            attributes.workflowExecution = execution
            attributes.workflowType = type
            attributes.initiatedEventID = link.initiatedEventID
            attributes.startedEventID = startedEventID
            return attributes
        }
        switch closeEvent.attributes {
        case .workflowExecutionCompletedEventAttributes(let closed)?:
            record(link.runID, .childWorkflowExecutionCompleted) { event in
                event.childWorkflowExecutionCompletedEventAttributes = naming(.with { if closed.hasResult { $0.result = closed.result } })
            }
        case .workflowExecutionFailedEventAttributes(let closed)?:
            record(link.runID, .childWorkflowExecutionFailed) { event in
                event.childWorkflowExecutionFailedEventAttributes = naming(.with {
                    $0.failure = closed.failure
                    $0.retryState = closed.retryState
                })
            }
        case .workflowExecutionCanceledEventAttributes(let closed)?:
            record(link.runID, .childWorkflowExecutionCanceled) { event in
                event.childWorkflowExecutionCanceledEventAttributes = naming(.with { if closed.hasDetails { $0.details = closed.details } })
            }
        case .workflowExecutionTimedOutEventAttributes(let closed)?:
            record(link.runID, .childWorkflowExecutionTimedOut) { event in
                event.childWorkflowExecutionTimedOutEventAttributes = naming(.with { $0.retryState = closed.retryState })
            }
        case .workflowExecutionTerminatedEventAttributes?:
            record(link.runID, .childWorkflowExecutionTerminated) { event in
                event.childWorkflowExecutionTerminatedEventAttributes = naming(.init())
            }
        default:
            return  // continued as new: the chain goes on
        }
        workflowNeedsTask(link.runID)
    }

    /// The parent closed (continue-as-new too: children do not move to the new run): each started child
    /// still open is terminated, asked to cancel, or left alone, as its parent close policy says.
    mutating func applyParentClosePolicies(_ parentRunID: String) {
        guard let parent = runs[parentRunID] else { return }
        for (_, child) in parent.children.sorted(by: { $0.key < $1.key }) {
            guard let firstRunID = child.startedRunID,
                let currentID = currentRuns[WorkflowKey(namespace: child.namespace, workflowID: child.workflowID)],
                let current = runs[currentID], current.isOpen, current.firstRunID == firstRunID
            else { continue }
            switch child.parentClosePolicy {
            case .terminate, .unspecified:
                terminate(currentID, reason: "by parent close policy", identity: "history-service")
            case .requestCancel:
                guard !current.cancelRequested else { continue }
                record(currentID, .workflowExecutionCancelRequested) { event in
                    event.workflowExecutionCancelRequestedEventAttributes = .with {
                        $0.identity = "history-service"
                        $0.externalWorkflowExecution = .with { $0.workflowID = parent.ref.workflowID; $0.runID = parentRunID }
                    }
                }
                workflowNeedsTask(currentID)
            case .abandon, .UNRECOGNIZED: continue
            }
        }
    }
}

/// What the five child close events (completed, failed, canceled, timed out, terminated) have in common.
protocol ChildCloseAttributes {
    var namespace: String { get set }
    var workflowExecution: Temporal_Api_Common_V1_WorkflowExecution { get set }
    var workflowType: Temporal_Api_Common_V1_WorkflowType { get set }
    var initiatedEventID: Int64 { get set }
    var startedEventID: Int64 { get set }
}

extension Temporal_Api_History_V1_ChildWorkflowExecutionCompletedEventAttributes: ChildCloseAttributes {}
extension Temporal_Api_History_V1_ChildWorkflowExecutionFailedEventAttributes: ChildCloseAttributes {}
extension Temporal_Api_History_V1_ChildWorkflowExecutionCanceledEventAttributes: ChildCloseAttributes {}
extension Temporal_Api_History_V1_ChildWorkflowExecutionTimedOutEventAttributes: ChildCloseAttributes {}
extension Temporal_Api_History_V1_ChildWorkflowExecutionTerminatedEventAttributes: ChildCloseAttributes {}
