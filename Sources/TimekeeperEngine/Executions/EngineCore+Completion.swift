internal import SwiftProtobuf
package import TemporalAPI
internal import Foundation

package typealias CompleteWorkflowTaskRequest = Temporal_Api_Workflowservice_V1_RespondWorkflowTaskCompletedRequest
package typealias FailWorkflowTaskRequest = Temporal_Api_Workflowservice_V1_RespondWorkflowTaskFailedRequest

/// How a started workflow task ends (completed with commands, failed, timed out), and how a run closes.
extension EngineCore {
    /// A started workflow task a token names.
    struct StartedTask {
        var runID: String
        var scheduledEventID: Int64
        var startedEventID: Int64
        var attempt: Int32
    }

    /// The run and started workflow task a token names, or the error Temporal gives for a stale token.
    private func startedWorkflowTask(_ tokenData: Data) throws(EngineError) -> (run: WorkflowRun, task: StartedTask) {
        let token = try TaskToken(tokenData)
        guard token.kind == .workflowTask else {
            throw .invalidArgument("task_token names a \(token.kind) task, not a workflow task")
        }
        guard let run = runs[token.runID] else {
            throw EngineError(.notFound, "workflow execution not found for run \(token.runID)")
        }
        guard run.isOpen else { throw EngineError(.notFound, "Workflow execution already completed.") }
        guard case .started(let scheduledID, let startedID, let attempt, _, _) = run.workflowTask,
            scheduledID == token.scheduledEventID, attempt == token.attempt
        else {
            throw EngineError(.notFound, "Workflow task not found: it already completed, failed or timed out.")
        }
        return (run, StartedTask(runID: run.ref.runID, scheduledEventID: scheduledID, startedEventID: startedID,
                                 attempt: attempt))
    }

