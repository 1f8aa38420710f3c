package import Foundation
internal import SwiftProtobuf
package import TemporalAPI

package typealias PollActivityTaskResponse = Temporal_Api_Workflowservice_V1_PollActivityTaskQueueResponse

/// How a client names an activity attempt: by task token, or by workflow and activity id (`…ById` RPCs).
package enum ActivityAddress: Sendable {
    case token(Data)
    case id(namespace: String, workflowID: String, runID: String, activityID: String)
}

extension EngineCore {
    // MARK: Scheduling (from a ScheduleActivityTask command)

    mutating func scheduleActivity(
        _ attributes: Temporal_Api_Command_V1_ScheduleActivityTaskCommandAttributes, timeouts: ActivityTimeouts,
        runID: String, completedEventID: Int64
    ) {
        let run = runs[runID]!
        let taskQueue = attributes.taskQueue.name.isEmpty ? run.taskQueue : attributes.taskQueue.name
        let policy = RetryRules.withDefaults(attributes.hasRetryPolicy ? attributes.retryPolicy : nil)
        let scheduledID = record(runID, .activityTaskScheduled) { event in
            event.activityTaskScheduledEventAttributes = .with {
                $0.activityID = attributes.activityID
                $0.activityType = attributes.activityType
                $0.taskQueue = .with { $0.name = taskQueue; $0.kind = .normal }
                if attributes.hasHeader { $0.header = attributes.header }
                if attributes.hasInput { $0.input = attributes.input }
                $0.scheduleToCloseTimeout = timeouts.scheduleToClose.protobuf
                $0.scheduleToStartTimeout = timeouts.scheduleToStart.protobuf
                $0.startToCloseTimeout = timeouts.startToClose.protobuf
                $0.heartbeatTimeout = timeouts.heartbeat.protobuf
                $0.workflowTaskCompletedEventID = completedEventID
                $0.retryPolicy = policy
                if attributes.hasPriority { $0.priority = attributes.priority }
            }
        }
        dispatchActivityAttempt(runID, scheduledID)
    }

    /// Puts the activity's current attempt in its queue (or hands it to a waiting poller); the run's state
    /// then calls for its schedule-to-start entry and its clock hold.
    private mutating func dispatchActivityAttempt(_ runID: String, _ scheduledID: Int64) {
        guard let activity = runs[runID]?.activities[scheduledID] else { return }
        let task = ActivityTaskRef(runID: runID, scheduledEventID: scheduledID, attempt: activity.attempt)
        if applying?.runID == runID {
            applying!.activityOffers.append(task)  // once every command of the completion is applied
        } else {
            offerActivityAttempt(task)
        }
    }

    /// Hands a scheduled attempt to a waiting poller or queues it; an attempt that is no longer waiting
    /// (its run closed, or it was cancelled, before it was offered) is dropped.
    mutating func offerActivityAttempt(_ task: ActivityTaskRef) {
        guard let run = runs[task.runID], run.isOpen, let activity = run.activities[task.scheduledEventID],
            activity.attempt == task.attempt, activity.isWaitingForWorker
        else { return }
        let key = TaskQueueKey(namespace: run.ref.namespace, name: activity.taskQueue)
        if let (poller, identity) = matching.offer(task, to: key) {
            emit(.deliverActivityTask(poller, startActivityAttempt(task, identity: identity)))
        }
    }

    /// Starts an attempt for the worker that completed the workflow task scheduling it (eager execution),
    /// unless the completion's own commands already closed the run or cancelled the activity.
    mutating func startEagerActivity(_ task: ActivityTaskRef, identity: String) -> PollActivityTaskResponse? {
        guard let run = runs[task.runID], run.isOpen, let activity = run.activities[task.scheduledEventID],
            activity.attempt == task.attempt, activity.isWaitingForWorker
        else { return nil }
        return startActivityAttempt(task, identity: identity)
    }

    // MARK: Polling

