internal import SwiftProtobuf
package import TemporalAPI
internal import Foundation

package typealias PollWorkflowTaskResponse = Temporal_Api_Workflowservice_V1_PollWorkflowTaskQueueResponse

/// Workflow tasks from scheduled to started: the queue they wait in, stickiness, and the poll that
/// takes one.
extension EngineCore {
    // MARK: Scheduling and matching

    /// Schedules the run's next workflow task (if it has none) and hands it to a waiting poller if any.
    mutating func scheduleWorkflowTask(_ runID: String, attempt: Int32, dispatch: Bool = true) {
        guard let run = runs[runID], run.isOpen, run.workflowTask == .none else { return }
        let (taskQueue, taskTimeout, sticky) = (run.taskQueue, run.timeouts.workflowTask(attempt: attempt), run.stickyQueue)
        var event = HistoryEvent()
        event.eventType = .workflowTaskScheduled
        event.workflowTaskScheduledEventAttributes = .with {
            $0.taskQueue = .with { $0.name = sticky ?? taskQueue; $0.kind = sticky == nil ? .normal : .sticky }
            $0.startToCloseTimeout = taskTimeout.protobuf
            $0.attempt = attempt
        }
        // A retry after a failure or timeout is transient (Temporal's rule: attempt above 1).
        let scheduledID = writeOrHold(runID, event, transient: attempt > 1, as: RunNote.transientWorkflowTaskScheduled)
        if dispatch { dispatchWorkflowTask(runID, scheduledID, to: sticky ?? taskQueue) }
    }

    /// Writes a workflow task's scheduled or started event; for a transient task, holds it unwritten
    /// instead (with the id and time it will have if written), through the note `hold` makes. Answers its id.
    private mutating func writeOrHold(
        _ runID: String, _ event: HistoryEvent, transient: Bool, as hold: (HistoryEvent) -> RunNote
    ) -> Int64 {
        guard transient else { return record(runID, event.eventType) { $0.attributes = event.attributes } }
        var held = event
        held.eventID = runs[runID]!.lastEventID + 1 + Int64(runs[runID]!.unwrittenWorkflowTaskEvents.count)
        held.eventTime = runNow(runID).timestamp
        note(runID, hold(held))
        return held.eventID
    }

    /// Offers a scheduled workflow task to a queue: a waiting poller gets it at once. While a legacy query
    /// task of the run is with a worker, the task waits for its answer instead (`releaseWorkflowTaskHeldForQuery`):
    /// sdk-core loses a legacy query when a new task of the same run reaches it before the answer (sdk-rust
    /// issue 716), which a fast server makes likely when an activity completes just after the query is
    /// handed out.
    private mutating func dispatchWorkflowTask(_ runID: String, _ scheduledID: Int64, to queueName: String) {
        if queryBook.hasLegacyQueryWithWorker(runID) {
            workflowTasksHeldForQueries[runID] = queueName
            return
        }
        workflowTasksHeldForQueries[runID] = nil
        let key = TaskQueueKey(namespace: runs[runID]!.ref.namespace, name: queueName)
        if let (poller, identity) = matching.offer(.workflowTask(runID: runID, scheduledEventID: scheduledID), to: key) {
            emit(.deliverWorkflowTask(poller, startWorkflowTask(runID, identity: identity, queue: queueName)))
        }
    }

    /// Nobody took the task from the sticky queue in time (the worker is gone or busy): forget the
    /// stickiness and offer the task on the normal queue, with full history.
    mutating func stickyTaskTimedOut(_ runID: String, scheduledEventID: Int64) {
        guard let run = runs[runID], run.isOpen, run.stickyQueue != nil,
            case .scheduled(scheduledEventID, _, _) = run.workflowTask
        else { return }
        clearStickiness(runID)
    }

    /// A legacy query task of the run was answered or given up: its held workflow task, if any, is offered.
    mutating func releaseWorkflowTaskHeldForQuery(_ runID: String) {
        guard !queryBook.hasLegacyQueryWithWorker(runID), let queue = workflowTasksHeldForQueries.removeValue(forKey: runID),
            let run = runs[runID], run.isOpen, case .scheduled(let scheduledID, _, _) = run.workflowTask
        else { return }
        dispatchWorkflowTask(runID, scheduledID, to: queue)
    }

    /// Stops sending a run's workflow tasks to a sticky queue; a task waiting there moves to the normal queue.
    mutating func clearStickiness(_ runID: String) {
        guard let run = runs[runID], run.stickyQueue != nil else { return }
        note(runID, .stickyQueueCleared)
        if case .scheduled(let scheduledID, _, _) = run.workflowTask {
            dispatchWorkflowTask(runID, scheduledID, to: run.taskQueue)
        }
    }

    /// `ShutdownWorker`: the worker's sticky queue is going away with it.
    package mutating func shutdownWorker(namespace: String, stickyQueue: String, wallNow: Instant) {
        guard !stickyQueue.isEmpty else { return commit(wallNow) { _ in } }
        // In the order their tasks were scheduled, not the dictionary's (which differs from process to
        // process): the tasks that waited longest reach the normal queue first, the same way every time.
        func waitingSince(_ run: WorkflowRun) -> Instant {
            if case .scheduled(_, _, let scheduledAt) = run.workflowTask { return scheduledAt }
            return Instant(nanosecondsSinceEpoch: .max)
        }
        let affected = runs.values.filter { $0.ref.namespace == namespace && $0.stickyQueue == stickyQueue }
            .sorted { (waitingSince($0), $0.ref.runID) < (waitingSince($1), $1.ref.runID) }
        commit(wallNow) { core in
            for run in affected { core.clearStickiness(run.ref.runID) }
        }
    }

