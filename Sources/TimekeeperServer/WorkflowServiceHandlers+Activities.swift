internal import GRPCCore
internal import SwiftProtobuf
internal import TemporalAPI
internal import TimekeeperEngine

private typealias WS = Temporal_Api_Workflowservice_V1_WorkflowService

/// Activity tasks, signals, cancellation and queries: the rest of the workflow service.
extension WorkflowServiceHandlers {
    /// Queries wait for a worker's answer at most this long (or the client's deadline).
    static let queryBound: Duration = .seconds(60)

    func registerActivityMethods(with router: inout UnaryRouter) {
        let engine = self.engine

        router.registerSuspending(WS.Method.PollActivityTaskQueue.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_PollActivityTaskQueueRequest, headers) in
            try await engine.pollActivityTask(
                namespace: request.namespace, taskQueue: request.taskQueue.name, identity: request.identity,
                timeout: headers.longPollTimeout(bound: Self.taskPollBound))
                ?? Temporal_Api_Workflowservice_V1_PollActivityTaskQueueResponse()
        }

        router.registerUnary(WS.Method.RespondActivityTaskCompleted.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_RespondActivityTaskCompletedRequest, _) in
            try engine.completeActivity(
                .token(request.taskToken), result: request.hasResult ? request.result : nil, identity: request.identity)
            return Temporal_Api_Workflowservice_V1_RespondActivityTaskCompletedResponse()
        }
        router.registerUnary(WS.Method.RespondActivityTaskCompletedById.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_RespondActivityTaskCompletedByIdRequest, _) in
            try engine.completeActivity(
                request.address,
                result: request.hasResult ? request.result : nil, identity: request.identity)
            return Temporal_Api_Workflowservice_V1_RespondActivityTaskCompletedByIdResponse()
        }

        router.registerUnary(WS.Method.RespondActivityTaskFailed.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_RespondActivityTaskFailedRequest, _) in
            try engine.failActivity(
                .token(request.taskToken), failure: request.failure,
                lastHeartbeatDetails: request.hasLastHeartbeatDetails ? request.lastHeartbeatDetails : nil,
                identity: request.identity)
            return Temporal_Api_Workflowservice_V1_RespondActivityTaskFailedResponse()
        }
        router.registerUnary(WS.Method.RespondActivityTaskFailedById.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_RespondActivityTaskFailedByIdRequest, _) in
            try engine.failActivity(
                request.address,
                failure: request.failure,
                lastHeartbeatDetails: request.hasLastHeartbeatDetails ? request.lastHeartbeatDetails : nil,
                identity: request.identity)
            return Temporal_Api_Workflowservice_V1_RespondActivityTaskFailedByIdResponse()
        }

        router.registerUnary(WS.Method.RespondActivityTaskCanceled.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_RespondActivityTaskCanceledRequest, _) in
            try engine.cancelActivity(
                .token(request.taskToken), details: request.hasDetails ? request.details : nil, identity: request.identity)
            return Temporal_Api_Workflowservice_V1_RespondActivityTaskCanceledResponse()
        }
        router.registerUnary(WS.Method.RespondActivityTaskCanceledById.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_RespondActivityTaskCanceledByIdRequest, _) in
            try engine.cancelActivity(
                request.address,
                details: request.hasDetails ? request.details : nil, identity: request.identity)
            return Temporal_Api_Workflowservice_V1_RespondActivityTaskCanceledByIdResponse()
        }

        router.registerUnary(WS.Method.RecordActivityTaskHeartbeat.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_RecordActivityTaskHeartbeatRequest, _) in
            let answer = try engine.heartbeatActivity(
                .token(request.taskToken), details: request.hasDetails ? request.details : nil)
            return Temporal_Api_Workflowservice_V1_RecordActivityTaskHeartbeatResponse.with {
                $0.cancelRequested = answer.cancelRequested
                $0.activityPaused = answer.paused
            }
        }
        router.registerUnary(WS.Method.RecordActivityTaskHeartbeatById.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_RecordActivityTaskHeartbeatByIdRequest, _) in
            let answer = try engine.heartbeatActivity(
                request.address,
                details: request.hasDetails ? request.details : nil)
            return Temporal_Api_Workflowservice_V1_RecordActivityTaskHeartbeatByIdResponse.with {
                $0.cancelRequested = answer.cancelRequested
                $0.activityPaused = answer.paused
            }
        }
        router.registerUnary(WS.Method.PauseActivity.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_PauseActivityRequest, _) in
            try engine.pauseActivity(request)
            return Temporal_Api_Workflowservice_V1_PauseActivityResponse()
        }
        router.registerUnary(WS.Method.UnpauseActivity.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_UnpauseActivityRequest, _) in
            try engine.unpauseActivity(request)
            return Temporal_Api_Workflowservice_V1_UnpauseActivityResponse()
        }

        router.registerUnary(WS.Method.SignalWorkflowExecution.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_SignalWorkflowExecutionRequest, _) in
            try engine.signalWorkflow(request)
            return Temporal_Api_Workflowservice_V1_SignalWorkflowExecutionResponse()
        }
        router.registerUnary(WS.Method.SignalWithStartWorkflowExecution.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_SignalWithStartWorkflowExecutionRequest, _) in
            let outcome = try engine.signalWithStart(request)
            return Temporal_Api_Workflowservice_V1_SignalWithStartWorkflowExecutionResponse.with {
                $0.runID = outcome.runID
                $0.started = outcome.started
            }
        }
        router.registerUnary(WS.Method.RequestCancelWorkflowExecution.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_RequestCancelWorkflowExecutionRequest, _) in
            try engine.requestCancelWorkflow(request)
            return Temporal_Api_Workflowservice_V1_RequestCancelWorkflowExecutionResponse()
        }

        router.registerSuspending(WS.Method.QueryWorkflow.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_QueryWorkflowRequest, headers) in
            try await engine.queryWorkflow(request, timeout: headers.longPollTimeout(bound: Self.queryBound))
        }
        router.registerUnary(WS.Method.RespondQueryTaskCompleted.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_RespondQueryTaskCompletedRequest, _) in
            try engine.completeQueryTask(request)
            return Temporal_Api_Workflowservice_V1_RespondQueryTaskCompletedResponse()
        }
    }
}

/// The `…ById` activity requests, which name an activity by workflow and activity id instead of a token.
protocol ActivityByIDRequest {
    var namespace: String { get }
    var workflowID: String { get }
    var runID: String { get }
    var activityID: String { get }
}

extension ActivityByIDRequest {
    var address: ActivityAddress {
        .id(namespace: namespace, workflowID: workflowID, runID: runID, activityID: activityID)
    }
}

extension Temporal_Api_Workflowservice_V1_RespondActivityTaskCompletedByIdRequest: ActivityByIDRequest {}
extension Temporal_Api_Workflowservice_V1_RespondActivityTaskFailedByIdRequest: ActivityByIDRequest {}
extension Temporal_Api_Workflowservice_V1_RespondActivityTaskCanceledByIdRequest: ActivityByIDRequest {}
extension Temporal_Api_Workflowservice_V1_RecordActivityTaskHeartbeatByIdRequest: ActivityByIDRequest {}
