internal import Foundation
internal import SwiftProtobuf
internal import TemporalAPI

/// What a schedule does when its time comes, when triggered or backfilled, and when a run it started closes.
extension EngineCore {
    /// At most this many matching times are handled in one wake-up (after a long jump the rest are missed).
    static let scheduleTimesPerWakeup = 1000

    /// Arms the schedule's timetable entry at its next matching time (none while it takes no scheduled
    /// actions: paused, or out of limited actions; unpausing does not back-fill the times in between).
    mutating func armSchedule(_ key: ScheduleKey) {
        guard var record = schedules[key] else { return }
        if let entry = record.wakeup { _ = timetable.cancel(entry) }
        record.wakeup = nil
        if !record.takesScheduledActions { record.processedUntil = now }
        if record.takesScheduledActions, let next = record.futureTimes(after: record.processedUntil, count: 1).first {
            record.wakeup = timetable.add(at: next, .scheduleWakeup(namespace: key.namespace, scheduleID: key.scheduleID), owner: nil)
        }
        schedules[key] = record
    }

    /// The schedule's entry fired: every matching time up to now is taken (or missed, if older than the
    /// catch-up window), then the next one is armed.
    mutating func fireScheduleWakeup(_ key: ScheduleKey) {
        guard var record = schedules[key] else { return }
        record.wakeup = nil
        let due = record.times.nextTimes(after: record.processedUntil.unixSeconds, count: Self.scheduleTimesPerWakeup)
            .map { Instant(unixSeconds: $0) }.filter { $0 <= now }
        record.processedUntil = now
        schedules[key] = record
        for nominal in due where schedules[key]?.takesScheduledActions == true {
            if now - nominal > schedules[key]!.catchupWindow {
                schedules[key]!.missedCatchupWindow += 1
                continue
            }
            if schedules[key]!.schedule.state.limitedActions { schedules[key]!.schedule.state.remainingActions -= 1 }
            takeAction(key, nominal: nominal, overlap: .unspecified, manual: false)
        }
        armSchedule(key)
    }

    /// Pause, unpause, trigger and backfill, in Temporal's order.
    mutating func applyPatch(_ patch: Temporal_Api_Schedule_V1_SchedulePatch, to key: ScheduleKey) {
        if !patch.pause.isEmpty {
            schedules[key]!.schedule.state.paused = true
            schedules[key]!.schedule.state.notes = patch.pause
            schedules[key]!.conflictToken += 1
        }
        if !patch.unpause.isEmpty {
            schedules[key]!.schedule.state.paused = false
            schedules[key]!.schedule.state.notes = patch.unpause
            schedules[key]!.conflictToken += 1
        }
        if patch.hasTriggerImmediately {
            // Manual actions run even while paused, and do not use up limited actions.
            let time = patch.triggerImmediately.hasScheduledTime ? Instant(patch.triggerImmediately.scheduledTime) : now
            takeAction(key, nominal: time, overlap: patch.triggerImmediately.overlapPolicy, manual: true)
        }
        for backfill in patch.backfillRequest {
            // Both ends inclusive.
            let start = Instant(backfill.startTime).unixSeconds - 1
            let end = Instant(backfill.endTime)
            let times = schedules[key]!.times.nextTimes(after: start, count: Self.scheduleTimesPerWakeup)
            for time in times.map({ Instant(unixSeconds: $0) }) where time <= end {
                takeAction(key, nominal: time, overlap: backfill.overlapPolicy, manual: true)
            }
        }
    }

