internal import SwiftProtobuf
internal import TemporalAPI
internal import TimekeeperEngine

private typealias WS = Temporal_Api_Workflowservice_V1_WorkflowService

/// WorkflowService's Schedules API, served by the engine's schedules.
extension WorkflowServiceHandlers {
    func registerScheduleMethods(with router: inout UnaryRouter) {
        let engine = self.engine
        router.registerUnary(WS.Method.CreateSchedule.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_CreateScheduleRequest, _) in
            let token = try engine.createSchedule(request)
            return Temporal_Api_Workflowservice_V1_CreateScheduleResponse.with { $0.conflictToken = token }
        }
        router.registerUnary(WS.Method.DescribeSchedule.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_DescribeScheduleRequest, _) in
            try engine.describeSchedule(namespace: request.namespace, scheduleID: request.scheduleID)
        }
        router.registerUnary(WS.Method.UpdateSchedule.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_UpdateScheduleRequest, _) in
            try engine.updateSchedule(request)
            return Temporal_Api_Workflowservice_V1_UpdateScheduleResponse()
        }
        router.registerUnary(WS.Method.PatchSchedule.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_PatchScheduleRequest, _) in
            try engine.patchSchedule(request)
            return Temporal_Api_Workflowservice_V1_PatchScheduleResponse()
        }
        router.registerUnary(WS.Method.DeleteSchedule.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_DeleteScheduleRequest, _) in
            try engine.deleteSchedule(namespace: request.namespace, scheduleID: request.scheduleID)
            return Temporal_Api_Workflowservice_V1_DeleteScheduleResponse()
        }
        router.registerUnary(WS.Method.ListSchedules.descriptor) {
            (request: Temporal_Api_Workflowservice_V1_ListSchedulesRequest, _) in
            try engine.listSchedules(request)
        }
    }
}
