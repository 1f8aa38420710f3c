internal import SwiftProtobuf
package import TemporalAPI

package typealias DescribeWorkflowRequest = Temporal_Api_Workflowservice_V1_DescribeWorkflowExecutionRequest
package typealias DescribeWorkflowResponse = Temporal_Api_Workflowservice_V1_DescribeWorkflowExecutionResponse
package typealias TerminateWorkflowRequest = Temporal_Api_Workflowservice_V1_TerminateWorkflowExecutionRequest

extension EngineCore {
    package func describeWorkflow(_ request: DescribeWorkflowRequest) throws(EngineError) -> DescribeWorkflowResponse {
        let run = try resolveRun(namespace: request.namespace, request.execution)
        return .with {
            $0.executionConfig = .with {
                $0.taskQueue = .with { $0.name = run.taskQueue; $0.kind = .normal }
                $0.workflowExecutionTimeout = run.timeouts.execution.protobuf
                $0.workflowRunTimeout = run.timeouts.run.protobuf
                $0.defaultWorkflowTaskTimeout = run.timeouts.workflowTask.protobuf
            }
            $0.workflowExecutionInfo = executionInfo(run)
            if run.isOpen {
                $0.pendingChildren = run.children.sorted { $0.key < $1.key }.map { initiatedID, child in
                    .with {
                        $0.workflowID = child.workflowID
                        $0.runID = child.startedRunID ?? ""
                        $0.workflowTypeName = child.workflowType
                        $0.initiatedID = initiatedID
                        $0.parentClosePolicy = child.parentClosePolicy
                    }
                }
            }
        }
    }

    /// A run as Describe and List report it.
    func executionInfo(_ run: WorkflowRun) -> Temporal_Api_Workflow_V1_WorkflowExecutionInfo {
        .with {
            $0.execution = .with { $0.workflowID = run.ref.workflowID; $0.runID = run.ref.runID }
            $0.type = .with { $0.name = run.workflowType }
            $0.startTime = run.startedAt.timestamp
            $0.executionTime = run.startedAt.timestamp
            if let closedAt = run.closedAt { $0.closeTime = closedAt.timestamp }
            $0.status = run.status
            $0.historyLength = run.lastEventID
            $0.taskQueue = run.taskQueue
            // The first run of the chain (retries and continue-as-new keep it), not this run.
            $0.firstRunID = run.firstRunID.isEmpty ? run.ref.runID : run.firstRunID
            $0.rootExecution = run.root
            if let parent = run.parent {
                $0.parentExecution = .with { $0.workflowID = parent.workflowID; $0.runID = parent.runID }
            }
            if let started = history(run.ref.runID).first?.workflowExecutionStartedEventAttributes {
                if started.hasMemo { $0.memo = started.memo }
                if started.hasSearchAttributes { $0.searchAttributes = started.searchAttributes }
            }
        }
    }

    package mutating func terminateWorkflow(_ request: TerminateWorkflowRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let run = try core.resolveRun(namespace: request.namespace, request.workflowExecution, field: "workflow_execution")
            guard run.isOpen else { throw EngineError(.notFound, "workflow execution already completed") }
            let runID = run.ref.runID
            return { core in
                core.terminate(runID, reason: request.reason, identity: request.identity,
                               details: request.hasDetails ? request.details : nil)
            }
        }
    }
}
