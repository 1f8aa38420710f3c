import TemporalAPI
@testable import TimekeeperEngine

/// Reads one run's history as it grows, one event at a time, checking its structure and keeping what
/// the history says the run's state is (outstanding workflow task, open activities, pending timers),
/// for `InvariantChecker` to compare with what the core derived.
struct HistoryAudit {
    typealias EventType = Temporal_Api_Enums_V1_EventType

    /// How the last workflow task ended, which decides the next one's attempt.
    enum TaskOutcome { case none, completed, failed, timedOut, unhandledCommand }

    let runID: String
    private(set) var seen = 0
    private var lastTime: Instant?
    private var lastTaskID: Int64 = 0
    private(set) var closeEvent: HistoryEvent?
    /// The outstanding workflow task: its scheduled event, attempt and started event (once started).
    private(set) var workflowTask: (scheduled: Int64, attempt: Int32, started: Int64?)?
    private(set) var lastOutcome: (outcome: TaskOutcome, attempt: Int32) = (.none, 0)
    /// Whether buffered events were written since the last task failed or timed out (the next is then a
    /// first attempt), and when the last task started (what came while it ran may be written after it,
    /// with the earlier time it came at).
    private var newsSinceOutcome = false
    private var lastStartedTime: Instant?
    /// Open activities: scheduled event id → started event id (0 until the started event is written).
    private(set) var openActivities: [Int64: Int64] = [:]
    /// Pending timers: timer id → started event id.
    private(set) var pendingTimers: [String: Int64] = [:]
    private(set) var cancelRequested = false
    private(set) var lastCompletedStartedID: Int64 = 0
    private(set) var hasScheduledWorkflowTask = false
    /// The completed event whose commands' events are being written; nil once a workflow task is scheduled
    /// or started after it.
    private var batch: Int64?
    /// The first event after the last started workflow task that the workflow must be shown.
    private(set) var unseenNews: HistoryEvent?

    init(runID: String) { self.runID = runID }

    /// The started event's attributes (the run's requested timeouts, backoff and chain).
    var started: Temporal_Api_History_V1_WorkflowExecutionStartedEventAttributes?

    mutating func consume(_ history: [HistoryEvent], now: Instant, into violations: inout [Violation]) {
        while seen < history.count {
            let event = history[seen]
            seen += 1
            consume(event, index: seen, now: now, into: &violations)
        }
    }

