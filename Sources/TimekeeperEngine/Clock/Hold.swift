/// Something in flight that keeps the clock from jumping.
package enum Hold: Hashable, Sendable, CustomStringConvertible {
    /// A workflow task is scheduled or running for this run.
    case workflowTask(runID: String)
    /// An activity attempt is scheduled or running (not while it waits for a retry).
    case activity(runID: String, scheduledEventID: Int64)
    /// A consistent query waits for the run's next workflow task.
    case query(QueryID)

    package var description: String {
        switch self {
        case .workflowTask(let runID): "workflow task of run \(runID)"
        case .activity(let runID, let scheduled): "activity (scheduled event \(scheduled)) of run \(runID)"
        case .query(let id): "query \(id.rawValue)"
        }
    }
}

/// Identifies a query from a client until it is answered.
package struct QueryID: Hashable, Sendable {
    package var rawValue: Int64
}
