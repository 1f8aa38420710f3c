internal import SwiftProtobuf
internal import TemporalAPI
internal import TimekeeperEngine

private typealias WS = Temporal_Api_Workflowservice_V1_WorkflowService

/// Workflow updates: the client's request and its wait for a stage (`UpdateWorkflowExecution`), and the
/// wait for an outcome by reference (`PollWorkflowExecutionUpdate`).
extension WorkflowServiceHandlers {
    func registerUpdateMethods(with router: inout UnaryRouter) {
        let engine = self.engine

        router.registerSuspending(WS.Method.UpdateWorkflowExecution.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_UpdateWorkflowExecutionRequest, headers) in
            let progress = try await engine.updateWorkflow(
                request, wait: Engine.UpdateWaitBound(clientTimeout: headers.timeout))
            return Temporal_Api_Workflowservice_V1_UpdateWorkflowExecutionResponse.with {
                $0.updateRef = progress.reference
                $0.stage = progress.stage
                if let outcome = progress.outcome { $0.outcome = outcome }
            }
        }

        router.registerSuspending(WS.Method.PollWorkflowExecutionUpdate.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_PollWorkflowExecutionUpdateRequest, headers) in
            let progress = try await engine.pollUpdate(
                request, wait: Engine.UpdateWaitBound(clientTimeout: headers.timeout))
            return Temporal_Api_Workflowservice_V1_PollWorkflowExecutionUpdateResponse.with {
                $0.updateRef = progress.reference
                $0.stage = progress.stage
                if let outcome = progress.outcome { $0.outcome = outcome }
            }
        }

        router.registerSuspending(WS.Method.ExecuteMultiOperation.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_ExecuteMultiOperationRequest, headers) in
            let (start, progress) = try await engine.updateWithStart(
                request, wait: Engine.UpdateWaitBound(clientTimeout: headers.timeout))
            return Temporal_Api_Workflowservice_V1_ExecuteMultiOperationResponse.with {
                $0.responses = [
                    .with {
                        $0.startWorkflow = .with {
                            $0.runID = start.runID
                            $0.started = start.started
                            $0.status = .running
                        }
                    },
                    .with {
                        $0.updateWorkflow = .with {
                            $0.updateRef = progress.reference
                            $0.stage = progress.stage
                            if let outcome = progress.outcome { $0.outcome = outcome }
                        }
                    },
                ]
            }
        }
    }
}

extension UpdateProgress {
    var reference: Temporal_Api_Update_V1_UpdateRef {
        .with {
            $0.workflowExecution = .with {
                $0.workflowID = workflowID
                $0.runID = runID
            }
            $0.updateID = updateID
        }
    }
}