    private mutating func consume(_ event: HistoryEvent, index: Int, now: Instant, into violations: inout [Violation]) {
        func fail(_ invariant: Invariant, _ message: String) {
            violations.append(Violation(invariant, "run \(runID) event \(event.eventID) (\(event.eventType)): \(message)"))
        }
        if event.eventID != Int64(index) { fail(.contiguousEventIDs, "expected event id \(index)") }
        if (index == 1) != (event.eventType == .workflowExecutionStarted) {
            fail(.contiguousEventIDs, "a history starts with its one WorkflowExecutionStarted event")
        }
        let time = Instant(event.eventTime)
        let buffered = WorkflowRun.isBuffered(event.eventType) && lastStartedTime.map { time >= $0 } == true
        if let lastTime, time < lastTime, !buffered {
            fail(.eventOrder, "event time \(time) is before the previous event's \(lastTime)")
        }
        if time > now { fail(.eventOrder, "event time \(time) is ahead of virtual now \(now)") }
        if event.taskID <= lastTaskID { fail(.eventOrder, "task id \(event.taskID) does not grow (previous \(lastTaskID))") }
        lastTime = max(lastTime ?? time, time)
        if workflowTask == nil, WorkflowRun.isBuffered(event.eventType) { newsSinceOutcome = true }
        lastTaskID = event.taskID
        if let closeEvent { fail(.closeEventLast, "appended after the close event \(closeEvent.eventID)") }
        if let completed = Self.commandCompletedEventID(event), completed != batch {
            fail(.commandBatches, "written by the commands of completion \(completed), but the open batch is \(batch.map(String.init) ?? "none")")
        }
        if Self.needsWorkflowTask(event.eventType) && unseenNews == nil { unseenNews = event }

        switch event.eventType {
        case .workflowExecutionStarted:
            started = event.workflowExecutionStartedEventAttributes
        case .workflowTaskScheduled:
            if let task = workflowTask { fail(.workflowTaskLifecycle, "workflow task \(task.scheduled) is still outstanding") }
            let attempt = event.workflowTaskScheduledEventAttributes.attempt
            // After a failure or timeout the next attempt counts on; transient attempts between leave no
            // events, so it may be any later one.
            if [.failed, .timedOut].contains(lastOutcome.outcome) && newsSinceOutcome {
                if attempt != 1 { fail(.workflowTaskAttempts, "attempt \(attempt) after buffered events were written, expected 1") }
            } else if [.failed, .timedOut].contains(lastOutcome.outcome) {
                if attempt <= lastOutcome.attempt {
                    fail(.workflowTaskAttempts, "attempt \(attempt) after attempt \(lastOutcome.attempt) failed")
                }
            } else if attempt != 1 {
                fail(.workflowTaskAttempts, "attempt \(attempt), expected 1")
            }
            workflowTask = (event.eventID, attempt, nil)
            hasScheduledWorkflowTask = true
            batch = nil
        case .workflowTaskStarted:
            let scheduled = event.workflowTaskStartedEventAttributes.scheduledEventID
            if let task = workflowTask, task.scheduled == scheduled, task.started == nil {
                workflowTask?.started = event.eventID
            } else {
                fail(.workflowTaskLifecycle, "starts workflow task \(scheduled), which is not scheduled and waiting")
            }
            batch = nil
            unseenNews = nil
            lastStartedTime = time
        case .workflowTaskCompleted, .workflowTaskFailed, .workflowTaskTimedOut:
            let (scheduled, startedID): (Int64, Int64) =
                switch event.eventType {
                case .workflowTaskCompleted:
                    (event.workflowTaskCompletedEventAttributes.scheduledEventID, event.workflowTaskCompletedEventAttributes.startedEventID)
                case .workflowTaskFailed:
                    (event.workflowTaskFailedEventAttributes.scheduledEventID, event.workflowTaskFailedEventAttributes.startedEventID)
                default:
                    (event.workflowTaskTimedOutEventAttributes.scheduledEventID, event.workflowTaskTimedOutEventAttributes.startedEventID)
                }
            if let task = workflowTask, task.scheduled == scheduled, let started = task.started, started == startedID {
                let outcome: TaskOutcome =
                    switch event.eventType {
                    case .workflowTaskCompleted: .completed
                    case .workflowTaskFailed:
                        event.workflowTaskFailedEventAttributes.cause == .unhandledCommand ? .unhandledCommand : .failed
                    default: .timedOut
                    }
                lastOutcome = (outcome, task.attempt)
                newsSinceOutcome = false
            } else {
                fail(.workflowTaskLifecycle, "closes workflow task \(scheduled)/\(startedID), which is not the started one")
            }
            workflowTask = nil
            if event.eventType == .workflowTaskCompleted {
                batch = event.eventID
                lastCompletedStartedID = startedID
            }
        case .activityTaskScheduled:
            openActivities[event.eventID] = 0
        case .activityTaskStarted:
            let scheduled = event.activityTaskStartedEventAttributes.scheduledEventID
            if openActivities[scheduled] == 0 {
                openActivities[scheduled] = event.eventID
            } else {
                fail(.activityLifecycle, "starts activity \(scheduled), which is not open and unstarted")
            }
        case .activityTaskCompleted, .activityTaskFailed, .activityTaskTimedOut, .activityTaskCanceled:
            let (scheduled, startedID): (Int64, Int64) =
                switch event.eventType {
                case .activityTaskCompleted:
                    (event.activityTaskCompletedEventAttributes.scheduledEventID, event.activityTaskCompletedEventAttributes.startedEventID)
                case .activityTaskFailed:
                    (event.activityTaskFailedEventAttributes.scheduledEventID, event.activityTaskFailedEventAttributes.startedEventID)
                case .activityTaskTimedOut:
                    (event.activityTaskTimedOutEventAttributes.scheduledEventID, event.activityTaskTimedOutEventAttributes.startedEventID)
                default:
                    (event.activityTaskCanceledEventAttributes.scheduledEventID, event.activityTaskCanceledEventAttributes.startedEventID)
                }
            if let recorded = openActivities.removeValue(forKey: scheduled) {
                if recorded != startedID { fail(.activityLifecycle, "names started event \(startedID), the activity's is \(recorded)") }
            } else {
                fail(.activityLifecycle, "closes activity \(scheduled), which is not open")
            }
        case .activityTaskCancelRequested:
            let scheduled = event.activityTaskCancelRequestedEventAttributes.scheduledEventID
            if openActivities[scheduled] == nil { fail(.activityLifecycle, "asks to cancel activity \(scheduled), which is not open") }
        case .timerStarted:
            let id = event.timerStartedEventAttributes.timerID
            if let pending = pendingTimers[id] { fail(.timerLifecycle, "timer id \(id) reused while timer \(pending) is pending") }
            pendingTimers[id] = event.eventID
        case .timerFired, .timerCanceled:
            let (id, startedID) =
                event.eventType == .timerFired
                ? (event.timerFiredEventAttributes.timerID, event.timerFiredEventAttributes.startedEventID)
                : (event.timerCanceledEventAttributes.timerID, event.timerCanceledEventAttributes.startedEventID)
            if pendingTimers[id] == startedID {
                pendingTimers[id] = nil
            } else {
                fail(.timerLifecycle, "ends timer \(id) started at \(startedID), which is not pending")
            }
        case .workflowExecutionCancelRequested:
            cancelRequested = true
        default:
            break
        }
        if Self.closes(event.eventType) { closeEvent = event }
    }

