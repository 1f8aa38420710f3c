package import TemporalAPI

/// A child workflow from its parent's point of view, between StartChildWorkflowExecutionInitiated and the
/// event that ends it (StartChildWorkflowExecutionFailed or the child's close):
/// `initiated` —ChildWorkflowExecutionStarted→ `started(run)` —ChildWorkflowExecution{Completed, Failed,
/// Canceled, TimedOut, Terminated}→ gone. A parent keeps its children by initiated event id.
package struct ChildState: Sendable, Equatable {
    package var namespace: String
    package var workflowID: String
    package var workflowType: String
    package var parentClosePolicy: Temporal_Api_Enums_V1_ParentClosePolicy
    /// The child's first run, once it started (the chain the parent follows begins there).
    package var startedRunID: String?
    package var startedEventID: Int64?
}

/// A signal or cancel request sent to another workflow, between its initiated event and the event that
/// says whether it arrived.
package enum ExternalRequest: Sendable, Equatable {
    case signal
    case cancel
}

/// The parent of a child workflow run, from the child's started event: whom it reports its close to.
package struct ParentLink: Sendable, Equatable {
    package var namespace: String
    package var workflowID: String
    package var runID: String
    package var initiatedEventID: Int64
}

extension [Int64: ChildState] {
    mutating func startChild(initiatedEventID: Int64, runID: String, eventID: Int64) throws(RunChangeError) {
        guard self[initiatedEventID]?.startedRunID == nil, self[initiatedEventID] != nil else {
            throw RunChangeError(
                .unknownEntity, "ChildWorkflowExecutionStarted (event \(eventID)) names child \(initiatedEventID), which is not initiated and unstarted")
        }
        self[initiatedEventID]!.startedRunID = runID
        self[initiatedEventID]!.startedEventID = eventID
    }

    /// The child failed to start, or closed: the parent is done with it.
    mutating func endChild(initiatedEventID: Int64, _ name: String, eventID: Int64, mustHaveStarted: Bool) throws(RunChangeError) {
        guard let child = self[initiatedEventID], !mustHaveStarted || child.startedRunID != nil,
            mustHaveStarted || child.startedRunID == nil
        else {
            throw RunChangeError(.unknownEntity, "\(name) (event \(eventID)) names child \(initiatedEventID), which is not pending in that state")
        }
        self[initiatedEventID] = nil
    }
}

extension [Int64: ExternalRequest] {
    mutating func resolve(_ initiatedEventID: Int64, _ kind: ExternalRequest, _ name: String, eventID: Int64) throws(RunChangeError) {
        guard self[initiatedEventID] == kind else {
            throw RunChangeError(.unknownEntity, "\(name) (event \(eventID)) names request \(initiatedEventID), which is not pending")
        }
        self[initiatedEventID] = nil
    }
}
