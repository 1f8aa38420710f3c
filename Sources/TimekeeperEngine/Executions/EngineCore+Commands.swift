internal import SwiftProtobuf
package import TemporalAPI

package typealias Command = Temporal_Api_Command_V1_Command

extension EngineCore {
    static func closesWorkflow(_ type: Temporal_Api_Enums_V1_CommandType) -> Bool {
        [.completeWorkflowExecution, .failWorkflowExecution, .cancelWorkflowExecution, .continueAsNewWorkflowExecution]
            .contains(type)
    }

    /// Timer and activity ids in use as a completion's commands are checked in order: a second open
    /// timer or activity with one id is refused, as Temporal's test server refuses it ("Already open timer
    /// with …"); otherwise the first's entries would outlive it, never fire as itself, and survive the run.
    struct OpenIDs {
        var timers: Set<String>
        var activities: Set<String>

        init(_ run: WorkflowRun) {
            timers = Set(run.timers.keys)
            activities = Set(run.activities.values.map(\.activityID))
        }
    }

    /// A command's search attributes, checked as a start's are; Temporal's server words the refusal
    /// "BadSearchAttributes: …" (it also writes a WorkflowTaskFailed event, which this server does not: the
    /// refused completion changes nothing and the task times out and is retried).
    private func checkCommandSearchAttributes(_ attributes: Temporal_Api_Common_V1_SearchAttributes, run: WorkflowRun)
        throws(EngineError)
    {
        do throws(EngineError) {
            try checkSearchAttributes(attributes.indexedFields, namespace: run.ref.namespace)
        } catch {
            throw .invalidArgument("BadSearchAttributes: \(error.message)")
        }
    }

