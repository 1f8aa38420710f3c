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
        /// A test client's `Sleep`, `SleepUntil` or `UnlockTimeSkippingWithSleep` (which re-locks on firing).
        case testClientSleep(SleepID, relocks: Bool)
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
        case .testClientSleep(_, let relocks):
            what = relocks ? "test client sleep (UnlockTimeSkippingWithSleep)" : "test client sleep"
        }
        if let owner { return "\(what) of \(owner)" }
        return what
    }
}

/// Identifies a blocked TestService sleep call.
package struct SleepID: Hashable, Sendable {
    package var rawValue: UInt64
}
