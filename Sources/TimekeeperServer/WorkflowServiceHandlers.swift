internal import SwiftProtobuf
internal import Foundation
internal import GRPCCore
internal import TemporalAPI
internal import TimekeeperEngine

private typealias WS = Temporal_Api_Workflowservice_V1_WorkflowService

/// `temporal.api.workflowservice.v1.WorkflowService`: each handler converts, calls one engine method,
/// converts back. Methods not listed here answer UNIMPLEMENTED with their name.
struct WorkflowServiceHandlers: UnaryService {
    let engine: Engine

    /// Task-queue long polls return empty after this, as Temporal's servers do (60 s).
    static let taskPollBound: Duration = .seconds(60)
    /// History long polls return an empty page after this so that the client polls again (the Java test
    /// server's 20 s).
    static let historyPollBound: Duration = .seconds(20)

    /// A namespace as Describe and List answer it.
    static func namespaceDescription(_ name: String, _ record: NamespaceRecord) -> Temporal_Api_Workflowservice_V1_DescribeNamespaceResponse {
        .with {
            $0.namespaceInfo = .with {
                $0.name = name
                $0.state = .registered
                $0.description_p = record.description
                $0.ownerEmail = record.ownerEmail
                $0.data = record.data
                $0.id = NamespaceIDs.id(for: name)
                // Only what is served: updates, eager workflow start and worker heartbeats (the SDKs then
                // send RecordWorkerHeartbeat once a minute).
                $0.capabilities = .with {
                    $0.syncUpdate = true
                    $0.asyncUpdate = true
                    $0.eagerWorkflowStart = true
                    $0.workerHeartbeats = true
                }
                $0.supportsSchedules = true
            }
            // The shape of the real dev server's answer (Temporal CLI 1.9.1, server 1.32.0): the CLI's
            // `operator namespace describe` dereferences replication_config and its clusters.
            $0.config = .with {
                $0.workflowExecutionRetentionTtl = record.retention.protobuf
                $0.badBinaries = .init()
                $0.historyArchivalState = .disabled
                $0.visibilityArchivalState = .disabled
            }
            $0.replicationConfig = .with {
                $0.activeClusterName = "active"
                $0.clusters = [.with { $0.clusterName = "active" }]
                $0.state = .normal
            }
        }
    }

    func register(with router: inout UnaryRouter) {
        let engine = self.engine

        router.registerUnary(WS.Method.GetSystemInfo.descriptor) {
            (_: Temporal_Api_Workflowservice_V1_GetSystemInfoRequest, _) in
            Temporal_Api_Workflowservice_V1_GetSystemInfoResponse.with {
                // The capabilities Temporal's Java test server advertises (eager workflow start among them).
                $0.capabilities = .with {
                    $0.eagerWorkflowStart = true
                    $0.signalAndQueryHeader = true
                    $0.encodedFailureAttributes = true
                    $0.upsertMemo = true
                    $0.sdkMetadata = true
                    // Beyond the Java server: a failed activity's last heartbeat details are kept.
                    $0.activityFailureIncludeHeartbeat = true
                    // As Temporal's server: workers then send their build id as a version stamp, which the
                    // task's completed event records and a replaying worker reads back.
                    $0.buildIDBasedVersioning = true
                }
            }
        }

        router.registerUnary(WS.Method.DescribeNamespace.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_DescribeNamespaceRequest, _) in
            let name = request.namespace.isEmpty ? request.id : request.namespace
            guard !name.isEmpty else { throw EngineError.invalidArgument("namespace is not set") }
            return Self.namespaceDescription(name, engine.namespaceRecord(name))
        }

        // The real dev server's shape, with what is true here: one in-memory store, no version claimed.
        let clusterID = UUIDs.random()
        router.registerUnary(WS.Method.GetClusterInfo.descriptor) {
            (_: Temporal_Api_Workflowservice_V1_GetClusterInfoRequest, _) in
            Temporal_Api_Workflowservice_V1_GetClusterInfoResponse.with {
                $0.clusterID = clusterID
                $0.clusterName = "active"
                $0.historyShardCount = 1
                $0.persistenceStore = "memory"
                $0.visibilityStore = "memory"
                $0.initialFailoverVersion = 1
                $0.failoverVersionIncrement = 10
            }
        }

