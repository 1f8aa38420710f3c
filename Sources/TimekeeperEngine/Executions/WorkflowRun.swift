internal import SwiftProtobuf
package import TemporalAPI

package typealias HistoryEvent = Temporal_Api_History_V1_HistoryEvent
package typealias ExecutionStatus = Temporal_Api_Enums_V1_WorkflowExecutionStatus

/// The mutable state of one workflow run: a summary of its changes (`RunChange`), built by one reducer,
/// `apply(_:)`, on the live path and when a run is rebuilt from what a store kept alike.
///
/// The history itself is not in here (the core keeps it beside the runs, see `EngineCore.histories`):
/// copies of a run are made freely, and a long history must not be copied with them.
package struct WorkflowRun: Sendable, Equatable {
    package typealias WorkflowTaskState = TimekeeperEngine.WorkflowTaskState

    package let ref: RunRef
    package let workflowType: String
    package let taskQueue: String
    package let timeouts: WorkflowTimeouts
    package let startedAt: Instant
    /// The first workflow task's delay (a retry's backoff or a start delay).
    package let backoff: Duration
    /// Workflow retry: this run's attempt, the policy and the first run of the chain.
    package let attempt: Int32
    package let retryPolicy: RetryPolicy?
    package let firstRunID: String
    /// The parent this run reports its close to (a child workflow's runs), and the root of its tree.
    package let parent: ParentLink?
    package let root: Temporal_Api_Common_V1_WorkflowExecution
    /// The start request this run was made from (nil when rebuilt from events alone).
    package private(set) var startRequest: StartWorkflowRequest?
    package var startRequestID: String { startRequest?.requestID ?? "" }

    package private(set) var status: ExecutionStatus = .running
    package private(set) var closedAt: Instant?
    package private(set) var lastEventID: Int64 = 0
    package private(set) var workflowTask: WorkflowTaskState = .none
    /// The scheduled (and started) events of a transient workflow task, not yet in history: the worker
    /// sees them after the history, and they are written as they are if the attempt completes.
    package private(set) var unwrittenWorkflowTaskEvents: [HistoryEvent] = []
    package var hasTransientWorkflowTask: Bool { !unwrittenWorkflowTaskEvents.isEmpty }
    /// Whether the first workflow task was scheduled yet (until then a backoff may be pending).
    package private(set) var firstTaskScheduled = false
    /// The started event id of the last completed workflow task (`previous_started_event_id`).
    package private(set) var lastCompletedWorkflowTaskStartedEventID: Int64 = 0
    /// Events the workflow must see arrived while no workflow task was scheduled to carry them.
    package private(set) var hasUnhandledEvents = false
    /// Events that came while a workflow task was started, without ids: their effects on this run hold,
    /// and they are written when the task ends (`RunNote.eventBuffered`).
    package private(set) var bufferedEvents: [HistoryEvent] = []
    /// The buffered events being written, in their writing order: the next events must be these.
    private(set) var writingBuffered: [HistoryEvent] = []
    /// The worker-specific queue of the worker that has this run cached (from the last completion's
    /// `sticky_attributes`), and how long a task may wait there before it goes to the normal queue.
    package private(set) var stickyQueue: String?
    package private(set) var stickyScheduleToStart: Duration = .seconds(5)
    package private(set) var timers: [String: TimerState] = [:]
    /// Open activities by scheduled event id.
    package private(set) var activities: [Int64: ActivityState] = [:]
    package private(set) var cancelRequested = false
    /// Updates the worker accepted, by update id (completed ones stay: an id is used once per run).
    package private(set) var updates: [String: UpdateState] = [:]
    /// Child workflows by initiated event id. Kept after the run closes, for its parent close policy.
    package private(set) var children: [Int64: ChildState] = [:]
    /// Signals and cancel requests to other workflows not yet answered, by initiated event id.
    package private(set) var externalRequests: [Int64: ExternalRequest] = [:]
    /// The run's own clock, if time skipping (V2) was ever asked for it.
    package private(set) var timeSkipping: TimeSkippingState?
    /// Whether the start set a run or execution timeout (otherwise the run has no deadline of its own to
    /// skip to, only the normalised ten years).
    package let hasRequestedDeadline: Bool

    /// A run from its WorkflowExecutionStarted event.
    init(ref: RunRef, started event: HistoryEvent) {
        let attributes = event.workflowExecutionStartedEventAttributes
        self.ref = ref
        workflowType = attributes.workflowType.name
        taskQueue = attributes.taskQueue.name
        timeouts = WorkflowTimeouts(
            execution: Duration(protobuf: attributes.workflowExecutionTimeout),
            run: Duration(protobuf: attributes.workflowRunTimeout),
            workflowTask: Duration(protobuf: attributes.workflowTaskTimeout))
        startedAt = Instant(event.eventTime)
        backoff = Duration(protobuf: attributes.firstWorkflowTaskBackoff)
        attempt = max(1, attributes.attempt)
        retryPolicy = attributes.hasRetryPolicy ? attributes.retryPolicy : nil
        firstRunID = attributes.firstExecutionRunID.isEmpty ? ref.runID : attributes.firstExecutionRunID
        parent = attributes.hasParentWorkflowExecution
            ? ParentLink(
                namespace: attributes.parentWorkflowNamespace, workflowID: attributes.parentWorkflowExecution.workflowID,
                runID: attributes.parentWorkflowExecution.runID, initiatedEventID: attributes.parentInitiatedEventID)
            : nil
        root = attributes.hasRootWorkflowExecution
            ? attributes.rootWorkflowExecution
            : .with { $0.workflowID = ref.workflowID; $0.runID = ref.runID }
        lastEventID = event.eventID
        hasRequestedDeadline = attributes.hasWorkflowRunTimeout || attributes.hasWorkflowExecutionTimeout
        timeSkipping = TimeSkippingState(started: attributes, at: startedAt)
    }

    package var isOpen: Bool { status == .running }

    /// How far the run's clock is ahead of the engine's (time skipping V2).
    package var skippedOffset: Duration { timeSkipping?.offset ?? .zero }

    // MARK: The reducer

    /// Applies one change; a change that does not fit (an event out of place) is refused, the run unchanged.
    package mutating func apply(_ change: RunChange) throws(RunChangeError) {
        switch change {
        case .event(let event): try apply(event)
        case .note(let note): try apply(note)
        }
    }

    private mutating func apply(_ event: HistoryEvent) throws(RunChangeError) {
        guard event.eventID == lastEventID + 1 else {
            throw RunChangeError(.invalidTransition, "event \(event.eventID) follows event \(lastEventID)")
        }
        let id = event.eventID
        if let next = writingBuffered.first {
            guard next.eventType == event.eventType else {
                throw RunChangeError(.invalidTransition, "\(event.eventType) (event \(id)) while buffered \(next.eventType) is being written")
            }
            // Its effects held when it was buffered; only the id it now has is new.
            if case .childWorkflowExecutionStartedEventAttributes(let attributes)? = event.attributes {
                children[attributes.initiatedEventID]?.startedEventID = id
            }
            writingBuffered.removeFirst()
            lastEventID = id
            return
        }
        if let unwritten = unwrittenWorkflowTaskEvents.first, !Self.closeEventTypes.contains(event.eventType) {
            // Only the transient task's own events may come next, exactly as the worker saw them.
            guard unwritten.eventID == id, unwritten.eventType == event.eventType else {
                throw RunChangeError(
                    .invalidTransition,
                    "\(event.eventType) (event \(id)) while the transient workflow task's \(unwritten.eventType) (event \(unwritten.eventID)) is unwritten")
            }
            unwrittenWorkflowTaskEvents.removeFirst()
            lastEventID = id
            return
        }
        try applyEffects(of: event, id: id)
        lastEventID = id  // each case of `applyEffects` refuses before it changes anything
    }

    /// What an event changes in the run (`id` is 0 for a buffered event, which has none yet).
    private mutating func applyEffects(of event: HistoryEvent, id: Int64) throws(RunChangeError) {
        let time = Instant(event.eventTime)
        switch event.attributes {
        case .workflowTaskScheduledEventAttributes(let attributes)?:
            try workflowTask.schedule(eventID: id, attempt: attributes.attempt, at: time)
            firstTaskScheduled = true
            hasUnhandledEvents = false
        case .workflowTaskStartedEventAttributes(let attributes)?:
            try workflowTask.start(eventID: id, scheduledEventID: attributes.scheduledEventID, at: time)
        case .workflowTaskCompletedEventAttributes(let attributes)?:
            lastCompletedWorkflowTaskStartedEventID = try workflowTask.end(
                "WorkflowTaskCompleted", eventID: id, scheduledEventID: attributes.scheduledEventID)
        case .workflowTaskFailedEventAttributes(let attributes)?:
            try workflowTask.end("WorkflowTaskFailed", eventID: id, scheduledEventID: attributes.scheduledEventID)
        case .workflowTaskTimedOutEventAttributes(let attributes)?:
            try workflowTask.end("WorkflowTaskTimedOut", eventID: id, scheduledEventID: attributes.scheduledEventID)
        case .timerStartedEventAttributes(let attributes)?:
            try timers.startTimer(
                attributes.timerID, eventID: id, fireAt: time + Duration(protobuf: attributes.startToFireTimeout))
        case .timerFiredEventAttributes(let attributes)?:
            try timers.endTimer(attributes.timerID, startedEventID: attributes.startedEventID, event: "TimerFired", eventID: id)
            noteInput()
        case .timerCanceledEventAttributes(let attributes)?:
            try timers.endTimer(attributes.timerID, startedEventID: attributes.startedEventID, event: "TimerCanceled", eventID: id)
        case .activityTaskScheduledEventAttributes(let attributes)?:
            activities[id] = ActivityState(scheduledEventID: id, attributes, at: time)
        case .activityTaskStartedEventAttributes(let attributes)?:
            _ = try activity(attributes.scheduledEventID, "ActivityTaskStarted", id)
        case .activityTaskCancelRequestedEventAttributes(let attributes)?:
            _ = try activity(attributes.scheduledEventID, "ActivityTaskCancelRequested", id)
            activities[attributes.scheduledEventID]!.requestCancel(eventID: id)
        case .activityTaskCompletedEventAttributes(let attributes)?:
            try closeActivity(attributes.scheduledEventID, "ActivityTaskCompleted", id)
        case .activityTaskFailedEventAttributes(let attributes)?:
            try closeActivity(attributes.scheduledEventID, "ActivityTaskFailed", id)
        case .activityTaskTimedOutEventAttributes(let attributes)?:
            try closeActivity(attributes.scheduledEventID, "ActivityTaskTimedOut", id)
        case .activityTaskCanceledEventAttributes(let attributes)?:
            try closeActivity(attributes.scheduledEventID, "ActivityTaskCanceled", id)
        case .workflowExecutionSignaledEventAttributes?:
            noteInput()
        case .workflowExecutionCancelRequestedEventAttributes?:
            cancelRequested = true
            noteInput()
        case .workflowExecutionUpdateAcceptedEventAttributes(let attributes)?:
            try updates.accept(attributes.protocolInstanceID, eventID: id)
        case .workflowExecutionUpdateCompletedEventAttributes(let attributes)?:
            try updates.complete(attributes.meta.updateID, eventID: id)
        case .startChildWorkflowExecutionInitiatedEventAttributes(let attributes)?:
            children[id] = ChildState(
                namespace: attributes.namespace, workflowID: attributes.workflowID, workflowType: attributes.workflowType.name,
                parentClosePolicy: attributes.parentClosePolicy)
        case .childWorkflowExecutionStartedEventAttributes(let attributes)?:
            try children.startChild(initiatedEventID: attributes.initiatedEventID, runID: attributes.workflowExecution.runID, eventID: id)
            noteInput()
        case .startChildWorkflowExecutionFailedEventAttributes(let attributes)?:
            try children.endChild(initiatedEventID: attributes.initiatedEventID, "StartChildWorkflowExecutionFailed", eventID: id, mustHaveStarted: false)
            noteInput()
        case .childWorkflowExecutionCompletedEventAttributes(let attributes)?:
            try childClosed(attributes.initiatedEventID, "ChildWorkflowExecutionCompleted", id)
        case .childWorkflowExecutionFailedEventAttributes(let attributes)?:
            try childClosed(attributes.initiatedEventID, "ChildWorkflowExecutionFailed", id)
        case .childWorkflowExecutionCanceledEventAttributes(let attributes)?:
            try childClosed(attributes.initiatedEventID, "ChildWorkflowExecutionCanceled", id)
        case .childWorkflowExecutionTimedOutEventAttributes(let attributes)?:
            try childClosed(attributes.initiatedEventID, "ChildWorkflowExecutionTimedOut", id)
        case .childWorkflowExecutionTerminatedEventAttributes(let attributes)?:
            try childClosed(attributes.initiatedEventID, "ChildWorkflowExecutionTerminated", id)
        case .signalExternalWorkflowExecutionInitiatedEventAttributes?:
            externalRequests[id] = .signal
        case .externalWorkflowExecutionSignaledEventAttributes(let attributes)?:
            try externalRequests.resolve(attributes.initiatedEventID, .signal, "ExternalWorkflowExecutionSignaled", eventID: id)
            noteInput()
        case .signalExternalWorkflowExecutionFailedEventAttributes(let attributes)?:
            try externalRequests.resolve(attributes.initiatedEventID, .signal, "SignalExternalWorkflowExecutionFailed", eventID: id)
            noteInput()
        case .requestCancelExternalWorkflowExecutionInitiatedEventAttributes?:
            externalRequests[id] = .cancel
        case .externalWorkflowExecutionCancelRequestedEventAttributes(let attributes)?:
            try externalRequests.resolve(attributes.initiatedEventID, .cancel, "ExternalWorkflowExecutionCancelRequested", eventID: id)
            noteInput()
        case .requestCancelExternalWorkflowExecutionFailedEventAttributes(let attributes)?:
            try externalRequests.resolve(attributes.initiatedEventID, .cancel, "RequestCancelExternalWorkflowExecutionFailed", eventID: id)
            noteInput()
        case .workflowExecutionCompletedEventAttributes?: close(.completed, at: time)
        case .workflowExecutionFailedEventAttributes?: close(.failed, at: time)
        case .workflowExecutionTimedOutEventAttributes?: close(.timedOut, at: time)
        case .workflowExecutionCanceledEventAttributes?: close(.canceled, at: time)
        case .workflowExecutionTerminatedEventAttributes?: close(.terminated, at: time)
        case .workflowExecutionContinuedAsNewEventAttributes?: close(.continuedAsNew, at: time)
        case .workflowExecutionTimeSkippingTransitionedEventAttributes(let attributes)?:
            guard timeSkipping != nil else {
                throw RunChangeError(.invalidTransition, "a time-skipping transition (event \(id)) in a run without time skipping")
            }
            timeSkipping!.transition(attributes, at: time)
        case .workflowExecutionOptionsUpdatedEventAttributes(let attributes)?:
            if attributes.timeSkippingConfigUpdated || attributes.hasTimeSkippingConfig {
                if timeSkipping == nil {
                    timeSkipping = TimeSkippingState(config: attributes.timeSkippingConfig, at: time)
                } else {
                    timeSkipping!.replace(attributes.timeSkippingConfig, at: time)
                }
            }
        case .workflowExecutionStartedEventAttributes?:
            throw RunChangeError(.invalidTransition, "WorkflowExecutionStarted (event \(id)) in a run that has started")
        default:
            break  // markers, search attribute upserts, property changes: history only
        }
    }

    private mutating func apply(_ note: RunNote) throws(RunChangeError) {
        switch note {
        case .created(let request): startRequest = request
        case .stickyQueueSet(let name, let scheduleToStart):
            stickyQueue = name
            stickyScheduleToStart = scheduleToStart
        case .stickyQueueCleared: stickyQueue = nil
        case .activityAttemptStarted(let scheduled, let identity, let time):
            _ = try activity(scheduled, "an attempt's start", 0)
            try activities[scheduled]!.startAttempt(identity: identity, at: time)
        case .activityHeartbeat(let scheduled, let details, let time):
            _ = try activity(scheduled, "a heartbeat", 0)
            try activities[scheduled]!.heartbeat(details: details, at: time)
        case .activityAttemptFailed(let scheduled, let failure, let retryAt):
            _ = try activity(scheduled, "an attempt's failure", 0)
            try activities[scheduled]!.failAttempt(failure, retryAt: retryAt)
        case .activityAttemptScheduled(let scheduled, let time):
            _ = try activity(scheduled, "a retry", 0)
            try activities[scheduled]!.scheduleAttempt(at: time)
        case .activityPaused(let scheduled, let pause):
            _ = try activity(scheduled, "a pause", 0)
            try activities[scheduled]!.pause(pause)
        case .activityUnpaused(let scheduled, let resetAttempts, let resetHeartbeat, let time):
            _ = try activity(scheduled, "an unpause", 0)
            try activities[scheduled]!.unpause(resetAttempts: resetAttempts, resetHeartbeat: resetHeartbeat, at: time)
        case .activityAttemptFailedWhilePaused(let scheduled, let failure, let time):
            _ = try activity(scheduled, "a paused attempt's failure", 0)
            try activities[scheduled]!.failAttemptWhilePaused(failure, at: time)
        case .transientWorkflowTaskScheduled(let event):
            guard unwrittenWorkflowTaskEvents.isEmpty, event.eventID == lastEventID + 1 else {
                throw RunChangeError(.invalidTransition, "a transient workflow task \(event.eventID) after event \(lastEventID)")
            }
            try workflowTask.schedule(
                eventID: event.eventID, attempt: event.workflowTaskScheduledEventAttributes.attempt, at: Instant(event.eventTime))
            firstTaskScheduled = true
            hasUnhandledEvents = false
            unwrittenWorkflowTaskEvents = [event]
        case .transientWorkflowTaskStarted(let event):
            guard unwrittenWorkflowTaskEvents.count == 1 else {
                throw RunChangeError(.invalidTransition, "a transient workflow task's start, but none is scheduled and waiting")
            }
            try workflowTask.start(
                eventID: event.eventID, scheduledEventID: event.workflowTaskStartedEventAttributes.scheduledEventID,
                at: Instant(event.eventTime))
            unwrittenWorkflowTaskEvents.append(event)
        case .transientWorkflowTaskEnded:
            guard unwrittenWorkflowTaskEvents.count == 2 else {
                throw RunChangeError(.invalidTransition, "a transient workflow task's end, but none is started")
            }
            try workflowTask.end(
                "a transient workflow task's end", eventID: 0, scheduledEventID: unwrittenWorkflowTaskEvents[0].eventID)
            unwrittenWorkflowTaskEvents = []
        case .eventBuffered(let event):
            guard workflowTask.isStarted, Self.isBuffered(event.eventType) else {
                throw RunChangeError(.invalidTransition, "\(event.eventType) buffered, but no workflow task is started or it is never buffered")
            }
            try applyEffects(of: event, id: 0)
            bufferedEvents.append(event)
        case .bufferedEventsWritten:
            guard !workflowTask.isStarted, !bufferedEvents.isEmpty, writingBuffered.isEmpty else {
                throw RunChangeError(.invalidTransition, "buffered events written while a workflow task is started, or with none buffered")
            }
            writingBuffered = Self.writingOrder(bufferedEvents)
            bufferedEvents = []
        }
    }

    /// Whether an event that comes while a workflow task is started waits for the task to end (Temporal's
    /// buffered events): everything but the run's own start and close, workflow task events, the events a
    /// completion's commands and messages write, and search attribute and property changes.
    static func isBuffered(_ type: Temporal_Api_Enums_V1_EventType) -> Bool {
        if closeEventTypes.contains(type) { return false }
        switch type {
        case .workflowExecutionStarted,
            .workflowTaskScheduled, .workflowTaskStarted, .workflowTaskCompleted, .workflowTaskFailed, .workflowTaskTimedOut,
            .activityTaskScheduled, .activityTaskCancelRequested, .timerStarted, .timerCanceled, .markerRecorded,
            .startChildWorkflowExecutionInitiated, .signalExternalWorkflowExecutionInitiated,
            .requestCancelExternalWorkflowExecutionInitiated, .upsertWorkflowSearchAttributes,
            .workflowPropertiesModified, .workflowExecutionUpdateAccepted, .workflowExecutionUpdateCompleted,
            .nexusOperationScheduled, .nexusOperationCancelRequested:
            return false
        default: return true
        }
    }

    /// The order buffered events are written in: as they came, except that activities' and children's
    /// results go after all the others (Temporal's reordering, which puts a result after its started event
    /// whatever came between).
    static func writingOrder(_ events: [HistoryEvent]) -> [HistoryEvent] {
        events.filter { !isResult($0.eventType) } + events.filter { isResult($0.eventType) }
    }

    private static func isResult(_ type: Temporal_Api_Enums_V1_EventType) -> Bool {
        switch type {
        case .activityTaskCompleted, .activityTaskFailed, .activityTaskTimedOut, .activityTaskCanceled,
            .childWorkflowExecutionCompleted, .childWorkflowExecutionFailed, .childWorkflowExecutionTimedOut,
            .childWorkflowExecutionCanceled, .childWorkflowExecutionTerminated:
            true
        default: false
        }
    }

    /// The events that close a run (which ends any workflow task, transient or not).
    static let closeEventTypes: Set<Temporal_Api_Enums_V1_EventType> = [
        .workflowExecutionCompleted, .workflowExecutionFailed, .workflowExecutionTimedOut, .workflowExecutionCanceled,
        .workflowExecutionTerminated, .workflowExecutionContinuedAsNew,
    ]

    /// An event the workflow must see arrived: unless a scheduled task will carry it, another is needed.
    private mutating func noteInput() {
        if case .scheduled = workflowTask { return }
        hasUnhandledEvents = true
    }

    private func activity(_ scheduledEventID: Int64, _ what: String, _ eventID: Int64) throws(RunChangeError)
        -> ActivityState
    {
        guard let activity = activities[scheduledEventID] else {
            let source = eventID > 0 ? "\(what) (event \(eventID))" : what
            throw RunChangeError(.unknownEntity, "\(source) names activity \(scheduledEventID), which is not open")
        }
        return activity
    }

    private mutating func childClosed(_ initiatedEventID: Int64, _ name: String, _ eventID: Int64) throws(RunChangeError) {
        try children.endChild(initiatedEventID: initiatedEventID, name, eventID: eventID, mustHaveStarted: true)
        noteInput()
    }

    private mutating func closeActivity(_ scheduledEventID: Int64, _ name: String, _ eventID: Int64) throws(RunChangeError) {
        _ = try activity(scheduledEventID, name, eventID)
        activities[scheduledEventID] = nil
        noteInput()
    }

    /// The run closed: nothing of it stays pending.
    private mutating func close(_ status: ExecutionStatus, at time: Instant) {
        self.status = status
        closedAt = time
        workflowTask = .none
        unwrittenWorkflowTaskEvents = []
        hasUnhandledEvents = false
        bufferedEvents = []  // written before the close; a close written first drops them, as Temporal's does
        timers = [:]
        activities = [:]
        externalRequests = [:]
    }
}
