internal import TemporalAPI

/// Identifies one timetable entry for its whole life (also its tie-breaker: equal fire times fire in
/// insertion order).
package struct EntryID: Hashable, Comparable, Sendable, CustomStringConvertible {
    package var rawValue: UInt64
    package static func < (lhs: EntryID, rhs: EntryID) -> Bool { lhs.rawValue < rhs.rawValue }
    package var description: String { "#\(rawValue)" }
}

/// The workflow run an entry belongs to.
package struct RunRef: Hashable, Sendable, CustomStringConvertible {
    package var namespace: String
    package var workflowID: String
    package var runID: String

    package var description: String { "workflow \(workflowID) (run \(runID))" }
}

/// "Fire X at T": one thing the clock may have to do in the future.
package struct TimetableEntry: Sendable, CustomStringConvertible {
    package enum Kind: Hashable, Sendable {
        /// The run's one workflow timer: run timeout, already reduced by the execution timeout the way
        /// Temporal's Java test server does (see `WorkflowTimeouts`).
        case workflowRunTimeout
        /// A started workflow task's start-to-close deadline; stale once that task is no longer current.
        case workflowTaskTimeout(scheduledEventID: Int64, attempt: Int32)
        /// A workflow task waiting in a worker's sticky queue for longer than this goes to the normal queue.
        case stickyScheduleToStart(scheduledEventID: Int64)
        /// A user timer started by a `StartTimer` command.
        case userTimer(timerID: String, startedEventID: Int64)
        /// One of an activity's timeouts for one attempt (schedule-to-close spans attempts).
        case activityTimeout(scheduledEventID: Int64, attempt: Int32, ActivityTimeoutType)
        /// An activity's retry backoff: when it fires, the next attempt is dispatched.
        case activityRetry(scheduledEventID: Int64, attempt: Int32)
        /// A workflow retry's backoff: when it fires, the new run's first workflow task is scheduled.
        case workflowBackoff
        /// A test client's `Sleep`, `SleepUntil` or `UnlockTimeSkippingWithSleep` (which re-locks on firing).
        case testClientSleep(SleepID, relocks: Bool)
        /// A schedule's next matching time (Temporal's Schedules API).
        case scheduleWakeup(namespace: String, scheduleID: String)
        /// The end of a run's fast-forward (time skipping V2), reached in wall time while the run was busy.
        case fastForwardEnd
        /// A closed run's retention has passed: it is deleted (dev mode).
        case retentionEnds
    }

    package var id: EntryID
    package var fireAt: Instant
    package var kind: Kind
    package var owner: RunRef?

    /// One readable phrase naming what this entry is, for logs and inspection.
    package var description: String {
        let what: String
        switch kind {
        case .workflowRunTimeout: what = "workflow run timeout"
        case .workflowTaskTimeout(let scheduled, let attempt):
            what = "workflow task timeout (scheduled event \(scheduled), attempt \(attempt))"
        case .userTimer(let timerID, _): what = "timer \(timerID)"
        case .stickyScheduleToStart(let scheduled):
            what = "sticky queue schedule-to-start timeout (workflow task scheduled event \(scheduled))"
        case .activityTimeout(let scheduled, let attempt, let type):
            what = "activity \(Self.timeoutName(type)) timeout (scheduled event \(scheduled), attempt \(attempt))"
        case .activityRetry(let scheduled, let attempt):
            what = "activity retry backoff (scheduled event \(scheduled), next attempt \(attempt))"
        case .workflowBackoff: what = "workflow retry backoff"
        case .fastForwardEnd: what = "end of the fast-forward"
        case .retentionEnds: what = "end of retention (the closed run is deleted)"
        case .testClientSleep(_, let relocks):
            what = relocks ? "test client sleep (UnlockTimeSkippingWithSleep)" : "test client sleep"
        case .scheduleWakeup(let namespace, let scheduleID): what = "schedule \(scheduleID) (namespace \(namespace))"
        }
        if let owner { return "\(what) of \(owner)" }
        return what
    }
}

extension TimetableEntry {
    package static func timeoutName(_ type: ActivityTimeoutType) -> String {
        switch type {
        case .scheduleToClose: "schedule-to-close"
        case .scheduleToStart: "schedule-to-start"
        case .startToClose: "start-to-close"
        case .heartbeat: "heartbeat"
        default: "unspecified"
        }
    }
}

/// Identifies a blocked TestService sleep call.
package struct SleepID: Hashable, Sendable {
    package var rawValue: UInt64
}
