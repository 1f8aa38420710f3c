package import Foundation

/// The Schedules API, each call one transition.
extension Engine {
    package func createSchedule(_ request: CreateScheduleRequest) throws(EngineError) -> Data {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.createSchedule(request, wallNow: now) }
    }

    package func describeSchedule(namespace: String, scheduleID: String) throws(EngineError) -> DescribeScheduleResponse {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in
            try core.describeSchedule(namespace: namespace, scheduleID: scheduleID)
        }
    }

    package func updateSchedule(_ request: UpdateScheduleRequest) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.updateSchedule(request, wallNow: now) }
    }

    package func patchSchedule(_ request: PatchScheduleRequest) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.patchSchedule(request, wallNow: now) }
    }

    package func deleteSchedule(namespace: String, scheduleID: String) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in
            try core.deleteSchedule(namespace: namespace, scheduleID: scheduleID, wallNow: now)
        }
    }

    package func listSchedules(_ request: ListSchedulesRequest) throws(EngineError) -> ListSchedulesResponse {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in try core.listSchedules(request) }
    }
}