    /// Completes a started workflow task; answers the activity tasks started for the completing worker
    /// (eager activity dispatch: activities its commands asked for on the workflow's own task queue).
    @discardableResult
    package mutating func completeWorkflowTask(_ request: CompleteWorkflowTaskRequest, wallNow: Instant)
        throws(EngineError) -> [PollActivityTaskResponse]
    {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            try Self.requireNamespace(request.namespace)
            let (run, task) = try core.startedWorkflowTask(request.taskToken)
            var openIDs = OpenIDs(run)
            let messages = try core.validateUpdateMessages(request.messages, run: run)
            for (index, command) in request.commands.enumerated() {
                try core.validate(command, at: index, run: run, openIDs: &openIDs)
                if case .protocolMessageCommandAttributes(let attributes)? = command.attributes,
                    messages[attributes.messageID] == nil
                {
                    throw .invalidArgument(
                        "commands[\(index)].protocol_message_command_attributes.message_id \(attributes.messageID) names no message of this completion")
                }
            }
            // A workflow that closes while new events wait unseen (buffered during this task, or come before
            // it) has its task failed instead (Temporal's UNHANDLED_COMMAND), so that it gets to see them.
            // Updates waiting unseen do not stop it: as with Temporal, they fail with the run, or go to the
            // next run if it continues as new.
            let refused = (run.hasUnhandledEvents || !run.bufferedEvents.isEmpty)
                && request.commands.contains { Self.closesWorkflow($0.commandType) }
            return { core in
                if refused {
                    core.refuseCompletion(task, request)
                    return []
                }
                return core.applyCompletion(task, request, messages: messages)
            }
        }
    }

    private mutating func refuseCompletion(_ task: StartedTask, _ request: CompleteWorkflowTaskRequest) {
        record(task.runID, .workflowTaskFailed) { event in
            event.workflowTaskFailedEventAttributes = .with {
                $0.scheduledEventID = task.scheduledEventID
                $0.startedEventID = task.startedEventID
                $0.cause = .unhandledCommand
                $0.identity = request.identity
            }
        }
        writeBufferedEvents(task.runID)
        answerQueries(task.runID, results: request.queryResults)
        requeueUpdatesInFlight(task.runID)  // nor its answers to updates
        clearStickiness(task.runID)  // the worker must replay: its commands were not applied
        scheduleWorkflowTask(task.runID, attempt: 1)
    }

    private mutating func applyCompletion(
        _ task: StartedTask, _ request: CompleteWorkflowTaskRequest, messages: [String: UpdateMessage]
    ) -> [PollActivityTaskResponse] {
        let runID = task.runID
        let completedID = record(runID, .workflowTaskCompleted) { event in
            event.workflowTaskCompletedEventAttributes = .with {
                $0.scheduledEventID = task.scheduledEventID
                $0.startedEventID = task.startedEventID
                $0.identity = request.identity
                $0.binaryChecksum = request.binaryChecksum
                if request.hasSdkMetadata { $0.sdkMetadata = request.sdkMetadata }
                if request.hasMeteringMetadata { $0.meteringMetadata = request.meteringMetadata }
                if request.hasWorkerVersionStamp {
                    $0.workerVersion = request.workerVersionStamp
                } else if !request.deploymentOptions.buildID.isEmpty {
                    // SDKs now send the build id in deployment options; workers replaying the history
                    // read it back from here (an unversioned worker's build id, as Temporal records it).
                    $0.workerVersion = .with { $0.buildID = request.deploymentOptions.buildID }
                }
            }
        }
        let stickyQueue = request.stickyAttributes.workerTaskQueue.name
        if stickyQueue.isEmpty {
            if runs[runID]!.stickyQueue != nil { note(runID, .stickyQueueCleared) }
        } else {
            let timeout = Duration(protobuf: request.stickyAttributes.scheduleToStartTimeout)
            note(runID, .stickyQueueSet(name: stickyQueue, scheduleToStart: timeout > .zero ? timeout : .seconds(5)))
        }
        answerQueries(runID, results: request.queryResults)
        applying = CommandApplication(runID: runID)
        // A message's events go where its PROTOCOL_MESSAGE command puts them among the other commands'
        // events; messages no command places follow them all (Temporal's order).
        var unplaced = request.messages.filter { messages[$0.id] != nil }
        for command in request.commands where runs[runID]!.isOpen {
            if case .protocolMessageCommandAttributes(let attributes)? = command.attributes {
                if let index = unplaced.firstIndex(where: { $0.id == attributes.messageID }) {
                    let message = unplaced.remove(at: index)
                    applyUpdateMessage(message, messages[message.id]!, runID: runID)
                }
                continue
            }
            applying?.userMetadata = command.hasUserMetadata ? command.userMetadata : nil
            apply(command, runID: runID, completedEventID: completedID, identity: request.identity)
            applying?.userMetadata = nil
        }
        for message in unplaced where runs[runID]!.isOpen {
            applyUpdateMessage(message, messages[message.id]!, runID: runID)
        }
        // What came while the worker ran the task follows the task's own events; a task then carries it.
        let wroteBuffered = writeBufferedEvents(runID)
        let offers = applying?.activityOffers ?? []
        let eager = applying?.eagerActivities ?? []
        // Children started, signals and cancel requests delivered, their answers recorded in this run.
        carryOut(applying?.outbound ?? [], from: runID)
        applying = nil
        fireTimersDueDuringTask(runID)
        // Delivered with this task but not answered: a heartbeat's next task asks again, otherwise they
        // are rejected for the worker.
        if request.forceCreateNewWorkflowTask { requeueUpdatesInFlight(runID) } else { rejectUnprocessedUpdates(runID) }
        if runs[runID]!.isOpen
            && (runs[runID]!.hasUnhandledEvents || wroteBuffered || request.forceCreateNewWorkflowTask
                || updateBook.hasWaiting(runID))
        {
            scheduleWorkflowTask(runID, attempt: 1)
        }
        var eagerTasks: [PollActivityTaskResponse] = []
        for task in offers {
            if eager.contains(task.scheduledEventID), let started = startEagerActivity(task, identity: request.identity) {
                eagerTasks.append(started)
            } else {
                offerActivityAttempt(task)
            }
        }
        redirectBufferedQueries(runID)
        return eagerTasks
    }

    /// What applying one completion's commands defers until all are applied, so that no worker sees
    /// their effects half done: a workflow task the commands' events call for (an activity cancelled before
    /// it started) is scheduled after the last command's events, not among them; and activity attempts
    /// go to their queues only then, so that a run the same commands close hands no worker an activity
    /// (Temporal's matching drops such tasks too).
    struct CommandApplication {
        var runID: String
        var activityOffers: [ActivityTaskRef] = []
        /// Initiated events of children to start and signals and cancel requests to deliver.
        var outbound: [Int64] = []
        /// Activities whose commands asked to run on the completing worker (eager execution).
        var eagerActivities: Set<Int64> = []
        /// The user metadata (summary, details) of the command being applied, for its first event.
        var userMetadata: Temporal_Api_Sdk_V1_UserMetadata?
    }

    package mutating func failWorkflowTask(_ request: FailWorkflowTaskRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            try Self.requireNamespace(request.namespace)
            let (_, task) = try core.startedWorkflowTask(request.taskToken)
            return { core in
                core.endWorkflowTaskAttempt(task.runID, .workflowTaskFailed) { event in
                    event.workflowTaskFailedEventAttributes = .with {
                        $0.scheduledEventID = task.scheduledEventID
                        $0.startedEventID = task.startedEventID
                        $0.cause = request.cause
                        if request.hasFailure { $0.failure = request.failure }
                        $0.identity = request.identity
                        $0.binaryChecksum = request.binaryChecksum
                    }
                }
                core.retryWorkflowTask(task.runID, after: task.attempt)
            }
        }
    }

    /// After a started task's attempt failed or timed out (and was recorded): what came meanwhile is
    /// written, the queries and updates it carried wait for the next task, the worker's cached copy is
    /// suspect (it starts over from full history), and the next attempt is scheduled — a first one if
    /// events were written (Temporal's rule: a task with new events is never a transient retry).
    mutating func retryWorkflowTask(_ runID: String, after attempt: Int32) {
        let wroteBuffered = writeBufferedEvents(runID)
        requeueQueriesInFlight(runID)
        requeueUpdatesInFlight(runID)
        clearStickiness(runID)
        scheduleWorkflowTask(runID, attempt: wroteBuffered ? 1 : attempt + 1)
    }

    /// The started task's attempt failed or timed out: recorded, unless the attempt is transient (its
    /// events unwritten), which ends with nothing written, as on Temporal's server.
    mutating func endWorkflowTaskAttempt(
        _ runID: String, _ type: Temporal_Api_Enums_V1_EventType, _ fill: (inout HistoryEvent) -> Void
    ) {
        if runs[runID]!.hasTransientWorkflowTask {
            note(runID, .transientWorkflowTaskEnded)
        } else {
            record(runID, type, fill)
        }
    }

    /// A started workflow task ran past its start-to-close timeout: record it and try again.
    mutating func timeOutWorkflowTask(_ runID: String, scheduledEventID: Int64, attempt: Int32) {
        guard let run = runs[runID], run.isOpen,
            case .started(scheduledEventID, let startedID, attempt, _, _) = run.workflowTask
        else { return }  // stale: that task already finished
        endWorkflowTaskAttempt(runID, .workflowTaskTimedOut) { event in
            event.workflowTaskTimedOutEventAttributes = .with {
                $0.scheduledEventID = scheduledEventID
                $0.startedEventID = startedID
                $0.timeoutType = .startToClose
            }
        }
        retryWorkflowTask(runID, after: attempt)
    }

    // MARK: Closing

    /// The run's workflow timer fired while it was open: it times out.
    mutating func timeOutRun(_ runID: String) {
        guard runs[runID]?.isOpen == true else { return }
        let failure = Failure.with {  // what a cron chain's next run gets as its last failure
            $0.message = "workflow timed out"
            $0.source = "Server"
            $0.timeoutFailureInfo = .with { $0.timeoutType = .startToClose }
        }
        closeRun(runID, .workflowExecutionTimedOut, .timedOut, failure: failure) { event, nextRunID in
            event.workflowExecutionTimedOutEventAttributes = .with {
                $0.retryState = .timeout
                $0.newExecutionRunID = nextRunID
            }
        }
    }

    mutating func terminate(_ runID: String, reason: String, identity: String,
                            details: Temporal_Api_Common_V1_Payloads? = nil) {
        guard runs[runID]?.isOpen == true else { return }
        record(runID, .workflowExecutionTerminated) { event in
            event.workflowExecutionTerminatedEventAttributes = .with {
                $0.reason = reason
                $0.identity = identity
                if let details { $0.details = details }
            }
        }
        close(runID, .terminated)
    }

    /// After a run's close event: its timetable entries and holds go with its state (`Refresher`), the
    /// queries that waited for its next workflow task become legacy query tasks (a closed run still
    /// answers queries), and history waiters look again.
    mutating func close(_ runID: String, _ status: ExecutionStatus) {
        assert(runs[runID]?.status == status, "close(_:_:) follows the run's close event")
        requeueQueriesInFlight(runID)
        redirectBufferedQueries(runID)
        // Continue-as-new hands its waiting updates to the new run once that exists (`continueAsNew`).
        if status != .continuedAsNew { closeUpdates(runID, continuedIn: nil) }
        // A run that continues into another (continue-as-new, a retry) does not end its chain.
        let continues: Bool =
            switch closeEvent(runID)?.attributes {
            case .workflowExecutionContinuedAsNewEventAttributes?: true
            case .workflowExecutionFailedEventAttributes(let failed)?: !failed.newExecutionRunID.isEmpty
            case .workflowExecutionCompletedEventAttributes(let completed)?: !completed.newExecutionRunID.isEmpty  // cron
            case .workflowExecutionTimedOutEventAttributes(let timedOut)?: !timedOut.newExecutionRunID.isEmpty  // cron
            default: false
            }
        if !continues { reportToParent(runID) }
        applyParentClosePolicies(runID)
        if !continues && !schedules.isEmpty { resumeBufferedSchedules() }
        emit(.historyChanged(runID: runID))
    }
}
