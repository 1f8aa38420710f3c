internal import SwiftProtobuf
package import TemporalAPI

package typealias ResetWorkflowRequest = Temporal_Api_Workflowservice_V1_ResetWorkflowExecutionRequest

/// `ResetWorkflowExecution`: a new run of the workflow whose history is the base run's up to a workflow
/// task, that task failed with cause RESET_WORKFLOW (naming both runs), the signals and updates that came
/// after it reapplied (unless the request excludes them), and a new workflow task. The workflow's running run is terminated first.
extension EngineCore {
    package mutating func resetWorkflow(_ request: ResetWorkflowRequest, wallNow: Instant) throws(EngineError) -> String {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let base = try core.resolveRun(namespace: request.namespace, request.workflowExecution, field: "workflow_execution")
            let history = core.history(base.ref.runID)
            let finishID = request.workflowTaskFinishEventID
            guard finishID > 0, finishID <= history.count else {
                throw .invalidArgument(
                    "workflow_task_finish_event_id \(finishID) is not an event of run \(base.ref.runID) (it has \(history.count))")
            }
            let startedEventID: Int64
            switch history[Int(finishID) - 1].attributes {
            case .workflowTaskCompletedEventAttributes(let attributes)?: startedEventID = attributes.startedEventID
            case .workflowTaskFailedEventAttributes(let attributes)?: startedEventID = attributes.startedEventID
            case .workflowTaskTimedOutEventAttributes(let attributes)?: startedEventID = attributes.startedEventID
            case .workflowTaskStartedEventAttributes?: startedEventID = finishID
            default:
                throw .invalidArgument(
                    "workflow_task_finish_event_id \(finishID) is a \(history[Int(finishID) - 1].eventType) event, not a workflow task's completed, failed, timed out or started event")
            }
            guard startedEventID >= 3, startedEventID <= history.count,
                case .workflowTaskStartedEventAttributes(let started)? = history[Int(startedEventID) - 1].attributes
            else { throw .invalidArgument("workflow_task_finish_event_id \(finishID) names no started workflow task") }
            if case .UNRECOGNIZED(let value) = request.resetReapplyType {
                throw .invalidArgument("reset_reapply_type \(value) is not a known ResetReapplyType")
            }
            let key = WorkflowKey(namespace: base.ref.namespace, workflowID: base.ref.workflowID)
            let currentID = core.currentRuns[key]
            let reapplySignals = request.resetReapplyType != .none
                && !request.resetReapplyExcludeTypes.contains(.signal)
            let signals = reapplySignals
                ? history.dropFirst(Int(startedEventID)).filter { $0.eventType == .workflowExecutionSignaled }
                : []
            // Updates the worker accepted after the reset point are admitted again in the new run (Temporal
            // writes them as admitted events there; here they wait in the update book, not in history), so
            // its worker runs their handlers again. Those still admitted and unseen move over as well.
            let reapplyUpdates = request.resetReapplyType != .none && !request.resetReapplyExcludeTypes.contains(.update)
            let acceptedLater = reapplyUpdates
                ? history.dropFirst(Int(startedEventID)).compactMap { event -> UpdateRequest? in
                    guard case .workflowExecutionUpdateAcceptedEventAttributes(let accepted)? = event.attributes else { return nil }
                    return accepted.acceptedRequest
                }
                : []
            return { core in
                let newRunID = core.makeRunIDPeek()
                if let currentID, core.runs[currentID]?.isOpen == true {
                    // Temporal terminates the running run with the reset's reason.
                    core.terminate(currentID, reason: request.reason, identity: request.identity)
                }
                core.copyRun(base, events: history.prefix(Int(startedEventID)), as: core.makeRunID())
                core.record(newRunID, .workflowTaskFailed) { event in
                    event.workflowTaskFailedEventAttributes = .with {
                        $0.scheduledEventID = started.scheduledEventID
                        $0.startedEventID = startedEventID
                        $0.cause = .resetWorkflow
                        $0.failure = .with { $0.message = request.reason }
                        $0.identity = request.identity
                        $0.baseRunID = base.ref.runID
                        $0.newRunID = newRunID
                    }
                }
                for signal in signals {
                    let attributes = signal.workflowExecutionSignaledEventAttributes
                    core.appendSignal(
                        newRunID, name: attributes.signalName, input: attributes.hasInput ? attributes.input : nil,
                        identity: attributes.identity, header: attributes.hasHeader ? attributes.header : nil)
                }
                for update in acceptedLater where core.updateBook.admitted(newRunID, update.meta.updateID) == nil {
                    core.updateBook.admit(update, runID: newRunID)
                }
                core.scheduleWorkflowTask(newRunID, attempt: 1)
                // Activities pending at the reset point start over in their queues.
                for activity in core.runs[newRunID]!.activities.values.sorted(by: { $0.scheduledEventID < $1.scheduledEventID }) {
                    core.offerActivityAttempt(
                        ActivityTaskRef(runID: newRunID, scheduledEventID: activity.scheduledEventID, attempt: activity.attempt))
                }
                return newRunID
            }
        }
    }

    /// A new run made of copies of `events` (the base run's first events, as they were).
    private mutating func copyRun(_ base: WorkflowRun, events: ArraySlice<HistoryEvent>, as runID: String) {
        let ref = RunRef(namespace: base.ref.namespace, workflowID: base.ref.workflowID, runID: runID)
        let request = base.startRequest ?? StartWorkflowRequest.with {
            $0.namespace = base.ref.namespace
            $0.workflowID = base.ref.workflowID
            $0.workflowType.name = base.workflowType
            $0.taskQueue.name = base.taskQueue
        }
        guard let first = events.first else { return }
        createRun(ref, request: request) { event in event = first }
        for copied in events.dropFirst() {
            record(runID, copied.eventType) { event in
                let (id, taskID) = (event.eventID, event.taskID)
                event = copied
                event.eventID = id
                event.taskID = taskID
            }
        }
    }
}
