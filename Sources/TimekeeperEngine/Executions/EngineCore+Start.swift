internal import SwiftProtobuf
package import TemporalAPI

package typealias StartWorkflowRequest = Temporal_Api_Workflowservice_V1_StartWorkflowExecutionRequest

/// What `StartWorkflowExecution` answers: the run that now stands for the request, and whether this call
/// started it (false when a conflict policy chose the running one).
package struct StartOutcome: Sendable, Equatable {
    package var runID: String
    package var started: Bool
}

extension EngineCore {
    package mutating func startWorkflow(_ request: StartWorkflowRequest, wallNow: Instant) throws(EngineError)
        -> StartOutcome
    {
        refresh(wallNow)
        defer { settle(wallNow) }
        try Self.validate(request)
        let key = WorkflowKey(namespace: request.namespace, workflowID: request.workflowID)

        if let currentID = currentRuns[key], let current = runs[currentID] {
            // The same request again (a client retry): answer as the first time.
            if current.startRequestID == request.requestID {
                return StartOutcome(runID: currentID, started: true)
            }
            if current.isOpen {
                switch try Self.onConflict(request) {
                case .fail: throw Self.alreadyStarted(current)
                case .useExisting: return StartOutcome(runID: currentID, started: false)
                case .terminateExisting:
                    terminate(currentID, reason: "terminated by a start with the terminate-existing conflict policy",
                              identity: request.identity)
                }
            } else if !Self.reuseAllowed(after: current.status, policy: request.workflowIDReusePolicy) {
                throw Self.alreadyStarted(current)
            }
        }
        return StartOutcome(runID: createRun(request, key: key), started: true)
    }

    private enum ConflictAction { case fail, useExisting, terminateExisting }

    private static func onConflict(_ request: StartWorkflowRequest) throws(EngineError) -> ConflictAction {
        switch request.workflowIDConflictPolicy {
        case .unspecified, .fail:
            // The legacy reuse policy TERMINATE_IF_RUNNING also governs a running workflow.
            return request.workflowIDReusePolicy == .terminateIfRunning ? .terminateExisting : .fail
        case .useExisting: return .useExisting
        case .terminateExisting: return .terminateExisting
        case .UNRECOGNIZED(let value):
            throw .invalidArgument("workflow_id_conflict_policy \(value) is not a known WorkflowIdConflictPolicy")
        }
    }

    private static func reuseAllowed(after status: ExecutionStatus, policy: Temporal_Api_Enums_V1_WorkflowIdReusePolicy)
        -> Bool
    {
        switch policy {
        case .allowDuplicateFailedOnly: [.failed, .canceled, .terminated, .timedOut].contains(status)
        case .rejectDuplicate: false
        default: true
        }
    }

    private static func alreadyStarted(_ run: WorkflowRun) -> EngineError {
        EngineError(
            .alreadyExists,
            run.isOpen
                ? "Workflow execution is already running. WorkflowId: \(run.ref.workflowID), RunId: \(run.ref.runID)."
                : "Workflow execution already finished and its workflow_id_reuse_policy does not allow starting it again. WorkflowId: \(run.ref.workflowID), RunId: \(run.ref.runID).",
            detail: .workflowExecutionAlreadyStarted(startRequestID: run.startRequestID, runID: run.ref.runID))
    }

    static func validate(_ request: StartWorkflowRequest) throws(EngineError) {
        try requireNamespace(request.namespace)
        guard !request.workflowID.isEmpty else { throw .invalidArgument("workflow_id is not set") }
        guard request.workflowID.utf8.count <= 1000 else {
            throw .invalidArgument("workflow_id is longer than 1000 bytes")
        }
        guard !request.workflowType.name.isEmpty else { throw .invalidArgument("workflow_type.name is not set") }
        guard !request.taskQueue.name.isEmpty else { throw .invalidArgument("task_queue.name is not set") }
        guard !request.requestID.isEmpty else { throw .invalidArgument("request_id is not set") }
        for (field, duration) in [
            ("workflow_execution_timeout", request.workflowExecutionTimeout),
            ("workflow_run_timeout", request.workflowRunTimeout),
            ("workflow_task_timeout", request.workflowTaskTimeout),
        ] where duration.seconds < 0 || duration.nanos < 0 {
            throw .invalidArgument("\(field) must not be negative")
        }
        if request.workflowIDReusePolicy == .terminateIfRunning
            && ![.unspecified, .fail].contains(request.workflowIDConflictPolicy)
        {
            throw .invalidArgument(
                "workflow_id_reuse_policy TERMINATE_IF_RUNNING cannot be combined with a workflow_id_conflict_policy")
        }
    }

    static func requireNamespace(_ namespace: String) throws(EngineError) {
        guard !namespace.isEmpty else { throw .invalidArgument("namespace is not set") }
    }

    private mutating func createRun(_ request: StartWorkflowRequest, key: WorkflowKey) -> String {
        let runID = makeRunID()
        let ref = RunRef(namespace: request.namespace, workflowID: request.workflowID, runID: runID)
        let timeouts = WorkflowTimeouts(
            execution: Duration(protobuf: request.workflowExecutionTimeout), run: Duration(protobuf: request.workflowRunTimeout),
            workflowTask: Duration(protobuf: request.workflowTaskTimeout))
        let startTime = now
        runs[runID] = WorkflowRun(
            ref: ref, workflowType: request.workflowType.name, taskQueue: request.taskQueue.name,
            timeouts: timeouts, startRequestID: request.requestID, startedAt: startTime)
        currentRuns[key] = runID

        appendEvent(runID, .workflowExecutionStarted) { event in
            event.workflowExecutionStartedEventAttributes = .with {
                $0.workflowType = request.workflowType
                $0.taskQueue = request.taskQueue
                $0.taskQueue.kind = .normal
                $0.input = request.input
                $0.workflowExecutionTimeout = timeouts.execution.protobuf
                $0.workflowRunTimeout = timeouts.run.protobuf
                $0.workflowTaskTimeout = timeouts.workflowTask.protobuf
                $0.originalExecutionRunID = runID
                $0.firstExecutionRunID = runID
                $0.identity = request.identity
                $0.attempt = 1
                $0.workflowExecutionExpirationTime = (startTime + timeouts.execution).timestamp
                if request.hasRetryPolicy { $0.retryPolicy = request.retryPolicy }
                $0.cronSchedule = request.cronSchedule
                if request.hasMemo { $0.memo = request.memo }
                if request.hasSearchAttributes { $0.searchAttributes = request.searchAttributes }
                if request.hasHeader { $0.header = request.header }
                $0.workflowID = request.workflowID
            }
        }
        runs[runID]!.runTimeoutEntry = timetable.add(at: startTime + timeouts.run, .workflowRunTimeout, owner: ref)
        scheduleWorkflowTask(runID, attempt: 1)
        return runID
    }
}