    /// One action at nominal time `nominal`, by the overlap policy (the request's, else the schedule's).
    private mutating func takeAction(_ key: ScheduleKey, nominal: Instant, overlap requested: OverlapPolicy, manual: Bool) {
        guard let record = schedules[key] else { return }
        let overlap = requested == .unspecified ? record.overlapPolicy : requested
        let running = runningActions(record)
        if overlap == .allowAll || running.isEmpty {
            startAction(key, nominal: nominal, manual: manual, tracked: overlap != .allowAll)
            return
        }
        let start = ScheduleRecord.BufferedStart(nominal: nominal, overlap: overlap, manual: manual)
        switch overlap {
        case .bufferOne:
            if schedules[key]!.buffered.isEmpty { schedules[key]!.buffered.append(start) } else { schedules[key]!.bufferDropped += 1 }
        case .bufferAll:
            schedules[key]!.buffered.append(start)
        case .cancelOther:
            schedules[key]!.buffered.append(start)
            for action in running { cancelForSchedule(action.startWorkflowResult, key: key) }
        case .terminateOther:
            for action in running {
                if let runID = openRun(of: action.startWorkflowResult, namespace: key.namespace) {
                    terminate(runID, reason: "terminated by schedule overlap policy", identity: Self.schedulerIdentity(key))
                }
            }
            startAction(key, nominal: nominal, manual: manual, tracked: true)
        default:  // skip
            schedules[key]!.overlapSkipped += 1
        }
    }

    /// A run closed: schedules with starts waiting for their running action to close take the next one.
    mutating func resumeBufferedSchedules() {
        for key in schedules.keys.sorted(by: { $0.scheduleID < $1.scheduleID }) where !(schedules[key]!.buffered.isEmpty) {
            while let next = schedules[key]?.buffered.first, runningActions(schedules[key]!).isEmpty {
                schedules[key]!.buffered.removeFirst()
                startAction(key, nominal: next.nominal, manual: next.manual, tracked: true)
            }
        }
    }

    private mutating func startAction(_ key: ScheduleKey, nominal: Instant, manual: Bool, tracked: Bool) {
        let record = schedules[key]!
        let action = record.schedule.action.startWorkflow
        let seconds = nominal.unixSeconds
        let previous = record.recentActions.last { !isOpen($0, namespace: key.namespace) }.flatMap { closeEvent(of: $0, key.namespace) }
        let request = StartWorkflowRequest.with {
            $0.namespace = key.namespace
            // Temporal appends the nominal time, to the second, so each action has its own workflow id.
            $0.workflowID = action.workflowID + "-" + RFC3339.format(nanosecondsSinceEpoch: Instant(unixSeconds: seconds).nanosecondsSinceEpoch)
            $0.workflowType = action.workflowType
            $0.taskQueue = action.taskQueue
            if action.hasInput { $0.input = action.input }
            if action.hasWorkflowExecutionTimeout { $0.workflowExecutionTimeout = action.workflowExecutionTimeout }
            if action.hasWorkflowRunTimeout { $0.workflowRunTimeout = action.workflowRunTimeout }
            if action.hasWorkflowTaskTimeout { $0.workflowTaskTimeout = action.workflowTaskTimeout }
            if action.hasRetryPolicy { $0.retryPolicy = action.retryPolicy }
            if action.hasMemo { $0.memo = action.memo }
            if action.hasHeader { $0.header = action.header }
            if action.hasUserMetadata { $0.userMetadata = action.userMetadata }
            if action.hasPriority { $0.priority = action.priority }
            $0.searchAttributes = action.searchAttributes
            $0.searchAttributes.indexedFields["TemporalScheduledStartTime"] = Self.typedPayload(
                "Datetime", json: "\"\(RFC3339.format(nanosecondsSinceEpoch: Instant(unixSeconds: seconds).nanosecondsSinceEpoch))\"")
            $0.searchAttributes.indexedFields["TemporalScheduledById"] = Self.typedPayload("Keyword", json: Self.jsonString(key.scheduleID))
            $0.identity = Self.schedulerIdentity(key)
            $0.requestID = UUIDs.random()
            $0.workflowIDReusePolicy = manual ? .allowDuplicate : .rejectDuplicate
            // The last action's outcome, which the workflow reads as its last completion result or failure.
            if let previous {
                if case .workflowExecutionCompletedEventAttributes(let completed)? = previous.attributes, completed.hasResult {
                    $0.lastCompletionResult = completed.result
                } else if case .workflowExecutionFailedEventAttributes(let failed)? = previous.attributes {
                    $0.continuedFailure = failed.failure
                }
            }
        }
        // A workflow id still taken (two actions in one second) is not an action, as with Temporal.
        guard let decision = try? decideStart(request), case .create = decision else { return }
        let outcome = applyStart(decision, request, signal: nil)
        schedules[key]!.actionCount += 1
        schedules[key]!.recentActions.append(.with {
            $0.scheduleTime = nominal.timestamp
            $0.actualTime = now.timestamp
            $0.startWorkflowResult = .with { $0.workflowID = request.workflowID; $0.runID = outcome.runID }
            $0.startWorkflowStatus = .running
        })
        if !tracked { schedules[key]!.untrackedRunIDs.insert(outcome.runID) }
        schedules[key]!.recentActions = Array(schedules[key]!.recentActions.suffix(ScheduleRecord.recentActionLimit))
    }