    package mutating func pollActivityTask(
        namespace: String, taskQueue: String, identity: String, poller: PollerID, wallNow: Instant
    ) throws(EngineError) -> PollActivityTaskResponse? {
        try transition(wallNow) { (_: EngineCore) throws(EngineError) in
            try Self.requireNamespace(namespace)
            guard !taskQueue.isEmpty else { throw .invalidArgument("task_queue.name is not set") }
            let key = TaskQueueKey(namespace: namespace, name: taskQueue)
            return { core in
                core.matching.notePoll(key, .activity, identity: identity, at: core.now)
                let task = core.polling { matching, core in
                    matching.pollActivity(key, poller, identity: identity) { task in
                        guard let activity = core.runs[task.runID]?.activities[task.scheduledEventID] else { return false }
                        return activity.attempt == task.attempt && activity.isWaitingForWorker
                    }
                }
                return task.map { core.startActivityAttempt($0, identity: identity) }
            }
        }
    }

    private mutating func startActivityAttempt(_ task: ActivityTaskRef, identity: String) -> PollActivityTaskResponse {
        note(task.runID, .activityAttemptStarted(scheduledEventID: task.scheduledEventID, identity: identity, at: runNow(task.runID)))
        let activity = runs[task.runID]!.activities[task.scheduledEventID]!
        let run = runs[task.runID]!
        let attributes = activity.scheduled
        return .with {
            $0.taskToken = TaskToken(
                kind: .activityTask, runID: task.runID, scheduledEventID: task.scheduledEventID, attempt: task.attempt
            ).data
            $0.workflowNamespace = run.ref.namespace
            $0.workflowType = .with { $0.name = run.workflowType }
            $0.workflowExecution = .with { $0.workflowID = run.ref.workflowID; $0.runID = run.ref.runID }
            $0.activityType = attributes.activityType
            $0.activityID = activity.activityID
            if attributes.hasHeader { $0.header = attributes.header }
            if attributes.hasInput { $0.input = attributes.input }
            if let details = activity.heartbeatDetails { $0.heartbeatDetails = details }
            $0.scheduledTime = activity.firstScheduledAt.timestamp
            $0.currentAttemptScheduledTime = activity.attemptScheduledAt.timestamp
            $0.startedTime = runNow(task.runID).timestamp
            $0.attempt = task.attempt
            $0.scheduleToCloseTimeout = activity.timeouts.scheduleToClose.protobuf
            $0.startToCloseTimeout = activity.timeouts.startToClose.protobuf
            $0.heartbeatTimeout = activity.timeouts.heartbeat.protobuf
            $0.retryPolicy = activity.retryPolicy
            if attributes.hasPriority { $0.priority = attributes.priority }
        }
    }

    // MARK: Worker responses

    /// The started attempt an address names, or the error Temporal gives when it is gone.
    private func startedActivity(_ address: ActivityAddress) throws(EngineError) -> (runID: String, scheduledEventID: Int64) {
        switch address {
        case .token(let data):
            let token = try TaskToken(data)
            guard token.kind == .activityTask else {
                throw .invalidArgument("task_token names a \(token.kind) task, not an activity task")
            }
            guard let run = runs[token.runID] else {
                throw EngineError(.notFound, "workflow execution not found for run \(token.runID)")
            }
            guard run.isOpen else { throw EngineError(.notFound, "workflow execution already completed") }
            guard let activity = run.activities[token.scheduledEventID], activity.attempt == token.attempt,
                case .started = activity.phase
            else {
                throw EngineError(.notFound, "activity task not found: it already completed, failed, timed out or was retried")
            }
            return (token.runID, token.scheduledEventID)
        case .id(let namespace, let workflowID, let runID, let activityID):
            guard !activityID.isEmpty else { throw .invalidArgument("activity_id is not set") }
            let run = try resolveRun(
                namespace: namespace, .with { $0.workflowID = workflowID; $0.runID = runID }, field: "workflow")
            guard run.isOpen else { throw EngineError(.notFound, "workflow execution already completed") }
            guard let activity = run.activities.values.first(where: { $0.activityID == activityID }),
                case .started = activity.phase
            else {
                throw EngineError(.notFound, "activity \(activityID) is not running in workflow \(workflowID)")
            }
            return (run.ref.runID, activity.scheduledEventID)
        }
    }

