internal import SwiftProtobuf
internal import TemporalAPI
internal import TimekeeperEngine

private typealias WS = Temporal_Api_Workflowservice_V1_WorkflowService

/// WorkflowService's batch operations, served by the engine's batches.
extension WorkflowServiceHandlers {
    func registerBatchMethods(with router: inout UnaryRouter) {
        let engine = self.engine
        router.registerUnary(WS.Method.StartBatchOperation.descriptor) { (request: StartBatchRequest, _) in
            try engine.startBatchOperation(request)
            return Temporal_Api_Workflowservice_V1_StartBatchOperationResponse()
        }
        router.registerUnary(WS.Method.DescribeBatchOperation.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_DescribeBatchOperationRequest, _) in
            try engine.describeBatchOperation(namespace: request.namespace, jobID: request.jobID)
        }
        router.registerUnary(WS.Method.ListBatchOperations.descriptor) { (request: ListBatchesRequest, _) in
            try engine.listBatchOperations(request)
        }
        router.registerUnary(WS.Method.StopBatchOperation.descriptor) { (request: StopBatchRequest, _) in
            try engine.stopBatchOperation(request)
            return Temporal_Api_Workflowservice_V1_StopBatchOperationResponse()
        }
    }
}
