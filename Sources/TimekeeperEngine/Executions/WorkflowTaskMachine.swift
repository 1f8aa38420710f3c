internal import TemporalAPI

/// Where a run's workflow task stands. At most one workflow task is outstanding per run.
///
/// The states and the events that move between them:
/// `none` —WorkflowTaskScheduled→ `scheduled` —WorkflowTaskStarted→ `started`
/// —WorkflowTaskCompleted / Failed / TimedOut→ `none`; closing the run ends any state.
package enum WorkflowTaskState: Sendable, Equatable {
    case none
    case scheduled(scheduledEventID: Int64, attempt: Int32, scheduledAt: Instant)
    case started(scheduledEventID: Int64, startedEventID: Int64, attempt: Int32, scheduledAt: Instant,
                 startedAt: Instant)

    var scheduledEventID: Int64? {
        switch self {
        case .none: nil
        case .scheduled(let id, _, _), .started(let id, _, _, _, _): id
        }
    }

    /// Whether a worker is running the task.
    var isStarted: Bool {
        if case .started = self { return true }
        return false
    }

    /// Whether this is the scheduled, not yet started task with this scheduled event id.
    func isWaiting(_ scheduledEventID: Int64) -> Bool {
        if case .scheduled(scheduledEventID, _, _) = self { return true }
        return false
    }

    var attempt: Int32 {
        switch self {
        case .none: 0
        case .scheduled(_, let attempt, _), .started(_, _, let attempt, _, _): attempt
        }
    }

    // MARK: Transitions (each refuses the event that does not fit)

    mutating func schedule(eventID: Int64, attempt: Int32, at time: Instant) throws(RunChangeError) {
        guard self == .none else { throw refusal("WorkflowTaskScheduled", eventID, "no workflow task outstanding") }
        self = .scheduled(scheduledEventID: eventID, attempt: attempt, scheduledAt: time)
    }

    mutating func start(eventID: Int64, scheduledEventID: Int64, at time: Instant) throws(RunChangeError) {
        guard case .scheduled(scheduledEventID, let attempt, let scheduledAt) = self else {
            throw refusal("WorkflowTaskStarted", eventID, "workflow task \(scheduledEventID) scheduled")
        }
        self = .started(
            scheduledEventID: scheduledEventID, startedEventID: eventID, attempt: attempt, scheduledAt: scheduledAt,
            startedAt: time)
    }

    /// The started task completed, failed or timed out; answers its started event id.
    @discardableResult
    mutating func end(_ name: String, eventID: Int64, scheduledEventID: Int64) throws(RunChangeError) -> Int64 {
        guard case .started(scheduledEventID, let startedID, _, _, _) = self else {
            throw refusal(name, eventID, "workflow task \(scheduledEventID) started")
        }
        self = .none
        return startedID
    }

    private func refusal(_ name: String, _ eventID: Int64, _ needs: String) -> RunChangeError {
        RunChangeError(.invalidTransition, "\(name) (event \(eventID)) needs \(needs), but the workflow task is \(self)")
    }
}
