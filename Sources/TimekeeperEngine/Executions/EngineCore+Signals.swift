internal import SwiftProtobuf
package import TemporalAPI

package typealias SignalWorkflowRequest = Temporal_Api_Workflowservice_V1_SignalWorkflowExecutionRequest
package typealias SignalWithStartRequest = Temporal_Api_Workflowservice_V1_SignalWithStartWorkflowExecutionRequest
package typealias CancelWorkflowRequest = Temporal_Api_Workflowservice_V1_RequestCancelWorkflowExecutionRequest

extension EngineCore {
    package mutating func signalWorkflow(_ request: SignalWorkflowRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            guard !request.signalName.isEmpty else { throw .invalidArgument("signal_name is not set") }
            let run = try core.resolveRun(namespace: request.namespace, request.workflowExecution, field: "workflow_execution")
            guard run.isOpen else { throw EngineError(.notFound, "workflow execution already completed") }
            let runID = run.ref.runID
            return { core in
                core.appendSignal(runID, name: request.signalName, input: request.hasInput ? request.input : nil,
                                  identity: request.identity, header: request.hasHeader ? request.header : nil)
                core.workflowNeedsTask(runID)
            }
        }
    }

    package mutating func signalWithStart(_ request: SignalWithStartRequest, wallNow: Instant) throws(EngineError)
        -> StartOutcome
    {
        guard !request.signalName.isEmpty else { throw .invalidArgument("signal_name is not set") }
        let start = StartWorkflowRequest.with {
            $0.namespace = request.namespace
            $0.workflowID = request.workflowID
            $0.workflowType = request.workflowType
            $0.taskQueue = request.taskQueue
            if request.hasInput { $0.input = request.input }
            $0.workflowExecutionTimeout = request.workflowExecutionTimeout
            $0.workflowRunTimeout = request.workflowRunTimeout
            $0.workflowTaskTimeout = request.workflowTaskTimeout
            $0.identity = request.identity
            if request.hasTimeSkippingConfig { $0.timeSkippingConfig = request.timeSkippingConfig }
            $0.requestID = request.requestID.isEmpty ? UUIDs.random() : request.requestID
            $0.workflowIDReusePolicy = request.workflowIDReusePolicy
            // Signal-with-start signals a running workflow rather than failing on it.
            $0.workflowIDConflictPolicy = .useExisting
            if request.hasRetryPolicy { $0.retryPolicy = request.retryPolicy }
            $0.cronSchedule = request.cronSchedule
            if request.hasMemo { $0.memo = request.memo }
            if request.hasSearchAttributes { $0.searchAttributes = request.searchAttributes }
            if request.hasHeader { $0.header = request.header }
            if request.hasWorkflowStartDelay { $0.workflowStartDelay = request.workflowStartDelay }
            if request.hasUserMetadata { $0.userMetadata = request.userMetadata }
            if request.hasPriority { $0.priority = request.priority }
        }
        let signal = StartSignal(
            name: request.signalName, input: request.hasSignalInput ? request.signalInput : nil,
            header: request.hasHeader ? request.header : nil)
        let outcome = try startWorkflow(start, signal: signal, wallNow: wallNow)
        return outcome
    }

    mutating func appendSignal(_ runID: String, name: String, input: Payloads?, identity: String,
                               header: Temporal_Api_Common_V1_Header?,
                               from sender: Temporal_Api_Common_V1_WorkflowExecution? = nil) {
        record(runID, .workflowExecutionSignaled) { event in
            event.workflowExecutionSignaledEventAttributes = .with {
                $0.signalName = name
                if let input { $0.input = input }
                $0.identity = identity
                if let header { $0.header = header }
                if let sender { $0.externalWorkflowExecution = sender }
            }
        }
    }

    package mutating func requestCancelWorkflow(_ request: CancelWorkflowRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let run = try core.resolveRun(namespace: request.namespace, request.workflowExecution, field: "workflow_execution")
            let (runID, askedAlready) = (run.ref.runID, run.cancelRequested)
            return { core in
                // Temporal's server answers success and records nothing for a run that has closed already.
                guard core.runs[runID]?.isOpen == true else { return }
                guard !askedAlready else { return }  // asked already: nothing more to record
                core.record(runID, .workflowExecutionCancelRequested) { event in
                    event.workflowExecutionCancelRequestedEventAttributes = .with {
                        $0.cause = request.reason
                        $0.identity = request.identity
                    }
                }
                core.workflowNeedsTask(runID)
            }
        }
    }

    /// Something happened that the workflow must see: make sure a workflow task will deliver it. (The
    /// run's reducer marks the event unhandled unless a scheduled task will carry it; a completion whose
    /// commands are being applied schedules the task once they all are.)
    mutating func workflowNeedsTask(_ runID: String) {
        guard let run = runs[runID], run.isOpen, run.workflowTask == .none, applying?.runID != runID else { return }
        scheduleWorkflowTask(runID, attempt: 1)
    }
}