        router.registerUnary(WS.Method.DescribeTaskQueue.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_DescribeTaskQueueRequest, _) in
            try engine.describeTaskQueue(request)
        }
        // One partition per queue, owned by this server.
        router.registerUnary(WS.Method.ListTaskQueuePartitions.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_ListTaskQueuePartitionsRequest, _) in
            guard !request.taskQueue.name.isEmpty else { throw EngineError.invalidArgument("task_queue.name is not set") }
            let partition = Temporal_Api_Taskqueue_V1_TaskQueuePartitionMetadata.with {
                $0.key = request.taskQueue.name
                $0.ownerHostName = "127.0.0.1"
            }
            return Temporal_Api_Workflowservice_V1_ListTaskQueuePartitionsResponse.with {
                $0.activityTaskQueuePartitions = [partition]
                $0.workflowTaskQueuePartitions = [partition]
            }
        }

        router.registerUnary(WS.Method.RegisterNamespace.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_RegisterNamespaceRequest, _) in
            try engine.registerNamespace(request)
            return Temporal_Api_Workflowservice_V1_RegisterNamespaceResponse()
        }

        router.registerUnary(WS.Method.UpdateNamespace.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_UpdateNamespaceRequest, _) in
            try engine.updateNamespace(request)
            let described = Self.namespaceDescription(request.namespace, engine.namespaceRecord(request.namespace))
            return Temporal_Api_Workflowservice_V1_UpdateNamespaceResponse.with {
                $0.namespaceInfo = described.namespaceInfo
                $0.config = described.config
                $0.replicationConfig = described.replicationConfig
            }
        }

        // The test server serves any namespace a client names (as Temporal's Java test server does):
        // it lists "default", the registered ones and every namespace runs were started in.
        router.registerUnary(WS.Method.ListNamespaces.descriptor) {
            (_: Temporal_Api_Workflowservice_V1_ListNamespacesRequest, _) in
            let names = engine.knownNamespaces().sorted()
            return Temporal_Api_Workflowservice_V1_ListNamespacesResponse.with {
                $0.namespaces = names.map { Self.namespaceDescription($0, engine.namespaceRecord($0)) }
            }
        }

        router.registerUnary(WS.Method.StartWorkflowExecution.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_StartWorkflowExecutionRequest, _) in
            let outcome = try engine.startWorkflow(request)
            return Temporal_Api_Workflowservice_V1_StartWorkflowExecutionResponse.with {
                $0.runID = outcome.runID
                $0.started = outcome.started
                $0.status = .running
                if let task = outcome.eagerTask { $0.eagerWorkflowTask = task }
            }
        }

        router.registerSuspending(WS.Method.PollWorkflowTaskQueue.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_PollWorkflowTaskQueueRequest, headers) in
            try await engine.pollWorkflowTask(
                namespace: request.namespace, taskQueue: request.taskQueue.name, identity: request.identity,
                timeout: headers.longPollTimeout(bound: Self.taskPollBound))
                ?? Temporal_Api_Workflowservice_V1_PollWorkflowTaskQueueResponse()
        }

        router.registerUnary(WS.Method.RespondWorkflowTaskCompleted.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_RespondWorkflowTaskCompletedRequest, _) in
            let eagerActivities = try engine.completeWorkflowTask(request)
            return Temporal_Api_Workflowservice_V1_RespondWorkflowTaskCompletedResponse.with {
                $0.activityTasks = eagerActivities
            }
        }

        router.registerUnary(WS.Method.RespondWorkflowTaskFailed.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_RespondWorkflowTaskFailedRequest, _) in
            try engine.failWorkflowTask(request)
            return Temporal_Api_Workflowservice_V1_RespondWorkflowTaskFailedResponse()
        }

        router.registerSuspending(WS.Method.GetWorkflowExecutionHistory.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_GetWorkflowExecutionHistoryRequest, headers) in
            try await engine.readHistory(
                request, timeout: headers.longPollTimeout(bound: Self.historyPollBound))
        }

        // Per-workflow time skipping (V2): a new config (a fast-forward among others), and the poll that
        // waits for a fast-forward to end.
        router.registerUnary(WS.Method.UpdateWorkflowExecutionOptions.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_UpdateWorkflowExecutionOptionsRequest, _) in
            try engine.updateWorkflowOptions(request)
        }

        router.registerSuspending(WS.Method.PollWorkflowExecutionTimeSkipping.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_PollWorkflowExecutionTimeSkippingRequest, headers) in
            try await engine.pollTimeSkipping(request, timeout: headers.longPollTimeout(bound: Self.historyPollBound))
        }

        router.registerUnary(WS.Method.DescribeWorkflowExecution.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_DescribeWorkflowExecutionRequest, _) in
            try engine.describeWorkflow(request)
        }

        router.registerUnary(WS.Method.ListWorkflowExecutions.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_ListWorkflowExecutionsRequest, _) in
            try engine.listWorkflows(request)
        }

        router.registerUnary(WS.Method.ListOpenWorkflowExecutions.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_ListOpenWorkflowExecutionsRequest, _) in
            let page = try engine.listOpenWorkflows(request)
            return Temporal_Api_Workflowservice_V1_ListOpenWorkflowExecutionsResponse.with {
                $0.executions = page.executions
                $0.nextPageToken = page.nextPageToken
            }
        }
        router.registerUnary(WS.Method.ListClosedWorkflowExecutions.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_ListClosedWorkflowExecutionsRequest, _) in
            let page = try engine.listClosedWorkflows(request)
            return Temporal_Api_Workflowservice_V1_ListClosedWorkflowExecutionsResponse.with {
                $0.executions = page.executions
                $0.nextPageToken = page.nextPageToken
            }
        }
        // Scan: a list whose order promises nothing (ours is the list's).
        router.registerUnary(WS.Method.ScanWorkflowExecutions.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_ScanWorkflowExecutionsRequest, _) in
            let page = try engine.listWorkflows(.with {
                $0.namespace = request.namespace
                $0.pageSize = request.pageSize
                $0.nextPageToken = request.nextPageToken
                $0.query = request.query
            })
            return Temporal_Api_Workflowservice_V1_ScanWorkflowExecutionsResponse.with {
                $0.executions = page.executions
                $0.nextPageToken = page.nextPageToken
            }
        }
        // The default namespace's attributes when none is named (the call has no namespace field).
        router.registerUnary(WS.Method.GetSearchAttributes.descriptor) {
            (_: Temporal_Api_Workflowservice_V1_GetSearchAttributesRequest, _) in
            Temporal_Api_Workflowservice_V1_GetSearchAttributesResponse.with {
                $0.keys = (try? engine.searchAttributeTypes(namespace: "default"))?.mapValues(\.indexedValueType) ?? [:]
            }
        }

        router.registerUnary(WS.Method.CountWorkflowExecutions.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_CountWorkflowExecutionsRequest, _) in
            try engine.countWorkflows(request)
        }

        router.registerUnary(WS.Method.TerminateWorkflowExecution.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_TerminateWorkflowExecutionRequest, _) in
            try engine.terminateWorkflow(request)
            return Temporal_Api_Workflowservice_V1_TerminateWorkflowExecutionResponse()
        }

        router.registerUnary(WS.Method.ResetWorkflowExecution.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_ResetWorkflowExecutionRequest, _) in
            let runID = try engine.resetWorkflow(request)
            return Temporal_Api_Workflowservice_V1_ResetWorkflowExecutionResponse.with { $0.runID = runID }
        }

        router.registerUnary(WS.Method.DeleteWorkflowExecution.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_DeleteWorkflowExecutionRequest, _) in
            try engine.deleteWorkflow(request)
            return Temporal_Api_Workflowservice_V1_DeleteWorkflowExecutionResponse()
        }

        router.registerUnary(WS.Method.GetWorkflowExecutionHistoryReverse.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_GetWorkflowExecutionHistoryReverseRequest, _) in
            try engine.readHistoryReverse(request)
        }

        router.registerUnary(WS.Method.ShutdownWorker.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_ShutdownWorkerRequest, _) in
            engine.shutdownWorker(namespace: request.namespace, stickyQueue: request.stickyTaskQueue)
            // Its last heartbeat (status SHUTTING_DOWN) is kept, as Temporal's server keeps it; a bad one is
            // left out rather than failing the shutdown.
            if request.hasWorkerHeartbeat { try? engine.recordWorkerHeartbeats(namespace: request.namespace, [request.workerHeartbeat]) }
            return Temporal_Api_Workflowservice_V1_ShutdownWorkerResponse()
        }

        router.registerUnary(WS.Method.ResetStickyTaskQueue.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_ResetStickyTaskQueueRequest, _) in
            try engine.resetStickyQueue(namespace: request.namespace, request.execution)
            return Temporal_Api_Workflowservice_V1_ResetStickyTaskQueueResponse()
        }

        registerActivityMethods(with: &router)
        registerUpdateMethods(with: &router)
        registerScheduleMethods(with: &router)
        registerBatchMethods(with: &router)
    }
}

/// Namespace ids: a stable UUID-shaped id derived from the name (there is no namespace registry).
enum NamespaceIDs {
    static func id(for name: String) -> String {
        var high: UInt64 = 0xcbf2_9ce4_8422_2325
        var low: UInt64 = 0x8422_2325_cbf2_9ce4
        for byte in name.utf8 {
            high = (high ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            low = (low &+ UInt64(byte)) &* 0x9e37_79b9_7f4a_7c15
        }
        let hex = String(format: "%016llx%016llx", high, low)
        let characters = Array(hex)
        func part(_ range: Range<Int>) -> String { String(characters[range]) }
        return [part(0..<8), part(8..<12), part(12..<16), part(16..<20), part(20..<32)].joined(separator: "-")
    }
}