    /// Checks one command of a workflow task completion before anything is applied, so that a bad
    /// command leaves the run untouched. `openIDs` carries the ids the commands before it use.
    func validate(_ command: Command, at index: Int, run: WorkflowRun, openIDs: inout OpenIDs) throws(EngineError) {
        let field = "commands[\(index)]"
        func missing(_ attributes: String) -> EngineError {
            .invalidArgument("\(field) is \(command.commandType) but has no \(attributes)")
        }
        switch (command.commandType, command.attributes) {
        case (.completeWorkflowExecution, .completeWorkflowExecutionCommandAttributes?),
            (.failWorkflowExecution, .failWorkflowExecutionCommandAttributes?),
            (.cancelWorkflowExecution, .cancelWorkflowExecutionCommandAttributes?),
            (.recordMarker, .recordMarkerCommandAttributes?),
            (.modifyWorkflowProperties, .modifyWorkflowPropertiesCommandAttributes?),
            (.requestCancelActivityTask, .requestCancelActivityTaskCommandAttributes?),
            (.protocolMessage, .protocolMessageCommandAttributes?):  // its message is checked with the messages
            return
        case (.cancelTimer, .cancelTimerCommandAttributes(let attributes)?):
            openIDs.timers.remove(attributes.timerID)
        case (.startTimer, .startTimerCommandAttributes(let attributes)?):
            guard !attributes.timerID.isEmpty else { throw .invalidArgument("\(field).start_timer_command_attributes.timer_id is not set") }
            // Zero is allowed (the timer fires at once), as Temporal's server allows it; the Python SDK
            // sends one for `workflow.sleep(0)`.
            guard Duration(protobuf: attributes.startToFireTimeout) >= .zero else {
                throw .invalidArgument("\(field).start_timer_command_attributes.start_to_fire_timeout must not be negative")
            }
            guard openIDs.timers.insert(attributes.timerID).inserted else {
                throw EngineError(
                    .failedPrecondition,
                    "\(field).start_timer_command_attributes.timer_id \(attributes.timerID) is the id of a timer that is already open")
            }
        case (.scheduleActivityTask, .scheduleActivityTaskCommandAttributes(let attributes)?):
            let path = "\(field).schedule_activity_task_command_attributes"
            guard !attributes.activityID.isEmpty else { throw .invalidArgument("\(path).activity_id is not set") }
            guard !attributes.activityType.name.isEmpty else { throw .invalidArgument("\(path).activity_type.name is not set") }
            _ = try ActivityTimeouts(attributes, runTimeout: run.timeouts.run, field: path)
            guard openIDs.activities.insert(attributes.activityID).inserted else {
                throw EngineError(
                    .failedPrecondition, "\(path).activity_id \(attributes.activityID) is the id of an activity that is already open")
            }
        case (.upsertWorkflowSearchAttributes, .upsertWorkflowSearchAttributesCommandAttributes(let attributes)?):
            try checkCommandSearchAttributes(attributes.searchAttributes, run: run)
        case (.continueAsNewWorkflowExecution, .continueAsNewWorkflowExecutionCommandAttributes(let attributes)?):
            let path = "\(field).continue_as_new_workflow_execution_command_attributes"
            try checkCommandSearchAttributes(attributes.searchAttributes, run: run)
            guard !attributes.workflowType.name.isEmpty || !run.workflowType.isEmpty else {
                throw .invalidArgument("\(path).workflow_type is not set")
            }
            // A negative backoff would move the new run's timeout before its run timeout.
            for (name, duration) in [
                ("backoff_start_interval", attributes.backoffStartInterval),
                ("workflow_run_timeout", attributes.workflowRunTimeout),
                ("workflow_task_timeout", attributes.workflowTaskTimeout),
            ] where Duration(protobuf: duration) < .zero {
                throw .invalidArgument("\(path).\(name) must not be negative")
            }
        case (.unspecified, _):
            throw .invalidArgument("\(field).command_type is not set")
        case (.completeWorkflowExecution, _): throw missing("complete_workflow_execution_command_attributes")
        case (.failWorkflowExecution, _): throw missing("fail_workflow_execution_command_attributes")
        case (.cancelWorkflowExecution, _): throw missing("cancel_workflow_execution_command_attributes")
        case (.startTimer, _): throw missing("start_timer_command_attributes")
        case (.scheduleActivityTask, _): throw missing("schedule_activity_task_command_attributes")
        case (.protocolMessage, _): throw missing("protocol_message_command_attributes")
        case (.startChildWorkflowExecution, .startChildWorkflowExecutionCommandAttributes(let attributes)?):
            let path = "\(field).start_child_workflow_execution_command_attributes"
            try checkCommandSearchAttributes(attributes.searchAttributes, run: run)
            guard !attributes.workflowID.isEmpty else { throw .invalidArgument("\(path).workflow_id is not set") }
            guard attributes.workflowID.utf8.count <= 1000 else { throw .invalidArgument("\(path).workflow_id is longer than 1000 bytes") }
            guard !attributes.workflowType.name.isEmpty else { throw .invalidArgument("\(path).workflow_type.name is not set") }
            for (name, duration) in [
                ("workflow_execution_timeout", attributes.workflowExecutionTimeout),
                ("workflow_run_timeout", attributes.workflowRunTimeout),
                ("workflow_task_timeout", attributes.workflowTaskTimeout),
            ] where Duration(protobuf: duration) < .zero {
                throw .invalidArgument("\(path).\(name) must not be negative")
            }
            if case .UNRECOGNIZED(let value) = attributes.parentClosePolicy {
                throw .invalidArgument("\(path).parent_close_policy \(value) is not a known ParentClosePolicy")
            }
        case (.startChildWorkflowExecution, _): throw missing("start_child_workflow_execution_command_attributes")
        case (.signalExternalWorkflowExecution, .signalExternalWorkflowExecutionCommandAttributes(let attributes)?):
            let path = "\(field).signal_external_workflow_execution_command_attributes"
            guard !attributes.execution.workflowID.isEmpty else { throw .invalidArgument("\(path).execution.workflow_id is not set") }
            guard !attributes.signalName.isEmpty else { throw .invalidArgument("\(path).signal_name is not set") }
        case (.signalExternalWorkflowExecution, _): throw missing("signal_external_workflow_execution_command_attributes")
        case (.requestCancelExternalWorkflowExecution, .requestCancelExternalWorkflowExecutionCommandAttributes(let attributes)?):
            let path = "\(field).request_cancel_external_workflow_execution_command_attributes"
            guard !attributes.workflowID.isEmpty else { throw .invalidArgument("\(path).workflow_id is not set") }
        case (.requestCancelExternalWorkflowExecution, _):
            throw missing("request_cancel_external_workflow_execution_command_attributes")
        default:
            throw EngineError(.unimplemented, "\(field): command \(command.commandType) is not supported by this server yet")
        }
    }

