internal import Foundation
internal import SwiftProtobuf
internal import TemporalAPI
internal import TimekeeperEngine

private typealias WS = Temporal_Api_Workflowservice_V1_WorkflowService

/// WorkflowService's batch operations and worker heartbeats, served by the engine's records of them.
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
        router.registerUnary(WS.Method.RecordWorkerHeartbeat.descriptor) { (request: RecordWorkerHeartbeatRequest, _) in
            try engine.recordWorkerHeartbeats(namespace: request.namespace, request.workerHeartbeat)
            return Temporal_Api_Workflowservice_V1_RecordWorkerHeartbeatResponse()
        }
        router.registerUnary(WS.Method.ListWorkers.descriptor) { (request: ListWorkersRequest, _) in
            guard request.pageSize >= 0 else { throw EngineError.invalidArgument("page_size must not be negative") }
            let offset = request.nextPageToken.isEmpty ? 0 : Int(String(decoding: request.nextPageToken, as: UTF8.self).dropFirst(2)) ?? -1
            guard offset >= 0 else { throw EngineError.invalidArgument("next_page_token is malformed: it is not a token this server issued") }
            let all = try engine.listWorkers(namespace: request.namespace, query: request.query)
            let page = all.dropFirst(offset).prefix(request.pageSize > 0 ? Int(request.pageSize) : 1000)
            return ListWorkersResponse.with {
                // The CLI reads workers_info (older); newer clients read workers.
                $0.workersInfo = page.map { heartbeat in .with { $0.workerHeartbeat = heartbeat } }
                $0.workers = page.map(Self.workerListInfo)
                if offset + page.count < all.count { $0.nextPageToken = Data("w/\(offset + page.count)".utf8) }
            }
        }
        router.registerUnary(WS.Method.CountWorkers.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_CountWorkersRequest, _) in
            let count = try engine.listWorkers(namespace: request.namespace, query: request.query).count
            return Temporal_Api_Workflowservice_V1_CountWorkersResponse.with { $0.count = Int64(count) }
        }
        router.registerUnary(WS.Method.DescribeWorker.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_DescribeWorkerRequest, _) in
            let heartbeat = try engine.describeWorker(namespace: request.namespace, instanceKey: request.workerInstanceKey)
            return Temporal_Api_Workflowservice_V1_DescribeWorkerResponse.with { $0.workerInfo.workerHeartbeat = heartbeat }
        }
    }

    private static func workerListInfo(_ heartbeat: WorkerHeartbeat) -> Temporal_Api_Worker_V1_WorkerListInfo {
        .with {
            $0.workerInstanceKey = heartbeat.workerInstanceKey
            $0.workerIdentity = heartbeat.workerIdentity
            $0.taskQueue = heartbeat.taskQueue
            if heartbeat.hasDeploymentVersion { $0.deploymentVersion = heartbeat.deploymentVersion }
            $0.sdkName = heartbeat.sdkName
            $0.sdkVersion = heartbeat.sdkVersion
            $0.status = heartbeat.status
            if heartbeat.hasStartTime { $0.startTime = heartbeat.startTime }
            $0.hostName = heartbeat.hostInfo.hostName
            $0.workerGroupingKey = heartbeat.hostInfo.workerGroupingKey
            $0.processID = heartbeat.hostInfo.processID
        }
    }
}
