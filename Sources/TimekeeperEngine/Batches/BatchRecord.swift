package import TemporalAPI

package typealias StartBatchRequest = Temporal_Api_Workflowservice_V1_StartBatchOperationRequest
package typealias DescribeBatchResponse = Temporal_Api_Workflowservice_V1_DescribeBatchOperationResponse
package typealias ListBatchesRequest = Temporal_Api_Workflowservice_V1_ListBatchOperationsRequest
package typealias ListBatchesResponse = Temporal_Api_Workflowservice_V1_ListBatchOperationsResponse
package typealias StopBatchRequest = Temporal_Api_Workflowservice_V1_StopBatchOperationRequest

package struct BatchKey: Hashable, Sendable {
    package var namespace: String
    package var jobID: String

    package init(namespace: String, jobID: String) {
        self.namespace = namespace
        self.jobID = jobID
    }
}

/// One batch operation (terminate, cancel, signal or delete over the runs a list query matched, or over
/// named executions). Temporal's server runs a batch as a system workflow; here it is engine state, so no
/// system run shows up in list results, and the answers and errors are Temporal's.
package struct BatchRecord: Sendable {
    package enum Operation: Sendable {
        case terminate
        case cancel
        case signal(name: String, input: Temporal_Api_Common_V1_Payloads?, header: Temporal_Api_Common_V1_Header?)
        case delete

        /// The type Temporal's server answers with (its newer enum values).
        package var type: Temporal_Api_Enums_V1_BatchOperationType {
            switch self {
            case .terminate: .terminateWorkflow
            case .cancel: .cancelWorkflow
            case .signal: .signalWorkflow
            case .delete: .deleteWorkflow
            }
        }
    }

    package enum State: Sendable, Equatable {
        case running
        case completed
        /// Stopped by `StopBatchOperation` (Temporal's batch workflow is terminated: its state reads FAILED).
        case stopped
    }

    package var operation: Operation
    package var reason: String
    package var identity: String
    /// The query as the client sent it (empty when executions were named).
    package var query: String
    package var startedAt: Instant
    package var closedAt: Instant?
    package var state: State = .running
    /// The executions still to visit, in the order they are visited.
    package var remaining: [Temporal_Api_Common_V1_WorkflowExecution]
    package var total: Int64
    package var succeeded: Int64 = 0
    package var failed: Int64 = 0

    package init(operation: Operation, reason: String, identity: String, query: String, startedAt: Instant,
                 closedAt: Instant? = nil, state: State = .running, remaining: [Temporal_Api_Common_V1_WorkflowExecution],
                 total: Int64, succeeded: Int64 = 0, failed: Int64 = 0) {
        self.operation = operation
        self.reason = reason
        self.identity = identity
        self.query = query
        self.startedAt = startedAt
        self.closedAt = closedAt
        self.state = state
        self.remaining = remaining
        self.total = total
        self.succeeded = succeeded
        self.failed = failed
    }

    package var stateProto: Temporal_Api_Enums_V1_BatchOperationState {
        switch state {
        case .running: .running
        case .completed: .completed
        case .stopped: .failed
        }
    }
}
