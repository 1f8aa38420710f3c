internal import SwiftProtobuf
package import TemporalAPI

package typealias PauseActivityRequest = Temporal_Api_Workflowservice_V1_PauseActivityRequest
package typealias UnpauseActivityRequest = Temporal_Api_Workflowservice_V1_UnpauseActivityRequest

/// `PauseActivity` and `UnpauseActivity`: an operator stops an activity's attempts without failing it.
/// Nothing is written to history (Temporal keeps the pause in mutable state); the running attempt is not
/// interrupted, it hears of the pause from its next heartbeat's answer.
extension EngineCore {
    package mutating func pauseActivity(_ request: PauseActivityRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let (run, activities) = try core.pendingActivities(
                namespace: request.namespace, request.execution, selection: request.activity.map(Selection.init))
            let pause = ActivityPause(at: core.runNow(run.ref.runID), identity: request.identity, reason: request.reason,
                                      requestID: request.requestID)
            for activity in activities {
                // A repeat of the same request (same request id, or none) is a no-op, as in Temporal.
                if let current = activity.pause, current.requestID != request.requestID {
                    throw EngineError(.failedPrecondition, "activity \(activity.activityID) is already paused")
                }
            }
            return { core in
                for activity in activities where !activity.isPaused {
                    core.note(run.ref.runID, .activityPaused(scheduledEventID: activity.scheduledEventID, pause))
                }
            }
        }
    }

    package mutating func unpauseActivity(_ request: UnpauseActivityRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let selection: Selection? =
                switch request.activity {
                case .id(let id)?: .id(id)
                case .type(let type)?: .type(type)
                case .unpauseAll(true)?: .all
                case .unpauseAll(false)?, nil: nil
                }
            if request.hasJitter, Duration(protobuf: request.jitter) < .zero {
                throw .invalidArgument("jitter must not be negative")
            }
            let (run, activities) = try core.pendingActivities(namespace: request.namespace, request.execution, selection: selection)
            return { core in
                // Activities that are not paused are left as they are (Temporal skips them silently).
                for activity in activities where activity.isPaused {
                    let id = activity.scheduledEventID
                    core.note(run.ref.runID, .activityUnpaused(
                        scheduledEventID: id, resetAttempts: request.resetAttempts, resetHeartbeat: request.resetHeartbeat,
                        at: core.runNow(run.ref.runID)))
                    // A waiting attempt goes to its queue now (jitter is not applied: the attempt is offered at
                    // once, which a jitter of zero would also do).
                    let current = core.runs[run.ref.runID]!.activities[id]!
                    if current.isWaitingForWorker {
                        core.offerActivityAttempt(ActivityTaskRef(runID: run.ref.runID, scheduledEventID: id, attempt: current.attempt))
                    }
                }
            }
        }
    }

    /// Which pending activities a pause or unpause names.
    enum Selection {
        case id(String), type(String), all

        init(_ activity: PauseActivityRequest.OneOf_Activity) {
            switch activity {
            case .id(let id): self = .id(id)
            case .type(let type): self = .type(type)
            }
        }
    }

    /// The open run and its pending activities a request names, with Temporal's errors.
    private func pendingActivities(
        namespace: String, _ execution: Temporal_Api_Common_V1_WorkflowExecution, selection: Selection?
    ) throws(EngineError) -> (WorkflowRun, [ActivityState]) {
        guard !execution.workflowID.isEmpty else { throw .invalidArgument("WorkflowId is not set on request.") }
        guard let selection else { throw .invalidArgument("Either Activity.Id or Activity.Type should be set on request.") }
        let run = try resolveRun(namespace: namespace, execution)
        guard run.isOpen else { throw EngineError(.notFound, "workflow execution already completed") }
        let activities = run.activities.values.sorted { $0.scheduledEventID < $1.scheduledEventID }.filter { activity in
            switch selection {
            case .id(let id): activity.activityID == id
            case .type(let type): activity.activityType == type
            case .all: true
            }
        }
        guard !activities.isEmpty else {
            throw EngineError(.notFound, "Can't find pending activity with such ID. Invalid activityID or activity already completed")
        }
        return (run, activities)
    }
}
