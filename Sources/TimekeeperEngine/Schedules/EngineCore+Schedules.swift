package import Foundation
internal import SwiftProtobuf
package import TemporalAPI

package typealias CreateScheduleRequest = Temporal_Api_Workflowservice_V1_CreateScheduleRequest
package typealias DescribeScheduleResponse = Temporal_Api_Workflowservice_V1_DescribeScheduleResponse
package typealias UpdateScheduleRequest = Temporal_Api_Workflowservice_V1_UpdateScheduleRequest
package typealias PatchScheduleRequest = Temporal_Api_Workflowservice_V1_PatchScheduleRequest
package typealias ListSchedulesRequest = Temporal_Api_Workflowservice_V1_ListSchedulesRequest
package typealias ListSchedulesResponse = Temporal_Api_Workflowservice_V1_ListSchedulesResponse

/// The Schedules API: create, describe, update, patch (pause, unpause, trigger, backfill), delete, list.
extension EngineCore {
    package mutating func createSchedule(_ request: CreateScheduleRequest, wallNow: Instant) throws(EngineError) -> Data {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            try Self.requireNamespace(request.namespace)
            guard !request.scheduleID.isEmpty else { throw .invalidArgument("schedule_id is not set") }
            guard !request.requestID.isEmpty else { throw .invalidArgument("RequestId is not set on request.") }
            let key = ScheduleKey(namespace: request.namespace, scheduleID: request.scheduleID)
            if let existing = core.schedules[key] {
                if existing.createRequestID == request.requestID { return { core in core.schedules[key]!.conflictTokenData } }
                // The error shape SDKs decode as "schedule already running".
                throw EngineError(
                    .alreadyExists, "schedule \"\(request.scheduleID)\" is already registered",
                    detail: .workflowExecutionAlreadyStarted(startRequestID: "", runID: ""))
            }
            let (times, schedule) = try Self.validatedSchedule(request.schedule)
            if request.hasInitialPatch { try Self.validate(request.initialPatch, times: times) }
            return { core in
                core.schedules[key] = ScheduleRecord(
                    schedule: schedule, times: times, memo: request.hasMemo && !request.memo.fields.isEmpty ? request.memo : nil,
                    searchAttributes: request.hasSearchAttributes && !request.searchAttributes.indexedFields.isEmpty
                        ? request.searchAttributes : nil,
                    createRequestID: request.requestID, createdAt: core.now, processedUntil: core.now)
                // A trigger or backfill asked for at creation runs before the call returns.
                if request.hasInitialPatch { core.applyPatch(request.initialPatch, to: key) }
                core.armSchedule(key)
                return core.schedules[key]!.conflictTokenData
            }
        }
    }

    package func describeSchedule(namespace: String, scheduleID: String) throws(EngineError) -> DescribeScheduleResponse {
        let record = try schedule(namespace: namespace, scheduleID)
        return .with {
            $0.schedule = record.schedule
            if case .startWorkflow(let start)? = record.schedule.action.action, !start.searchAttributes.indexedFields.isEmpty {
                $0.schedule.action.startWorkflow.searchAttributes.indexedFields =
                    typedSearchAttributes(start.searchAttributes.indexedFields, namespace: namespace)
            }
            $0.info = .with {
                $0.actionCount = record.actionCount
                $0.missedCatchupWindow = record.missedCatchupWindow
                $0.overlapSkipped = record.overlapSkipped
                $0.bufferDropped = record.bufferDropped
                $0.bufferSize = Int64(record.buffered.count)
                $0.runningWorkflows = runningActions(record).map(\.startWorkflowResult)
                $0.recentActions = record.recentActions.map(actionWithStatus)
                $0.futureActionTimes = record.futureTimes(after: record.processedUntil, count: 10).map(\.timestamp)
                $0.createTime = record.createdAt.timestamp
                if let updatedAt = record.updatedAt { $0.updateTime = updatedAt.timestamp }
            }
            if let memo = record.memo { $0.memo = memo }
            if let searchAttributes = record.searchAttributes {
                $0.searchAttributes.indexedFields = typedSearchAttributes(searchAttributes.indexedFields, namespace: namespace)
            }
            $0.conflictToken = record.conflictTokenData
        }
    }

    package mutating func updateSchedule(_ request: UpdateScheduleRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let record = try core.schedule(namespace: request.namespace, request.scheduleID)
            let (times, schedule) = try Self.validatedSchedule(request.schedule)
            let key = ScheduleKey(namespace: request.namespace, scheduleID: request.scheduleID)
            // A stale conflict token drops the update without an error, as Temporal's scheduler does.
            let stale = !request.conflictToken.isEmpty && request.conflictToken != record.conflictTokenData
            return { core in
                guard !stale else { return }
                core.schedules[key]!.schedule = schedule
                core.schedules[key]!.times = times
                core.schedules[key]!.updatedAt = core.now
                core.schedules[key]!.conflictToken += 1
                if request.hasSearchAttributes {  // present: replaces the set (empty clears it)
                    core.schedules[key]!.searchAttributes = request.searchAttributes.indexedFields.isEmpty ? nil : request.searchAttributes
                }
                core.armSchedule(key)
            }
        }
    }

    package mutating func patchSchedule(_ request: PatchScheduleRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let record = try core.schedule(namespace: request.namespace, request.scheduleID)
            guard request.hasPatch else { throw .invalidArgument("Patch is not set on request.") }
            try Self.validate(request.patch, times: record.times)
            let key = ScheduleKey(namespace: request.namespace, scheduleID: request.scheduleID)
            return { core in
                core.applyPatch(request.patch, to: key)
                core.armSchedule(key)
            }
        }
    }

    package mutating func deleteSchedule(namespace: String, scheduleID: String, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            _ = try core.schedule(namespace: namespace, scheduleID)
            let key = ScheduleKey(namespace: namespace, scheduleID: scheduleID)
            return { core in
                if let entry = core.schedules.removeValue(forKey: key)?.wakeup { _ = core.timetable.cancel(entry) }
            }
        }
    }

    /// The namespace's schedules by id, a page at a time (the page token is the last id answered).
    package func listSchedules(_ request: ListSchedulesRequest) throws(EngineError) -> ListSchedulesResponse {
        try Self.requireNamespace(request.namespace)
        // Filtering schedules by a query is not supported yet: say so rather than answer every schedule.
        guard request.query.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw EngineError(.unimplemented, "ListSchedules with a query is not supported by timekeeper yet")
        }
        let after = String(decoding: request.nextPageToken, as: UTF8.self)
        let pageSize = request.maximumPageSize > 0 ? Int(request.maximumPageSize) : 1000
        let keys = schedules.keys.filter { $0.namespace == request.namespace && $0.scheduleID > after }
            .sorted { $0.scheduleID < $1.scheduleID }
        let page = keys.prefix(pageSize)
        return .with {
            $0.schedules = page.map { key in
                let record = schedules[key]!
                return .with {
                    $0.scheduleID = key.scheduleID
                    if let memo = record.memo { $0.memo = memo }
                    if let searchAttributes = record.searchAttributes { $0.searchAttributes = searchAttributes }
                    $0.info = .with {
                        $0.spec = record.schedule.spec
                        $0.workflowType = record.schedule.action.startWorkflow.workflowType
                        $0.notes = record.schedule.state.notes
                        $0.paused = record.schedule.state.paused
                        $0.recentActions = record.recentActions.suffix(5).map(actionWithStatus)
                        $0.futureActionTimes = record.futureTimes(after: record.processedUntil, count: 5).map(\.timestamp)
                    }
                }
            }
            if keys.count > pageSize, let last = page.last { $0.nextPageToken = Data(last.scheduleID.utf8) }
        }
    }

    // MARK: Helpers

    private func schedule(namespace: String, _ scheduleID: String) throws(EngineError) -> ScheduleRecord {
        try Self.requireNamespace(namespace)
        guard !scheduleID.isEmpty else { throw .invalidArgument("schedule_id is not set") }
        guard let record = schedules[ScheduleKey(namespace: namespace, scheduleID: scheduleID)] else {
            // Temporal's message names the scheduler workflow that backs a schedule there.
            throw EngineError(.notFound, "workflow not found for ID: temporal-sys-scheduler:\(scheduleID)")
        }
        return record
    }

    /// Validates a schedule and fills in what Describe shows: the canonical spec, overlap policy SKIP, a
    /// catch-up window of a year (at least ten seconds).
    private static func validatedSchedule(_ schedule: Schedule) throws(EngineError) -> (ScheduleTimes, Schedule) {
        let (times, spec) = try ScheduleRecord.compile(schedule.spec)
        guard case .startWorkflow(let start)? = schedule.action.action else {
            throw .invalidArgument("Only StartWorkflow action is supported for schedules")
        }
        guard !start.workflowType.name.isEmpty else { throw .invalidArgument("WorkflowType is not set on request.") }
        guard !start.workflowID.isEmpty else { throw .invalidArgument("WorkflowId is not set on request.") }
        guard !start.taskQueue.name.isEmpty else { throw .invalidArgument("TaskQueue is not set on request.") }
        guard start.cronSchedule.isEmpty else { throw .invalidArgument("Scheduled workflow must not contain CronSchedule") }
        guard [.unspecified, .allowDuplicate].contains(start.workflowIDReusePolicy) else {
            throw .invalidArgument("Scheduled workflow must not contain WorkflowIDReusePolicy")
        }
        guard schedule.state.notes.utf8.count <= 1000 else { throw .invalidArgument("Schedule notes exceeds limit.") }
        var filled = schedule
        filled.spec = spec
        filled.action.startWorkflow.taskQueue.kind = .normal
        if filled.policies.overlapPolicy == .unspecified { filled.policies.overlapPolicy = .skip }
        let window = Duration(protobuf: schedule.policies.catchupWindow)
        if !schedule.policies.hasCatchupWindow {
            filled.policies.catchupWindow = ScheduleRecord.defaultCatchupWindow.protobuf
        } else if window < ScheduleRecord.minimumCatchupWindow {
            filled.policies.catchupWindow = ScheduleRecord.minimumCatchupWindow.protobuf
        }
        return (times, filled)
    }

    /// At most this many actions one patch's backfills may start (each is a workflow run; Temporal's
    /// scheduler works through a long backfill over time, this server does it at once).
    static let backfillActionLimit = 1000

    private static func validate(_ patch: Temporal_Api_Schedule_V1_SchedulePatch, times: ScheduleTimes? = nil) throws(EngineError) {
        guard patch.pause.utf8.count <= 1000, patch.unpause.utf8.count <= 1000 else {
            throw .invalidArgument("Schedule notes exceeds limit.")
        }
        guard patch.backfillRequest.count <= 100 else {
            throw .invalidArgument("backfill_request has \(patch.backfillRequest.count) entries; at most 100 are accepted")
        }
        var actions = 0
        for (index, backfill) in patch.backfillRequest.enumerated() {
            guard backfill.hasStartTime, backfill.hasEndTime, Instant(backfill.startTime) <= Instant(backfill.endTime) else {
                throw .invalidArgument("backfill_request[\(index)]: start_time and end_time must be set, start not after end")
            }
            guard let times else { continue }
            let end = Instant(backfill.endTime).unixSeconds
            actions += times.nextTimes(after: Instant(backfill.startTime).unixSeconds - 1, count: backfillActionLimit + 1)
                .filter { $0 <= end }.count
            guard actions <= backfillActionLimit else {
                throw .invalidArgument(
                    "backfill_request covers more than \(backfillActionLimit) action times; split it into several patches")
            }
        }
    }
}
