/// Where an update that reached the run's history stands. Updates a worker has not accepted yet are not
/// history (they live in `UpdateBook`); once accepted, the events are the truth:
/// WorkflowExecutionUpdateAccepted → `accepted` —WorkflowExecutionUpdateCompleted→ `completed`.
/// A completed update stays, so that its id is never reused within the run and its outcome can be read
/// again (from the completed event).
package enum UpdateState: Sendable, Equatable {
    case accepted(acceptedEventID: Int64)
    case completed(acceptedEventID: Int64, completedEventID: Int64)

    package var isCompleted: Bool {
        if case .completed = self { return true }
        return false
    }
}

extension [String: UpdateState] {
    mutating func accept(_ updateID: String, eventID: Int64) throws(RunChangeError) {
        guard self[updateID] == nil else {
            throw RunChangeError(
                .invalidTransition, "WorkflowExecutionUpdateAccepted (event \(eventID)) names update \(updateID), which was accepted before")
        }
        self[updateID] = .accepted(acceptedEventID: eventID)
    }

    mutating func complete(_ updateID: String, eventID: Int64) throws(RunChangeError) {
        guard case .accepted(let acceptedID)? = self[updateID] else {
            throw RunChangeError(
                .unknownEntity, "WorkflowExecutionUpdateCompleted (event \(eventID)) names update \(updateID), which is not accepted and open")
        }
        self[updateID] = .completed(acceptedEventID: acceptedID, completedEventID: eventID)
    }

    /// Accepted updates whose handlers have not finished.
    var inProgress: Int { values.count { !$0.isCompleted } }
}
