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
        let scheduledID = appendEvent(runID, .workflowTaskScheduled) { event in
            event.workflowTaskScheduledEventAttributes = .with {
                $0.taskQueue = .with { $0.name = run.taskQueue; $0.kind = .normal }
                $0.startToCloseTimeout = run.timeouts.workflowTask.protobuf
                $0.attempt = attempt
            }
        }
        runs[runID]!.workflowTask = .scheduled(scheduledEventID: scheduledID, attempt: attempt, scheduledAt: now)
        runs[runID]!.hasUnhandledEvents = false
        take(.workflowTask(runID: runID))

        let key = TaskQueueKey(namespace: run.ref.namespace, name: run.taskQueue)
        if let poller = workflowQueues[key, default: TaskQueue()].offer(
            .workflowTask(runID: runID, scheduledEventID: scheduledID))
        {
            let identity = waitingPollers.removeValue(forKey: poller)?.identity ?? ""
            emit(.deliverWorkflowTask(poller, startWorkflowTask(runID, identity: identity)))
        }
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
                runs[runID]?.workflowTask.scheduledEventID == scheduledEventID && runs[runID]?.isOpen == true
            case .query(let id):
                queries[id]?.route == .legacyQueued
            }
        }
        workflowQueues[key] = queue
        switch item {
        case .workflowTask(let runID, _)?: return startWorkflowTask(runID, identity: identity)
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

    private mutating func startWorkflowTask(_ runID: String, identity: String) -> PollWorkflowTaskResponse {
        guard case .scheduled(let scheduledID, let attempt, let scheduledAt) = runs[runID]!.workflowTask else {
            preconditionFailure("only a scheduled workflow task can be started")
        }
        let run = runs[runID]!
        let startedID = appendEvent(runID, .workflowTaskStarted) { event in
            event.workflowTaskStartedEventAttributes = .with {
                $0.scheduledEventID = scheduledID
                $0.identity = identity
                $0.requestID = UUID().uuidString.lowercased()
            }
        }
        let timeout = timetable.add(
            at: now + run.timeouts.workflowTask, .workflowTaskTimeout(scheduledEventID: scheduledID, attempt: attempt),
            owner: run.ref)
        runs[runID]!.workflowTask = .started(
            scheduledEventID: scheduledID, startedEventID: startedID, attempt: attempt, scheduledAt: scheduledAt,
            startedAt: now, timeout: timeout)
        let history = runs[runID]!.history
        var response = PollWorkflowTaskResponse.with {
            $0.taskToken = TaskToken(kind: .workflowTask, runID: runID, scheduledEventID: scheduledID, attempt: attempt).data
            $0.workflowExecution = .with { $0.workflowID = run.ref.workflowID; $0.runID = runID }
            $0.workflowType = .with { $0.name = run.workflowType }
            $0.previousStartedEventID = run.lastCompletedWorkflowTaskStartedEventID
            $0.startedEventID = startedID
            $0.attempt = attempt
            $0.history = .with { $0.events = history }
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
        for (index, command) in request.commands.enumerated() {
            try validate(command, at: index, run: task.run)
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
        release(.workflowTask(runID: runID))

        answerQueries(runID, results: request.queryResults)
        for command in request.commands where runs[runID]!.isOpen {
            apply(command, runID: runID, completedEventID: completedID, identity: request.identity)
        }
        if runs[runID]!.isOpen && (runs[runID]!.hasUnhandledEvents || request.forceCreateNewWorkflowTask) {
            scheduleWorkflowTask(runID, attempt: 1)
        }
        redirectBufferedQueries(runID)
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
        runs[runID]!.runTimeoutEntry = nil
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