    /// Close events, one per closed run.
    static func closes(_ type: EventType) -> Bool {
        [
            .workflowExecutionCompleted, .workflowExecutionFailed, .workflowExecutionCanceled, .workflowExecutionTerminated,
            .workflowExecutionContinuedAsNew, .workflowExecutionTimedOut,
        ].contains(type)
    }

    /// Events that the workflow must be shown by a workflow task.
    static func needsWorkflowTask(_ type: EventType) -> Bool {
        [
            .workflowExecutionSignaled, .timerFired, .activityTaskCompleted, .activityTaskFailed, .activityTaskTimedOut,
            .activityTaskCanceled, .workflowExecutionCancelRequested,
        ].contains(type)
    }

    /// The workflow task completion whose command wrote this event, if a command did.
    static func commandCompletedEventID(_ event: HistoryEvent) -> Int64? {
        let id: Int64 =
            switch event.attributes {
            case .timerStartedEventAttributes(let a)?: a.workflowTaskCompletedEventID
            case .timerCanceledEventAttributes(let a)?: a.workflowTaskCompletedEventID
            case .activityTaskScheduledEventAttributes(let a)?: a.workflowTaskCompletedEventID
            case .activityTaskCancelRequestedEventAttributes(let a)?: a.workflowTaskCompletedEventID
            case .markerRecordedEventAttributes(let a)?: a.workflowTaskCompletedEventID
            case .upsertWorkflowSearchAttributesEventAttributes(let a)?: a.workflowTaskCompletedEventID
            case .workflowPropertiesModifiedEventAttributes(let a)?: a.workflowTaskCompletedEventID
            case .workflowExecutionCompletedEventAttributes(let a)?: a.workflowTaskCompletedEventID
            case .workflowExecutionFailedEventAttributes(let a)?: a.workflowTaskCompletedEventID
            case .workflowExecutionCanceledEventAttributes(let a)?: a.workflowTaskCompletedEventID
            case .workflowExecutionContinuedAsNewEventAttributes(let a)?: a.workflowTaskCompletedEventID
            default: 0
            }
        return id > 0 ? id : nil
    }
}
