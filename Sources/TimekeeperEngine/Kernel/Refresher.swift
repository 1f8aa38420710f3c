internal import TemporalAPI

/// What a run owns outside itself, derived from its state alone: its timetable entries and its clock
/// holds. The live path brings them in line after every change (`EngineCore.refreshTouchedRuns`), and a
/// run rebuilt from its changes gets the same ones, so recovery needs no second code path.
enum Refresher {
    /// The entries an open run calls for, in the order new ones are added (which breaks ties between
    /// entries due at one instant): the run's own deadlines, its workflow task's, then timers and activities
    /// in the order their events were recorded.
    static func entries(of run: WorkflowRun) -> [(kind: TimetableEntry.Kind, fireAt: Instant)] {
        guard run.isOpen else { return [] }
        // The run's state is in its own (virtual) time; the timetable is in the engine's.
        let offset = run.skippedOffset
        if offset == .zero { return virtualEntries(of: run) }  // most runs: no clock of their own
        return virtualEntries(of: run).map { ($0.kind, $0.fireAt + (.zero - offset)) }
    }

    private static func virtualEntries(of run: WorkflowRun) -> [(kind: TimetableEntry.Kind, fireAt: Instant)] {
        var entries: [(kind: TimetableEntry.Kind, fireAt: Instant)] = []
        // Unlike the Java test server, which cancels the run timer only on completion, every close
        // cancels it: a stale 10-year entry would otherwise be a pointless jump target.
        entries.append((.workflowRunTimeout, run.startedAt + run.backoff + run.timeouts.run))
        if !run.firstTaskScheduled && run.backoff > .zero {
            entries.append((.workflowBackoff, run.startedAt + run.backoff))
        }
        switch run.workflowTask {
        case .none: break
        case .scheduled(let scheduledEventID, _, let scheduledAt):
            if run.stickyQueue != nil {
                entries.append((.stickyScheduleToStart(scheduledEventID: scheduledEventID), scheduledAt + run.stickyScheduleToStart))
            }
        case .started(let scheduledEventID, _, let attempt, _, let startedAt):
            entries.append((.workflowTaskTimeout(scheduledEventID: scheduledEventID, attempt: attempt),
                            startedAt + run.timeouts.workflowTask(attempt: attempt)))
        }
        // While a worker runs the workflow's task, its timers wait to fire until the task ends. Temporal
        // buffers what happens during a task and writes it after the task's completion; a TimerFired
        // written inside the task would come before a completion that cancels that timer, and the SDK
        // refuses such a history ("TimerMachine in state CancelTimerCommandSent … TimerFired").
        if !run.workflowTask.isStarted {
            for (timerID, timer) in run.timers.sorted(by: { $0.value.startedEventID < $1.value.startedEventID }) {
                entries.append((.userTimer(timerID: timerID, startedEventID: timer.startedEventID), timer.fireAt))
            }
        }
        // A paused activity has no deadlines (Temporal creates none of its timers while it is paused).
        for (scheduledID, activity) in run.activities.sorted(by: { $0.key < $1.key }) where !activity.isPaused {
            // Entries due at one instant fire in the order they are added here. Tied activity deadlines
            // give the outcomes Temporal's dev server gives (temporalio/features `eager_activity` and
            // `activity/shutdown`): an activity no worker picked up times out SCHEDULE_TO_START, and one
            // started at once whose start-to-close is its schedule-to-close times out SCHEDULE_TO_CLOSE.
            let scheduleToClose: (kind: TimetableEntry.Kind, fireAt: Instant) = (
                .activityTimeout(scheduledEventID: scheduledID, attempt: 0, .scheduleToClose),
                activity.firstScheduledAt + activity.timeouts.scheduleToClose)
            let attempt = activity.attempt
            switch activity.phase {
            case .scheduled:
                entries.append((.activityTimeout(scheduledEventID: scheduledID, attempt: attempt, .scheduleToStart),
                                activity.attemptScheduledAt + activity.timeouts.scheduleToStart))
                entries.append(scheduleToClose)
            case .started(let startedAt, _):
                entries.append(scheduleToClose)
                entries.append((.activityTimeout(scheduledEventID: scheduledID, attempt: attempt, .startToClose),
                                startedAt + activity.timeouts.startToClose))
                if activity.timeouts.heartbeat > .zero {
                    entries.append((.activityTimeout(scheduledEventID: scheduledID, attempt: attempt, .heartbeat),
                                    (activity.lastHeartbeatAt ?? startedAt) + activity.timeouts.heartbeat))
                }
            case .backingOff:
                entries.append(scheduleToClose)
                entries.append((.activityRetry(scheduledEventID: scheduledID, attempt: attempt), activity.retryAt ?? run.startedAt))
            }
        }
        // A fast-forward ends at its target even if the run stays busy (Temporal's TimeSkippingTimerTask).
        if let skipping = run.timeSkipping, skipping.isEnabled, let target = skipping.pendingFastForward {
            entries.append((.fastForwardEnd, target))
        }
        return entries
    }

    /// The holds an open run's in-flight work takes: its outstanding workflow task, and each activity
    /// attempt that is scheduled or running (not one waiting for its retry: "allow time skipping when
    /// waiting for retry"; nor one paused before a worker took it, which waits for an unpause).
    static func holds(of run: WorkflowRun) -> Set<Hold> {
        guard run.isOpen else { return [] }
        var holds = Set<Hold>()
        if run.workflowTask != .none { holds.insert(.workflowTask(runID: run.ref.runID)) }
        for activity in run.activities.values where activity.phase != .backingOff && !(activity.isPaused && activity.phase == .scheduled) {
            holds.insert(.activity(runID: run.ref.runID, scheduledEventID: activity.scheduledEventID))
        }
        return holds
    }
}