    /// Applies one validated command of a completed workflow task.
    mutating func apply(_ command: Command, runID: String, completedEventID: Int64, identity: String) {
        switch command.attributes {
        case .completeWorkflowExecutionCommandAttributes(let attributes):
            closeRun(runID, .workflowExecutionCompleted, .completed, result: attributes.hasResult ? attributes.result : nil) {
                event, nextRunID in
                event.workflowExecutionCompletedEventAttributes = .with {
                    if attributes.hasResult { $0.result = attributes.result }
                    $0.workflowTaskCompletedEventID = completedEventID
                    $0.newExecutionRunID = nextRunID
                }
            }
        case .failWorkflowExecutionCommandAttributes(let attributes):
            failWorkflow(runID, failure: attributes.failure, completedEventID: completedEventID)
        case .cancelWorkflowExecutionCommandAttributes(let attributes):
            record(runID, .workflowExecutionCanceled) { event in
                event.workflowExecutionCanceledEventAttributes = .with {
                    $0.workflowTaskCompletedEventID = completedEventID
                    if attributes.hasDetails { $0.details = attributes.details }
                }
            }
            close(runID, .canceled)
        case .continueAsNewWorkflowExecutionCommandAttributes(let attributes):
            continueAsNew(runID, attributes, completedEventID: completedEventID)
        case .startTimerCommandAttributes(let attributes):
            startTimer(attributes, runID: runID, completedEventID: completedEventID)
        case .cancelTimerCommandAttributes(let attributes):
            cancelTimer(attributes.timerID, runID: runID, completedEventID: completedEventID, identity: identity)
        case .scheduleActivityTaskCommandAttributes(let attributes):
            // Validated already, so the timeouts are well-formed.
            guard let timeouts = try? ActivityTimeouts(attributes, runTimeout: runs[runID]!.timeouts.run, field: "") else { return }
            scheduleActivity(attributes, timeouts: timeouts, runID: runID, completedEventID: completedEventID)
            // Eager execution: the completing worker runs it itself, if it is on the workflow's own queue
            // (Temporal's condition: that worker polls that queue).
            if attributes.requestEagerExecution, let offer = applying?.activityOffers.last,
                runs[runID]?.activities[offer.scheduledEventID]?.taskQueue == runs[runID]?.taskQueue
            {
                applying?.eagerActivities.insert(offer.scheduledEventID)
            }
        case .requestCancelActivityTaskCommandAttributes(let attributes):
            requestCancelActivity(attributes.scheduledEventID, runID: runID, completedEventID: completedEventID)
        case .recordMarkerCommandAttributes(let attributes):
            record(runID, .markerRecorded) { event in
                event.markerRecordedEventAttributes = .with {
                    $0.markerName = attributes.markerName
                    $0.details = attributes.details
                    $0.workflowTaskCompletedEventID = completedEventID
                    if attributes.hasHeader { $0.header = attributes.header }
                    if attributes.hasFailure { $0.failure = attributes.failure }
                }
            }
        case .upsertWorkflowSearchAttributesCommandAttributes(let attributes):
            let written = searchAttributesAsWritten(attributes.searchAttributes, namespace: runs[runID]?.ref.namespace ?? "")
            record(runID, .upsertWorkflowSearchAttributes) { event in
                event.upsertWorkflowSearchAttributesEventAttributes = .with {
                    $0.workflowTaskCompletedEventID = completedEventID
                    $0.searchAttributes = written
                }
            }
        case .modifyWorkflowPropertiesCommandAttributes(let attributes):
            record(runID, .workflowPropertiesModified) { event in
                event.workflowPropertiesModifiedEventAttributes = .with {
                    $0.workflowTaskCompletedEventID = completedEventID
                    if attributes.hasUpsertedMemo { $0.upsertedMemo = attributes.upsertedMemo }
                }
            }
        case .startChildWorkflowExecutionCommandAttributes(let attributes):
            initiateChild(attributes, runID: runID, completedEventID: completedEventID)
        case .signalExternalWorkflowExecutionCommandAttributes(let attributes):
            initiateExternalSignal(attributes, runID: runID, completedEventID: completedEventID)
        case .requestCancelExternalWorkflowExecutionCommandAttributes(let attributes):
            initiateExternalCancel(attributes, runID: runID, completedEventID: completedEventID)
        default:
            preconditionFailure("validate(_:at:run:openIDs:) admits only the commands handled here")
        }
    }
}
