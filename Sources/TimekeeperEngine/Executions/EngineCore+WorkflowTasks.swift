internal import SwiftProtobuf
package import TemporalAPI
internal import Foundation

package typealias PollWorkflowTaskResponse = Temporal_Api_Workflowservice_V1_PollWorkflowTaskQueueResponse
package typealias CompleteWorkflowTaskRequest = Temporal_Api_Workflowservice_V1_RespondWorkflowTaskCompletedRequest
package typealias FailWorkflowTaskRequest = Temporal_Api_Workflowservice_V1_RespondWorkflowTaskFailedRequest

extension EngineCore {
    // MARK: Scheduling and matching

    /// Schedules the run's next workflow task (if it has none) and hands it to a waiting poller if any.
    mutating func scheduleWorkflowTask(_ runID: String, attempt: Int32) {
        guard let run = runs[runID], run.isOpen, run.workflowTask == .none else { return }
        if let entry = run.backoffEntry {
            timetable.cancel(entry)
            runs[runID]!.backoffEntry = nil
        }
        let (taskQueue, taskTimeout, sticky) = (run.taskQueue, run.timeouts.workflowTask, run.stickyQueue)
        let scheduledID = appendEvent(runID, .workflowTaskScheduled) { event in
            event.workflowTaskScheduledEventAttributes = .with {
                $0.taskQueue = .with { $0.name = sticky ?? taskQueue; $0.kind = sticky == nil ? .normal : .sticky }
                $0.startToCloseTimeout = taskTimeout.protobuf
                $0.attempt = attempt
            }
        }
        runs[runID]!.workflowTask = .scheduled(scheduledEventID: scheduledID, attempt: attempt, scheduledAt: now)
        runs[runID]!.hasUnhandledEvents = false
        take(.workflowTask(runID: runID))
        if sticky != nil {
            runs[runID]!.stickyTimeoutEntry = timetable.add(
                at: now + runs[runID]!.stickyScheduleToStart, .stickyScheduleToStart(scheduledEventID: scheduledID),
                owner: runs[runID]!.ref)
        }
        dispatchWorkflowTask(runID, scheduledID, to: sticky ?? taskQueue)
    }