    // MARK: The runs a schedule started

    /// Actions whose workflow (the chain its first run began) is still running; allow-all ones are not
    /// tracked, as in Temporal.
    func runningActions(_ record: ScheduleRecord) -> [ScheduleActionResult] {
        record.recentActions.filter { action in
            !record.untrackedRunIDs.contains(action.startWorkflowResult.runID)
                && openRun(of: action.startWorkflowResult, namespace: nil) != nil
        }
    }

    /// The action with its workflow's status now (the latest run of its chain).
    func actionWithStatus(_ action: ScheduleActionResult) -> ScheduleActionResult {
        var action = action
        if let run = latestRun(of: action.startWorkflowResult) { action.startWorkflowStatus = run.status }
        return action
    }

    private func isOpen(_ action: ScheduleActionResult, namespace: String) -> Bool {
        openRun(of: action.startWorkflowResult, namespace: namespace) != nil
    }

    private func closeEvent(of action: ScheduleActionResult, _ namespace: String) -> HistoryEvent? {
        latestRun(of: action.startWorkflowResult).flatMap { closeEvent($0.ref.runID) }
    }

    /// The latest run of the chain that began with the action's run (retries and continue-as-new keep the id).
    private func latestRun(of execution: Temporal_Api_Common_V1_WorkflowExecution) -> WorkflowRun? {
        guard let first = runs[execution.runID] else { return nil }
        if let currentID = currentRuns[WorkflowKey(namespace: first.ref.namespace, workflowID: execution.workflowID)],
            let current = runs[currentID], current.firstRunID == first.firstRunID
        {
            return current
        }
        return first
    }

    private func openRun(of execution: Temporal_Api_Common_V1_WorkflowExecution, namespace: String?) -> String? {
        guard let run = latestRun(of: execution), run.isOpen else { return nil }
        return run.ref.runID
    }

    private mutating func cancelForSchedule(_ execution: Temporal_Api_Common_V1_WorkflowExecution, key: ScheduleKey) {
        guard let runID = openRun(of: execution, namespace: key.namespace), runs[runID]?.cancelRequested == false else { return }
        record(runID, .workflowExecutionCancelRequested) { event in
            event.workflowExecutionCancelRequestedEventAttributes = .with {
                $0.cause = "cancelled by schedule overlap policy"
                $0.identity = Self.schedulerIdentity(key)
            }
        }
        workflowNeedsTask(runID)
    }

    static func schedulerIdentity(_ key: ScheduleKey) -> String { "temporal-scheduler-\(key.namespace)-\(key.scheduleID)" }

    /// A search attribute value as SDKs send it: JSON with its type in the metadata.
    static func typedPayload(_ type: String, json: String) -> Temporal_Api_Common_V1_Payload {
        .with {
            $0.metadata = ["encoding": Data("json/plain".utf8), "type": Data(type.utf8)]
            $0.data = Data(json.utf8)
        }
    }
}
