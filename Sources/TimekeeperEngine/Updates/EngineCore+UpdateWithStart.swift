package import TemporalAPI

package typealias MultiOperationRequest = Temporal_Api_Workflowservice_V1_ExecuteMultiOperationRequest

/// Update-with-start (`ExecuteMultiOperation` with exactly a start and an update): the update goes to the
/// workflow's running run if the start may use it, otherwise to the run the start creates; both in one
/// transition, or neither.
extension EngineCore {
    /// What the start part of an update-with-start came to, with the update call's outcome.
    package struct UpdateWithStartOutcome: Sendable {
        package var start: StartOutcome
        package var update: UpdateCallOutcome
    }

    package mutating func updateWithStart(_ request: MultiOperationRequest, wait: UpdateWaitID, wallNow: Instant)
        throws(EngineError) -> UpdateWithStartOutcome
    {
        guard request.operations.count == 2, case .startWorkflow(var start)? = request.operations[0].operation,
            case .updateWorkflow(var update)? = request.operations[1].operation
        else { throw .invalidArgument("Operations have to be exactly [Start, Update].") }
        try Self.requireNamespace(request.namespace)
        if start.namespace.isEmpty { start.namespace = request.namespace }
        if update.namespace.isEmpty { update.namespace = request.namespace }
        // Each operation's own errors, with the other operation aborted (Temporal's error shape).
        do throws(EngineError) {
            try Self.checkStartOfUpdateWithStart(start, namespace: request.namespace)
        } catch {
            throw Self.multiOperationError(start: error)
        }
        let (updateRequest, stage): (UpdateRequest, UpdateStage)
        do throws(EngineError) {
            (updateRequest, stage) = try Self.checkUpdateOfUpdateWithStart(update, start: start)
        } catch {
            throw Self.multiOperationError(update: error)
        }
        return try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let key = WorkflowKey(namespace: start.namespace, workflowID: start.workflowID)
            let updateID = updateRequest.meta.updateID
            if let currentID = core.currentRuns[key], let current = core.runs[currentID] {
                let existing = StartOutcome(runID: currentID, started: false)
                // The update completed already (in a running or a closed run): its outcome, and no start. An
                // update a closed run accepted but never completed does not count: a new run is started.
                if current.updates[updateID]?.isCompleted == true, let progress = core.updateProgress(current, updateID) {
                    return { _ in UpdateWithStartOutcome(start: existing, update: .answered(progress)) }
                }
                let useExisting = current.startRequestID == start.requestID || core.updateProgress(current, updateID) != nil
                    || start.workflowIDConflictPolicy == .useExisting
                if current.isOpen && useExisting {
                    let apply: (inout EngineCore) -> UpdateCallOutcome
                    do throws(EngineError) {
                        apply = try core.decideUpdate(updateRequest, stage: stage, run: current, wait: wait)
                    } catch {
                        throw Self.multiOperationError(update: error)
                    }
                    return { core in UpdateWithStartOutcome(start: existing, update: apply(&core)) }
                }
            }
            let decision: StartDecision
            do throws(EngineError) {
                decision = try core.decideStart(start)
            } catch {
                throw Self.multiOperationError(start: error)
            }
            if case .repeated(let runID) = decision, core.runs[runID]?.isOpen != true {
                throw Self.multiOperationError(update: EngineError(.notFound, "workflow execution already completed"))
            }
            return { core in
                // Admitted before the new run's first task is scheduled, so that task carries it even when a
                // waiting worker takes it at once.
                var admitted: UpdateCallOutcome?
                let started = core.applyStart(decision, start, signal: nil) { core, runID in
                    admitted = core.admitUpdate(updateRequest, runID: runID, stage: stage, wait: wait)
                }
                let update = admitted ?? core.admitUpdate(updateRequest, runID: started.runID, stage: stage, wait: wait)
                return UpdateWithStartOutcome(start: started, update: update)
            }
        }
    }

    private static func checkStartOfUpdateWithStart(_ start: StartWorkflowRequest, namespace: String) throws(EngineError) {
        guard start.namespace == namespace else { throw .invalidArgument("Operation namespace did not match request's namespace.") }
        try validate(start)
        guard start.cronSchedule.isEmpty else { throw .invalidArgument("CronSchedule is not allowed.") }
        guard !start.requestEagerExecution else { throw .invalidArgument("RequestEagerExecution is not supported.") }
        guard Duration(protobuf: start.workflowStartDelay) == .zero else { throw .invalidArgument("WorkflowStartDelay is not supported.") }
    }

    private static func checkUpdateOfUpdateWithStart(_ update: UpdateWorkflowRequest, start: StartWorkflowRequest)
        throws(EngineError) -> (UpdateRequest, UpdateStage)
    {
        guard update.namespace == start.namespace else { throw .invalidArgument("Operation namespace did not match request's namespace.") }
        guard update.workflowExecution.workflowID == start.workflowID else {
            throw .invalidArgument("WorkflowId is not consistent with previous operation(s).")
        }
        guard update.workflowExecution.runID.isEmpty else { throw .invalidArgument("RunId is not allowed.") }
        guard update.firstExecutionRunID.isEmpty else { throw .invalidArgument("FirstExecutionRunId is not allowed.") }
        return try checkUpdate(update)
    }

    /// The error of a refused update-with-start: the failing operation's status, the other one aborted.
    static func multiOperationError(start: EngineError? = nil, update: EngineError? = nil) -> EngineError {
        let failing = start ?? update!
        return EngineError(
            failing.code, "Update-with-Start could not be executed.",
            detail: .multiOperation([
                start.map(MultiOperationStatus.failed) ?? .aborted,
                update.map(MultiOperationStatus.failed) ?? .aborted,
            ]))
    }
}

/// One operation's status in a refused multi-operation.
package enum MultiOperationStatus: Sendable {
    case failed(EngineError)
    /// Not run because another operation failed.
    case aborted
}