    /// Offers a scheduled workflow task to a queue: a waiting poller gets it at once.
    private mutating func dispatchWorkflowTask(_ runID: String, _ scheduledID: Int64, to queueName: String) {
        let key = TaskQueueKey(namespace: runs[runID]!.ref.namespace, name: queueName)
        if let poller = workflowQueues[key, default: TaskQueue()].offer(
            .workflowTask(runID: runID, scheduledEventID: scheduledID))
        {
            let identity = waitingPollers.removeValue(forKey: poller)?.identity ?? ""
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

    /// Stops sending a run's workflow tasks to a sticky queue; a task waiting there moves to the normal queue.
    mutating func clearStickiness(_ runID: String) {
        guard let run = runs[runID], run.stickyQueue != nil else { return }
        runs[runID]!.stickyQueue = nil
        if let entry = run.stickyTimeoutEntry { timetable.cancel(entry) }
        runs[runID]!.stickyTimeoutEntry = nil
        if case .scheduled(let scheduledID, _, _) = run.workflowTask {
            dispatchWorkflowTask(runID, scheduledID, to: run.taskQueue)
        }
    }

    /// `ShutdownWorker`: the worker's sticky queue is going away with it.
    package mutating func shutdownWorker(namespace: String, stickyQueue: String, wallNow: Instant) {
        refresh(wallNow)
        defer { settle(wallNow) }
        guard !stickyQueue.isEmpty else { return }
        // In the order their tasks were scheduled, not the dictionary's (which differs from process to
        // process): the tasks that waited longest reach the normal queue first, the same way every time.
        func waitingSince(_ run: WorkflowRun) -> Instant {
            if case .scheduled(_, _, let scheduledAt) = run.workflowTask { return scheduledAt }
            return Instant(nanosecondsSinceEpoch: .max)
        }
        let affected = runs.values.filter { $0.ref.namespace == namespace && $0.stickyQueue == stickyQueue }
            .sorted { (waitingSince($0), $0.ref.runID) < (waitingSince($1), $1.ref.runID) }
        for run in affected { clearStickiness(run.ref.runID) }
    }

    /// `ResetStickyTaskQueue`: the worker dropped the run from its cache.
    package mutating func resetStickyQueue(namespace: String, _ execution: Temporal_Api_Common_V1_WorkflowExecution,
                                           wallNow: Instant) throws(EngineError) {
        refresh(wallNow)
        defer { settle(wallNow) }
        let runID = try resolveRun(namespace: namespace, execution).ref.runID
        clearStickiness(runID)
    }

    /// A worker's long poll: returns a task at once, or `nil` after registering `poller` as waiting (the
    /// shell then waits for a `.deliverWorkflowTask` effect or gives up with `cancelPoll`).
    package mutating func pollWorkflowTask(
        namespace: String, taskQueue: String, identity: String, poller: PollerID, wallNow: Instant
    ) throws(EngineError) -> PollWorkflowTaskResponse? {
        try Self.requireNamespace(namespace)
        guard !taskQueue.isEmpty else { throw .invalidArgument("task_queue.name is not set") }
        refresh(wallNow)
        defer { settle(wallNow) }
        let key = TaskQueueKey(namespace: namespace, name: taskQueue)
        var queue = workflowQueues.removeValue(forKey: key) ?? TaskQueue()
        // Tasks of runs that closed or moved on since they were queued are dropped here, as Temporal does.
        let item = queue.poll(poller) { item in
            switch item {
            case .workflowTask(let runID, let scheduledEventID):
                // Still waiting to start: a task moved from a sticky queue to the normal one leaves a
                // stale twin behind.
                runs[runID]?.isOpen == true && runs[runID]?.workflowTask.isWaiting(scheduledEventID) == true
            case .query(let id):
                queries[id]?.route == .legacyQueued
            }
        }
        workflowQueues[key] = queue
        switch item {
        case .workflowTask(let runID, _)?: return startWorkflowTask(runID, identity: identity, queue: taskQueue)
        case .query(let id)?: return startLegacyQuery(id, identity: identity)
        case nil:
            waitingPollers[poller] = WaitingPoller(queue: key, identity: identity)
            return nil
        }
    }

    /// The poller stopped waiting (deadline passed or the call was cancelled).
    package mutating func cancelPoll(_ poller: PollerID) {
        guard let waiting = waitingPollers.removeValue(forKey: poller) else { return }
        switch waiting.kind {
        case .workflow: workflowQueues[waiting.queue]?.remove(poller)
        case .activity: activityQueues[waiting.queue]?.remove(poller)
        }
    }

    /// Starts a scheduled task for a poller of `queue`. From the run's sticky queue the history is partial,
    /// from the previous task's started event on, as Temporal's frontend sends it to a worker that has
    /// the run cached; otherwise it is whole.
    private mutating func startWorkflowTask(_ runID: String, identity: String, queue: String) -> PollWorkflowTaskResponse {
        guard case .scheduled(let scheduledID, let attempt, let scheduledAt) = runs[runID]!.workflowTask else {
            preconditionFailure("only a scheduled workflow task can be started")
        }
        if let entry = runs[runID]!.stickyTimeoutEntry {
            timetable.cancel(entry)
            runs[runID]!.stickyTimeoutEntry = nil
        }
        let run = runs[runID]!
        let isSticky = run.stickyQueue == queue
        let startedID = appendEvent(runID, .workflowTaskStarted) { event in
            event.workflowTaskStartedEventAttributes = .with {
                $0.scheduledEventID = scheduledID
                $0.identity = identity
                $0.requestID = UUIDs.random()
            }
        }
        let timeout = timetable.add(
            at: now + run.timeouts.workflowTask, .workflowTaskTimeout(scheduledEventID: scheduledID, attempt: attempt),
            owner: run.ref)
        runs[runID]!.workflowTask = .started(
            scheduledEventID: scheduledID, startedEventID: startedID, attempt: attempt, scheduledAt: scheduledAt,
            startedAt: now, timeout: timeout)
        let events = isSticky
            ? Array(run.events(from: run.lastCompletedWorkflowTaskStartedEventID + 1))
            : run.history
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
            $0.startedTime = now.timestamp
        }
        attachBufferedQueries(runID, to: &response)
        return response
    }

    // MARK: Completion, failure, timeout

    /// The run and started workflow task a token names, or the error Temporal gives for a stale token.
    private func startedWorkflowTask(_ tokenData: Data) throws(EngineError)
        -> (run: WorkflowRun, scheduledEventID: Int64, startedEventID: Int64, timeout: EntryID)
    {
        let token = try TaskToken(tokenData)
        guard token.kind == .workflowTask else {
            throw .invalidArgument("task_token names a \(token.kind) task, not a workflow task")
        }
        guard let run = runs[token.runID] else {
            throw EngineError(.notFound, "workflow execution not found for run \(token.runID)")
        }
        guard run.isOpen else { throw EngineError(.notFound, "Workflow execution already completed.") }
        guard case .started(let scheduledID, let startedID, let attempt, _, _, let timeout) = run.workflowTask,
            scheduledID == token.scheduledEventID, attempt == token.attempt
        else {
            throw EngineError(.notFound, "Workflow task not found: it already completed, failed or timed out.")
        }
        return (run, scheduledID, startedID, timeout)
    }

    package mutating func completeWorkflowTask(_ request: CompleteWorkflowTaskRequest, wallNow: Instant)
        throws(EngineError)
    {
        try Self.requireNamespace(request.namespace)
        refresh(wallNow)
        defer { settle(wallNow) }
        let task = try startedWorkflowTask(request.taskToken)
        let runID = task.run.ref.runID
        var openIDs = OpenIDs(task.run)
        for (index, command) in request.commands.enumerated() {
            try validate(command, at: index, run: task.run, openIDs: &openIDs)
        }
        // A workflow that closes while new events wait unseen has its task failed instead (Temporal's
        // UNHANDLED_COMMAND), so that it gets to see them.
        let closes = request.commands.contains { Self.closesWorkflow($0.commandType) }
        if closes && task.run.hasUnhandledEvents {
            appendEvent(runID, .workflowTaskFailed) { event in
                event.workflowTaskFailedEventAttributes = .with {
                    $0.scheduledEventID = task.scheduledEventID
                    $0.startedEventID = task.startedEventID
                    $0.cause = .unhandledCommand
                    $0.identity = request.identity
                }
            }
            timetable.cancel(task.timeout)
            answerQueries(runID, results: request.queryResults)
            runs[runID]!.workflowTask = .none
            clearStickiness(runID)  // the worker must replay: its commands were not applied
            release(.workflowTask(runID: runID))
            scheduleWorkflowTask(runID, attempt: 1)
            return
        }

        let completedID = appendEvent(runID, .workflowTaskCompleted) { event in
            event.workflowTaskCompletedEventAttributes = .with {
                $0.scheduledEventID = task.scheduledEventID
                $0.startedEventID = task.startedEventID
                $0.identity = request.identity
                $0.binaryChecksum = request.binaryChecksum
                if request.hasSdkMetadata { $0.sdkMetadata = request.sdkMetadata }
                if request.hasMeteringMetadata { $0.meteringMetadata = request.meteringMetadata }
                if request.hasWorkerVersionStamp { $0.workerVersion = request.workerVersionStamp }
            }
        }
        timetable.cancel(task.timeout)
        runs[runID]!.lastCompletedWorkflowTaskStartedEventID = task.startedEventID
        runs[runID]!.workflowTask = .none
        let stickyQueue = request.stickyAttributes.workerTaskQueue.name
        runs[runID]!.stickyQueue = stickyQueue.isEmpty ? nil : stickyQueue
        let stickyTimeout = Duration(protobuf: request.stickyAttributes.scheduleToStartTimeout)
        runs[runID]!.stickyScheduleToStart = stickyTimeout > .zero ? stickyTimeout : .seconds(5)
        release(.workflowTask(runID: runID))

        answerQueries(runID, results: request.queryResults)
        applying = CommandApplication(runID: runID)
        for command in request.commands where runs[runID]!.isOpen {
            apply(command, runID: runID, completedEventID: completedID, identity: request.identity)
        }
        let offers = applying?.activityOffers ?? []
        applying = nil
        if runs[runID]!.isOpen && (runs[runID]!.hasUnhandledEvents || request.forceCreateNewWorkflowTask) {
            scheduleWorkflowTask(runID, attempt: 1)
        }
        for task in offers { offerActivityAttempt(task) }
        redirectBufferedQueries(runID)
    }

    /// What applying one completion's commands defers until all are applied, so that no worker sees
    /// their effects half done: a workflow task the commands' events call for (an activity cancelled before
    /// it started) is scheduled after the last command's events, not among them; and activity attempts
    /// go to their queues only then, so that a run the same commands close hands no worker an activity
    /// (Temporal's matching drops such tasks too).
    struct CommandApplication {
        var runID: String
        var activityOffers: [ActivityTaskRef] = []
    }

    package mutating func failWorkflowTask(_ request: FailWorkflowTaskRequest, wallNow: Instant) throws(EngineError) {
        try Self.requireNamespace(request.namespace)
        refresh(wallNow)
        defer { settle(wallNow) }
        let task = try startedWorkflowTask(request.taskToken)
        let runID = task.run.ref.runID
        appendEvent(runID, .workflowTaskFailed) { event in
            event.workflowTaskFailedEventAttributes = .with {
                $0.scheduledEventID = task.scheduledEventID
                $0.startedEventID = task.startedEventID
                $0.cause = request.cause
                if request.hasFailure { $0.failure = request.failure }
                $0.identity = request.identity
                $0.binaryChecksum = request.binaryChecksum
            }
        }
        timetable.cancel(task.timeout)
        requeueQueriesInFlight(runID)
        let attempt = task.run.workflowTask.attempt
        runs[runID]!.workflowTask = .none
        clearStickiness(runID)  // the worker's cached copy is suspect: start over from full history
        release(.workflowTask(runID: runID))
        scheduleWorkflowTask(runID, attempt: attempt + 1)
    }

    /// A started workflow task ran past its start-to-close timeout: record it and try again.
    mutating func timeOutWorkflowTask(_ runID: String, scheduledEventID: Int64, attempt: Int32) {
        guard let run = runs[runID], run.isOpen,
            case .started(scheduledEventID, let startedID, attempt, _, _, _) = run.workflowTask
        else { return }  // stale: that task already finished
        appendEvent(runID, .workflowTaskTimedOut) { event in
            event.workflowTaskTimedOutEventAttributes = .with {
                $0.scheduledEventID = scheduledEventID
                $0.startedEventID = startedID
                $0.timeoutType = .startToClose
            }
        }
        requeueQueriesInFlight(runID)
        runs[runID]!.workflowTask = .none
        clearStickiness(runID)
        release(.workflowTask(runID: runID))
        scheduleWorkflowTask(runID, attempt: attempt + 1)
    }

    // MARK: Closing

    /// The run's workflow timer fired while it was open: it times out.
    mutating func timeOutRun(_ runID: String) {
        guard runs[runID]?.isOpen == true else { return }
        runs[runID]!.runTimeoutEntry = nil
        appendEvent(runID, .workflowExecutionTimedOut) { event in
            event.workflowExecutionTimedOutEventAttributes = .with { $0.retryState = .timeout }
        }
        close(runID, .timedOut)
    }

    mutating func terminate(_ runID: String, reason: String, identity: String,
                            details: Temporal_Api_Common_V1_Payloads? = nil) {
        guard runs[runID]?.isOpen == true else { return }
        appendEvent(runID, .workflowExecutionTerminated) { event in
            event.workflowExecutionTerminatedEventAttributes = .with {
                $0.reason = reason
                $0.identity = identity
                if let details { $0.details = details }
            }
        }
        close(runID, .terminated)
    }

    /// Closes a run whose close event was just appended: its pending entries and holds go with it.
    mutating func close(_ runID: String, _ status: ExecutionStatus) {
        let run = runs[runID]!
        if case .started(_, _, _, _, _, let timeout) = run.workflowTask { timetable.cancel(timeout) }
        if run.workflowTask != .none { release(.workflowTask(runID: runID)) }
        // Unlike the Java test server, which cancels the run timer only on completion, every close
        // cancels it: a stale 10-year entry would otherwise be a pointless jump target.
        if let entry = run.runTimeoutEntry { timetable.cancel(entry) }
        if let entry = run.stickyTimeoutEntry { timetable.cancel(entry) }
        if let entry = run.backoffEntry { timetable.cancel(entry) }
        runs[runID]!.runTimeoutEntry = nil
        runs[runID]!.stickyTimeoutEntry = nil
        runs[runID]!.backoffEntry = nil
        for timer in run.timers.values { timetable.cancel(timer.entry) }
        runs[runID]!.timers = [:]
        for activity in run.activities.values {
            for entry in activity.attemptEntries { timetable.cancel(entry) }
            if let entry = activity.scheduleToCloseEntry { timetable.cancel(entry) }
            if activity.phase != .backingOff {
                release(.activity(runID: runID, scheduledEventID: activity.scheduledEventID))
            }
        }
        runs[runID]!.activities = [:]
        requeueQueriesInFlight(runID)
        runs[runID]!.close(status, at: now)
        // A closed run still answers queries, through legacy query tasks.
        redirectBufferedQueries(runID)
        emit(.historyChanged(runID: runID))
    }
}