    /// `ResetStickyTaskQueue`: the worker dropped the run from its cache.
    package mutating func resetStickyQueue(namespace: String, _ execution: Temporal_Api_Common_V1_WorkflowExecution,
                                           wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let runID = try core.resolveRun(namespace: namespace, execution).ref.runID
            return { core in core.clearStickiness(runID) }
        }
    }

    /// A worker's long poll: returns a task at once, or `nil` after registering `poller` as waiting (the
    /// shell then waits for a `.deliverWorkflowTask` effect or gives up with `cancelPoll`).
    package mutating func pollWorkflowTask(
        namespace: String, taskQueue: String, identity: String, poller: PollerID, wallNow: Instant
    ) throws(EngineError) -> PollWorkflowTaskResponse? {
        try transition(wallNow) { (_: EngineCore) throws(EngineError) in
            try Self.requireNamespace(namespace)
            guard !taskQueue.isEmpty else { throw .invalidArgument("task_queue.name is not set") }
            let key = TaskQueueKey(namespace: namespace, name: taskQueue)
            return { core in
                core.matching.notePoll(key, .workflow, identity: identity, at: core.now)
                var held: [String] = []
                let item = core.polling { matching, core in
                    matching.pollWorkflow(key, poller, identity: identity) { item in
                        switch item {
                        case .workflowTask(let runID, let scheduledEventID):
                            // Still waiting to start: a task moved from a sticky queue to the normal one leaves
                            // a stale twin behind.
                            guard core.runs[runID]?.isOpen == true, core.runs[runID]?.workflowTask.isWaiting(scheduledEventID) == true
                            else { return false }
                            // Queued before a legacy query of its run went to a worker: it waits for the answer
                            // (see `dispatchWorkflowTask`), out of the queue until then.
                            if core.queryBook.hasLegacyQueryWithWorker(runID) {
                                // (A stale twin of a task moved off a sticky queue is only dropped.)
                                if let run = core.runs[runID], taskQueue == run.stickyQueue ?? run.taskQueue { held.append(runID) }
                                return false
                            }
                            return true
                        case .query(let id):
                            return core.queryBook[id]?.route == .legacyQueued
                        }
                    }
                }
                for runID in held { core.workflowTasksHeldForQueries[runID] = taskQueue }
                switch item {
                case .workflowTask(let runID, _)?: return core.startWorkflowTask(runID, identity: identity, queue: taskQueue)
                case .query(let id)?: return core.startLegacyQuery(id, identity: identity)
                case nil: return nil
                }
            }
        }
    }

    /// The poller stopped waiting (deadline passed or the call was cancelled).
    package mutating func cancelPoll(_ poller: PollerID) {
        matching.cancel(poller)
    }

    /// Starts a scheduled task for a poller of `queue`. From the run's sticky queue the history is partial,
    /// from the previous task's started event on, as Temporal's frontend sends it to a worker that has
    /// the run cached; otherwise it is whole.
    mutating func startWorkflowTask(_ runID: String, identity: String, queue: String) -> PollWorkflowTaskResponse {
        guard case .scheduled(let scheduledID, let attempt, let scheduledAt) = runs[runID]!.workflowTask else {
            preconditionFailure("only a scheduled workflow task can be started")
        }
        let historyBytes = historySize(runID)
        // Temporal's rule: the history's bytes before this event, then its count (the started event's id),
        // each compared with its limit by `>=`; updates near the per-run limit suggest it too.
        var reasons: [Temporal_Api_Enums_V1_SuggestContinueAsNewReason] = []
        if historyBytes >= configuration.suggestContinueAsNewAtHistoryBytes { reasons.append(.historySizeTooLarge) }
        if scheduledID + 1 >= configuration.suggestContinueAsNewAtEventCount { reasons.append(.tooManyHistoryEvents) }
        let updates = updateBook.count(runID) + runs[runID]!.updates.count
        if updates * 10 >= Self.maximumTotalUpdates * 9 { reasons.append(.tooManyUpdates) }  // 90 % of the limit
        var started = HistoryEvent()
        started.eventType = .workflowTaskStarted
        started.workflowTaskStartedEventAttributes = .with {
            $0.scheduledEventID = scheduledID
            $0.identity = identity
            $0.requestID = UUIDs.random()
            $0.historySizeBytes = historyBytes
            $0.suggestContinueAsNew = !reasons.isEmpty
            $0.suggestContinueAsNewReasons = reasons
        }
        let startedID = writeOrHold(
            runID, started, transient: runs[runID]!.hasTransientWorkflowTask, as: RunNote.transientWorkflowTaskStarted)
        let run = runs[runID]!
        let isSticky = run.stickyQueue == queue
        // A transient task's own events follow the history, as Temporal's frontend appends them.
        let events = (isSticky
            ? Array(self.events(runID, from: run.lastCompletedWorkflowTaskStartedEventID + 1))
            : history(runID)) + run.unwrittenWorkflowTaskEvents
        var response = PollWorkflowTaskResponse.with {
            $0.taskToken = TaskToken(kind: .workflowTask, runID: runID, scheduledEventID: scheduledID, attempt: attempt).data
            $0.workflowExecution = .with { $0.workflowID = run.ref.workflowID; $0.runID = runID }
            $0.workflowType = .with { $0.name = run.workflowType }
            $0.previousStartedEventID = run.lastCompletedWorkflowTaskStartedEventID
            $0.startedEventID = startedID
            $0.attempt = attempt
            $0.history = .with { $0.events = events }
            $0.workflowExecutionTaskQueue = .with { $0.name = run.taskQueue; $0.kind = .normal }
            $0.scheduledTime = scheduledAt.timestamp
            $0.startedTime = runNow(runID).timestamp
        }
        attachBufferedQueries(runID, to: &response)
        attachUpdates(runID, startedEventID: startedID, to: &response)
        return response
    }
}