    package mutating func completeActivity(_ address: ActivityAddress, result: Payloads?, identity: String, wallNow: Instant)
        throws(EngineError)
    {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let (runID, scheduledID) = try core.startedActivity(address)
            return { core in
                let startedID = core.appendActivityStarted(runID, scheduledID)
                core.record(runID, .activityTaskCompleted) { event in
                    event.activityTaskCompletedEventAttributes = .with {
                        if let result { $0.result = result }
                        $0.scheduledEventID = scheduledID
                        $0.startedEventID = startedID
                        $0.identity = identity
                    }
                }
                core.finishActivity(runID, scheduledID)
            }
        }
    }

    package mutating func failActivity(
        _ address: ActivityAddress, failure: Failure, lastHeartbeatDetails: Payloads?, identity: String, wallNow: Instant
    ) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let (runID, scheduledID) = try core.startedActivity(address)
            return { core in
                if let lastHeartbeatDetails {
                    core.note(runID, .activityHeartbeat(scheduledEventID: scheduledID, details: lastHeartbeatDetails, at: nil))
                }
                core.endAttempt(runID, scheduledID, failure: failure, identity: identity, retryable: true)
            }
        }
    }

    package mutating func cancelActivity(_ address: ActivityAddress, details: Payloads?, identity: String, wallNow: Instant)
        throws(EngineError)
    {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let (runID, scheduledID) = try core.startedActivity(address)
            return { core in
                let startedID = core.appendActivityStarted(runID, scheduledID)
                let requestedID = core.runs[runID]!.activities[scheduledID]!.cancelRequestedEventID
                core.record(runID, .activityTaskCanceled) { event in
                    event.activityTaskCanceledEventAttributes = .with {
                        if let details { $0.details = details }
                        $0.latestCancelRequestedEventID = requestedID
                        $0.scheduledEventID = scheduledID
                        $0.startedEventID = startedID
                        $0.identity = identity
                    }
                }
                core.finishActivity(runID, scheduledID)
            }
        }
    }

    /// What a heartbeat's answer tells the worker.
    package struct HeartbeatAnswer: Sendable, Equatable {
        package var cancelRequested: Bool
        package var paused: Bool
    }

    /// Records a heartbeat and answers whether cancellation was requested or the activity is paused.
    package mutating func heartbeatActivity(_ address: ActivityAddress, details: Payloads?, wallNow: Instant)
        throws(EngineError) -> HeartbeatAnswer
    {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let (runID, scheduledID) = try core.startedActivity(address)
            return { core in
                // The heartbeat entry moves with the last heartbeat (see `Refresher`).
                core.note(runID, .activityHeartbeat(scheduledEventID: scheduledID, details: details, at: core.runNow(runID)))
                let activity = core.runs[runID]!.activities[scheduledID]!
                return HeartbeatAnswer(cancelRequested: activity.cancelRequested, paused: activity.isPaused)
            }
        }
    }

    // MARK: Timeouts and retries

    mutating func fireActivityTimeout(_ runID: String, scheduledEventID: Int64, attempt: Int32, _ type: ActivityTimeoutType) {
        guard runs[runID]?.isOpen == true, let activity = runs[runID]!.activities[scheduledEventID] else { return }
        switch type {
        case .scheduleToClose: break  // spans every attempt
        case .scheduleToStart:
            guard activity.attempt == attempt, activity.phase == .scheduled else { return }
        case .startToClose:
            guard activity.attempt == attempt, case .started = activity.phase else { return }
        case .heartbeat:
            guard activity.attempt == attempt, case .started = activity.phase else { return }
            if let last = activity.lastHeartbeatAt, runNow(runID) < last + activity.timeouts.heartbeat { return }
        default: return
        }
        let failure = Failure.with {
            $0.message = "activity \(TimetableEntry.timeoutName(type)) timeout"
            $0.source = "Server"
            $0.timeoutFailureInfo = .with {
                $0.timeoutType = type
                if let details = activity.heartbeatDetails { $0.lastHeartbeatDetails = details }
            }
        }
        // Only start-to-close and heartbeat timeouts are retried, as in Temporal.
        let retryable = type == .startToClose || type == .heartbeat
        endAttempt(runID, scheduledEventID, failure: failure, identity: "", retryable: retryable, timedOut: true)
    }

    /// Ends the current attempt with a failure: retries it if the policy allows, else records the final
    /// failure or timeout for the workflow.
    private mutating func endAttempt(
        _ runID: String, _ scheduledID: Int64, failure: Failure, identity: String, retryable: Bool, timedOut: Bool = false
    ) {
        let activity = runs[runID]!.activities[scheduledID]!
        let deadline = activity.firstScheduledAt + activity.timeouts.scheduleToClose
        let decision: RetryRules.Decision =
            retryable
            ? RetryRules.decide(policy: activity.retryPolicy, attempt: activity.attempt, failure: failure, now: runNow(runID),
                                deadline: deadline)
            : .stop(timedOut ? .timeout : .nonRetryableFailure)
        if activity.isPaused, !activity.cancelRequested, retryable {
            switch decision {
            case .retry, .stop(.maximumAttemptsReached):
                // Paused: the next attempt waits for an unpause, whatever the attempt count.
                note(runID, .activityAttemptFailedWhilePaused(scheduledEventID: scheduledID, failure: failure, at: runNow(runID)))
                return
            default: break
            }
        }
        if case .retry(let delay) = decision, !activity.cancelRequested {
            // The wait for a retry does not hold the clock ("allow time skipping when waiting for retry").
            note(runID, .activityAttemptFailed(scheduledEventID: scheduledID, failure: failure, retryAt: runNow(runID) + delay))
            return
        }
        let retryState: Temporal_Api_Enums_V1_RetryState =
            if case .stop(let state) = decision { state } else { .cancelRequested }
        let startedID = appendActivityStarted(runID, scheduledID)
        if timedOut {
            record(runID, .activityTaskTimedOut) { event in
                event.activityTaskTimedOutEventAttributes = .with {
                    var final = failure
                    if let last = activity.lastFailure { final.cause = last }
                    $0.failure = final
                    $0.scheduledEventID = scheduledID
                    $0.startedEventID = startedID
                    $0.retryState = retryState
                }
            }
        } else {
            record(runID, .activityTaskFailed) { event in
                event.activityTaskFailedEventAttributes = .with {
                    $0.failure = failure
                    $0.scheduledEventID = scheduledID
                    $0.startedEventID = startedID
                    $0.identity = identity
                    $0.retryState = retryState
                }
            }
        }
        finishActivity(runID, scheduledID)
    }

    mutating func fireActivityRetry(_ runID: String, scheduledEventID: Int64, attempt: Int32) {
        guard runs[runID]?.isOpen == true, let activity = runs[runID]!.activities[scheduledEventID],
            activity.attempt == attempt, activity.phase == .backingOff
        else { return }
        note(runID, .activityAttemptScheduled(scheduledEventID: scheduledEventID, at: runNow(runID)))
        dispatchActivityAttempt(runID, scheduledEventID)
    }

    // MARK: Cancellation (from a RequestCancelActivityTask command)

    mutating func requestCancelActivity(_ scheduledID: Int64, runID: String, completedEventID: Int64) {
        guard let activity = runs[runID]!.activities[scheduledID] else { return }
        let requestedID = record(runID, .activityTaskCancelRequested) { event in
            event.activityTaskCancelRequestedEventAttributes = .with {
                $0.scheduledEventID = scheduledID
                $0.workflowTaskCompletedEventID = completedEventID
            }
        }
        if case .started = activity.phase { return }  // the worker learns it from its next heartbeat
        // Not running: cancelled at once.
        record(runID, .activityTaskCanceled) { event in
            event.activityTaskCanceledEventAttributes = .with {
                $0.latestCancelRequestedEventID = requestedID
                $0.scheduledEventID = scheduledID
            }
        }
        finishActivity(runID, scheduledID)
    }

    // MARK: Helpers

    /// Temporal writes an activity's started event only when the attempt ends, carrying its attempt number.
    private mutating func appendActivityStarted(_ runID: String, _ scheduledID: Int64) -> Int64 {
        let activity = runs[runID]!.activities[scheduledID]!
        guard case .started(_, let identity) = activity.phase else { return 0 }
        return record(runID, .activityTaskStarted) { event in
            event.activityTaskStartedEventAttributes = .with {
                $0.scheduledEventID = scheduledID
                $0.identity = identity
                $0.requestID = UUIDs.random()
                $0.attempt = activity.attempt
                if let last = activity.lastFailure { $0.lastFailure = last }
            }
        }
    }

    /// The activity's closing event was recorded (its entries and hold went with it, see `Refresher`):
    /// the workflow gets a task to see the outcome.
    mutating func finishActivity(_ runID: String, _ scheduledID: Int64) {
        workflowNeedsTask(runID)
    }
}
