internal import SwiftProtobuf
package import TemporalAPI

package typealias StartWorkflowRequest = Temporal_Api_Workflowservice_V1_StartWorkflowExecutionRequest

/// What `StartWorkflowExecution` answers: the run that now stands for the request, and whether this call
/// started it (false when a conflict policy chose the running one).
package struct StartOutcome: Sendable, Equatable {
    package var runID: String
    package var started: Bool
    /// The first workflow task, started for the caller's own worker (eager workflow start).
    package var eagerTask: PollWorkflowTaskResponse? = nil
}

extension EngineCore {
    package mutating func startWorkflow(_ request: StartWorkflowRequest, signal: StartSignal? = nil, wallNow: Instant)
        throws(EngineError) -> StartOutcome
    {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let decision = try core.decideStart(request)
            return { core in core.applyStart(decision, request, signal: signal) }
        }
    }

    /// What a start request comes to, decided before anything changes.
    enum StartDecision {
        /// The same request again (a client retry): answer as the first time.
        case repeated(runID: String)
        /// The conflict policy chose the running run (signal-with-start signals it).
        case useExisting(runID: String)
        /// A new run, after terminating the running one if the policy says so.
        case create(terminating: String?)
    }

    func decideStart(_ request: StartWorkflowRequest) throws(EngineError) -> StartDecision {
        try Self.validate(request)
        try checkSearchAttributes(request.searchAttributes.indexedFields, namespace: request.namespace)
        if request.hasTimeSkippingConfig { _ = try validatedTimeSkippingConfig(request.timeSkippingConfig) }
        let key = WorkflowKey(namespace: request.namespace, workflowID: request.workflowID)
        guard let currentID = currentRuns[key], let current = runs[currentID] else { return .create(terminating: nil) }
        if current.startRequestID == request.requestID { return .repeated(runID: currentID) }
        if current.isOpen {
            switch try Self.onConflict(request) {
            case .fail: throw Self.alreadyStarted(current)
            case .useExisting: return .useExisting(runID: currentID)
            case .terminateExisting: return .create(terminating: currentID)
            }
        }
        guard Self.reuseAllowed(after: current.status, policy: request.workflowIDReusePolicy) else {
            throw Self.alreadyStarted(current)
        }
        return .create(terminating: nil)
    }

    /// `beforeFirstTask` runs on a created run before its first workflow task is scheduled (and maybe handed
    /// to a waiting worker at once): what it adds (an update-with-start's update) rides on that task.
    mutating func applyStart(
        _ decision: StartDecision, _ request: StartWorkflowRequest, signal: StartSignal?,
        beforeFirstTask: ((inout EngineCore, String) -> Void)? = nil
    ) -> StartOutcome {
        switch decision {
        case .repeated(let runID): return StartOutcome(runID: runID, started: true)
        case .useExisting(let runID):
            if let signal {
                appendSignal(runID, name: signal.name, input: signal.input, identity: request.identity, header: signal.header)
                workflowNeedsTask(runID)
            }
            return StartOutcome(runID: runID, started: false)
        case .create(let terminating):
            if let terminating {
                terminate(terminating, reason: "terminated by a start with the terminate-existing conflict policy",
                          identity: request.identity)
            }
            let key = WorkflowKey(namespace: request.namespace, workflowID: request.workflowID)
            let runID = startRun(request, key: key, signal: signal, beforeFirstTask: beforeFirstTask)
            // Eager workflow start: the first task goes straight back to the caller's worker, started,
            // unless it waits for a start delay (Temporal declines eager start then too).
            guard request.requestEagerExecution, case .scheduled = runs[runID]!.workflowTask else {
                return StartOutcome(runID: runID, started: true)
            }
            let task = startWorkflowTask(runID, identity: request.identity, queue: request.taskQueue.name)
            return StartOutcome(runID: runID, started: true, eagerTask: task)
        }
    }

    private enum ConflictAction { case fail, useExisting, terminateExisting }

    private static func onConflict(_ request: StartWorkflowRequest) throws(EngineError) -> ConflictAction {
        switch request.workflowIDConflictPolicy {
        case .unspecified, .fail:
            // The legacy reuse policy TERMINATE_IF_RUNNING also governs a running workflow.
            return request.workflowIDReusePolicy == .terminateIfRunning ? .terminateExisting : .fail
        case .useExisting: return .useExisting
        case .terminateExisting: return .terminateExisting
        case .UNRECOGNIZED(let value):
            throw .invalidArgument("workflow_id_conflict_policy \(value) is not a known WorkflowIdConflictPolicy")
        }
    }

    private static func reuseAllowed(after status: ExecutionStatus, policy: Temporal_Api_Enums_V1_WorkflowIdReusePolicy)
        -> Bool
    {
        switch policy {
        case .allowDuplicateFailedOnly: [.failed, .canceled, .terminated, .timedOut].contains(status)
        case .rejectDuplicate: false
        default: true
        }
    }

    private static func alreadyStarted(_ run: WorkflowRun) -> EngineError {
        EngineError(
            .alreadyExists,
            run.isOpen
                ? "Workflow execution is already running. WorkflowId: \(run.ref.workflowID), RunId: \(run.ref.runID)."
                : "Workflow execution already finished and its workflow_id_reuse_policy does not allow starting it again. WorkflowId: \(run.ref.workflowID), RunId: \(run.ref.runID).",
            detail: .workflowExecutionAlreadyStarted(startRequestID: run.startRequestID, runID: run.ref.runID))
    }

    static func validate(_ request: StartWorkflowRequest) throws(EngineError) {
        try requireNamespace(request.namespace)
        try validateCron(request.cronSchedule)
        guard !request.workflowID.isEmpty else { throw .invalidArgument("workflow_id is not set") }
        guard request.workflowID.utf8.count <= 1000 else {
            throw .invalidArgument("workflow_id is longer than 1000 bytes")
        }
        guard !request.workflowType.name.isEmpty else { throw .invalidArgument("workflow_type.name is not set") }
        guard !request.taskQueue.name.isEmpty else { throw .invalidArgument("task_queue.name is not set") }
        guard !request.requestID.isEmpty else { throw .invalidArgument("request_id is not set") }
        for (field, duration) in [
            ("workflow_execution_timeout", request.workflowExecutionTimeout),
            ("workflow_run_timeout", request.workflowRunTimeout),
            ("workflow_task_timeout", request.workflowTaskTimeout),
            // A negative delay would move the run's timeout before its run timeout.
            ("workflow_start_delay", request.workflowStartDelay),
        ] where duration.seconds < 0 || duration.nanos < 0 {
            throw .invalidArgument("\(field) must not be negative")
        }
        if request.workflowIDReusePolicy == .terminateIfRunning
            && ![.unspecified, .fail].contains(request.workflowIDConflictPolicy)
        {
            throw .invalidArgument(
                "workflow_id_reuse_policy TERMINATE_IF_RUNNING cannot be combined with a workflow_id_conflict_policy")
        }
    }

    static func requireNamespace(_ namespace: String) throws(EngineError) {
        guard !namespace.isEmpty else { throw .invalidArgument("namespace is not set") }
    }

    /// How a new run continues an earlier one (a workflow retry or continue-as-new).
    struct Continuation {
        var previousRunID: String
        var firstRunID: String
        var attempt: Int32
        var initiator: Temporal_Api_Enums_V1_ContinueAsNewInitiator
        var backoff: Duration
        var lastFailure: Failure?
        var lastResult: Payloads?
    }

    @discardableResult
    mutating func startRun(
        _ request: StartWorkflowRequest, key: WorkflowKey, signal: StartSignal? = nil,
        continuing continuation: Continuation? = nil, child: ChildOrigin? = nil,
        beforeFirstTask: ((inout EngineCore, String) -> Void)? = nil
    ) -> String {
        // A child's later runs (retries, continue-as-new) keep its parent and root.
        let previous = continuation.flatMap { runs[$0.previousRunID] }
        let parent = child?.parent ?? previous?.parent
        let root = child?.root ?? previous?.root
        let runID = makeRunID()
        let ref = RunRef(namespace: request.namespace, workflowID: request.workflowID, runID: runID)
        let timeouts = WorkflowTimeouts(
            execution: Duration(protobuf: request.workflowExecutionTimeout),
            run: Duration(protobuf: request.workflowRunTimeout),
            workflowTask: Duration(protobuf: request.workflowTaskTimeout))
        let (skippingConfig, skippingPassedOn) = timeSkippingOnStart(request, previous: previous, parentRunID: child?.parent.runID)
        // A run that goes on from a skipped clock starts at its virtual now (see `createRun`).
        let startTime = now + (skippingPassedOn.map { Duration(protobuf: $0.initialSkippedDuration) } ?? .zero)
        let filledSkippingConfig = skippingConfig.map { (try? validatedTimeSkippingConfig($0)) ?? $0 }
        let writtenSearchAttributes = request.hasSearchAttributes
            ? searchAttributesAsWritten(request.searchAttributes, namespace: request.namespace) : nil
        let firstRunID = continuation?.firstRunID ?? runID
        // A cron workflow's first run waits for the first time its schedule names (then the start delay
        // does not apply, as in Temporal).
        let backoff = continuation?.backoff
            ?? Self.cronBackoff(request.cronSchedule, scheduledAt: startTime, now: startTime)
            ?? Duration(protobuf: request.workflowStartDelay)
        let retryPolicy = request.hasRetryPolicy ? RetryRules.withDefaults(request.retryPolicy) : nil
        createRun(ref, request: request) { event in
            if request.hasUserMetadata { event.userMetadata = request.userMetadata }
            event.workflowExecutionStartedEventAttributes = .with {
                $0.workflowType = request.workflowType
                $0.taskQueue = request.taskQueue
                $0.taskQueue.kind = .normal
                if request.hasInput { $0.input = request.input }
                // What the request set, as Temporal's server records it (an unset timeout stays unset; the
                // run timeout is the execution timeout's if only that was set); the Java test server
                // records 10 years instead. The run still times out at the normalised 10 years.
                let recorded = timeouts.recorded(requestedExecution: Duration(protobuf: request.workflowExecutionTimeout),
                                                 requestedRun: Duration(protobuf: request.workflowRunTimeout))
                // Absent, not zero, when unset: SDKs read presence ("execution_timeout is None").
                if recorded.execution > .zero { $0.workflowExecutionTimeout = recorded.execution.protobuf }
                if recorded.run > .zero { $0.workflowRunTimeout = recorded.run.protobuf }
                $0.workflowTaskTimeout = timeouts.workflowTask.protobuf
                $0.originalExecutionRunID = runID
                $0.firstExecutionRunID = firstRunID
                $0.identity = request.identity
                $0.attempt = continuation?.attempt ?? 1
                if recorded.execution > .zero {
                    $0.workflowExecutionExpirationTime = (startTime + timeouts.execution).timestamp
                }
                if let retryPolicy { $0.retryPolicy = retryPolicy }
                $0.cronSchedule = request.cronSchedule
                if request.hasMemo { $0.memo = request.memo }
                if let writtenSearchAttributes { $0.searchAttributes = writtenSearchAttributes }
                if request.hasHeader { $0.header = request.header }
                if request.hasPriority { $0.priority = request.priority }
                if let filledSkippingConfig { $0.timeSkippingConfig = filledSkippingConfig }
                if let skippingPassedOn { $0.timeSkippingStatePropagation = skippingPassedOn }
                $0.workflowID = request.workflowID
                if backoff > .zero { $0.firstWorkflowTaskBackoff = backoff.protobuf }
                if let parent {
                    $0.parentWorkflowNamespace = parent.namespace
                    $0.parentWorkflowExecution = .with { $0.workflowID = parent.workflowID; $0.runID = parent.runID }
                    $0.parentInitiatedEventID = parent.initiatedEventID
                }
                if let root { $0.rootWorkflowExecution = root }
                if let continuation {
                    $0.continuedExecutionRunID = continuation.previousRunID
                    $0.initiator = continuation.initiator
                    if let failure = continuation.lastFailure { $0.continuedFailure = failure }
                    if let result = continuation.lastResult { $0.lastCompletionResult = result }
                } else {
                    // A schedule's start carries its last action's outcome.
                    if request.hasContinuedFailure { $0.continuedFailure = request.continuedFailure }
                    if request.hasLastCompletionResult { $0.lastCompletionResult = request.lastCompletionResult }
                }
            }
        }
        if let signal {
            appendSignal(runID, name: signal.name, input: signal.input, identity: request.identity, header: signal.header)
        }
        // With a backoff, the first workflow task waits for its timetable entry (see `Refresher`). An eager
        // start's task is not offered to pollers: it goes to the caller.
        beforeFirstTask?(&self, runID)
        let eager = request.requestEagerExecution && continuation == nil && child == nil
        if backoff <= .zero { scheduleWorkflowTask(runID, attempt: 1, dispatch: !eager) }
        return runID
    }

    /// A FailWorkflowExecution command: the run fails, and starts its next attempt if it has a retry
    /// policy that allows one.
    mutating func failWorkflow(_ runID: String, failure: Failure, completedEventID: Int64) {
        let run = runs[runID]!
        var decision = RetryRules.Decision.stop(.retryPolicyNotSet)
        if let policy = run.retryPolicy, let request = run.startRequest {
            let firstStart = runs[run.firstRunID]?.startedAt ?? run.startedAt
            let executionTimeout = Duration(protobuf: request.workflowExecutionTimeout)
            decision = RetryRules.decide(
                policy: policy, attempt: run.attempt, failure: failure, now: runNow(runID),
                deadline: executionTimeout > .zero ? firstStart + executionTimeout : nil)
        }
        var nextRunID = ""
        if case .retry(let delay) = decision, let request = run.startRequest {
            nextRunID = makeRunIDPeek()
            record(runID, .workflowExecutionFailed) { event in
                event.workflowExecutionFailedEventAttributes = .with {
                    $0.failure = failure
                    $0.retryState = .inProgress
                    $0.workflowTaskCompletedEventID = completedEventID
                    $0.newExecutionRunID = nextRunID
                }
            }
            close(runID, .failed)
            startRun(
                request, key: WorkflowKey(namespace: run.ref.namespace, workflowID: run.ref.workflowID),
                continuing: Continuation(
                    previousRunID: runID, firstRunID: run.firstRunID, attempt: run.attempt + 1, initiator: .retry,
                    backoff: delay, lastFailure: failure, lastResult: nil))
            return
        }
        let retryState: Temporal_Api_Enums_V1_RetryState = if case .stop(let state) = decision { state } else { .retryPolicyNotSet }
        // Out of retries, a cron chain goes on at its next time.
        closeRun(runID, .workflowExecutionFailed, .failed, failure: failure) { event, nextRunID in
            event.workflowExecutionFailedEventAttributes = .with {
                $0.failure = failure
                $0.retryState = retryState
                $0.workflowTaskCompletedEventID = completedEventID
                $0.newExecutionRunID = nextRunID
            }
        }
    }

    /// A ContinueAsNewWorkflowExecution command: the run closes and a new run of the same workflow id starts.
    mutating func continueAsNew(
        _ runID: String, _ attributes: Temporal_Api_Command_V1_ContinueAsNewWorkflowExecutionCommandAttributes,
        completedEventID: Int64
    ) {
        let run = runs[runID]!
        var request = run.startRequest ?? StartWorkflowRequest()
        if !attributes.workflowType.name.isEmpty { request.workflowType = attributes.workflowType }
        if !attributes.taskQueue.name.isEmpty { request.taskQueue = attributes.taskQueue }
        request.input = attributes.input
        if Duration(protobuf: attributes.workflowRunTimeout) > .zero { request.workflowRunTimeout = attributes.workflowRunTimeout }
        if Duration(protobuf: attributes.workflowTaskTimeout) > .zero { request.workflowTaskTimeout = attributes.workflowTaskTimeout }
        if attributes.hasHeader { request.header = attributes.header }
        if attributes.hasMemo { request.memo = attributes.memo }
        if attributes.hasSearchAttributes { request.searchAttributes = attributes.searchAttributes }
        if attributes.hasRetryPolicy { request.retryPolicy = attributes.retryPolicy }
        request.workflowStartDelay = .init()
        let nextRunID = makeRunIDPeek()
        record(runID, .workflowExecutionContinuedAsNew) { event in
            event.workflowExecutionContinuedAsNewEventAttributes = .with {
                $0.newExecutionRunID = nextRunID
                $0.workflowType = request.workflowType
                $0.taskQueue = request.taskQueue
                $0.input = attributes.input
                $0.workflowRunTimeout = request.workflowRunTimeout
                $0.workflowTaskTimeout = request.workflowTaskTimeout
                $0.workflowTaskCompletedEventID = completedEventID
                $0.initiator = .workflow
                $0.backoffStartInterval = attributes.backoffStartInterval
                if attributes.hasHeader { $0.header = attributes.header }
            }
        }
        close(runID, .continuedAsNew)
        let newRunID = startRun(
            request, key: WorkflowKey(namespace: run.ref.namespace, workflowID: run.ref.workflowID),
            continuing: Continuation(
                previousRunID: runID, firstRunID: run.firstRunID, attempt: 1, initiator: .workflow,
                backoff: Duration(protobuf: attributes.backoffStartInterval), lastFailure: nil, lastResult: nil))
        closeUpdates(runID, continuedIn: newRunID)
    }
}

/// Where a child workflow's run comes from: its parent, and the root of the parent's tree.
struct ChildOrigin {
    var parent: ParentLink
    var root: Temporal_Api_Common_V1_WorkflowExecution
}

/// A signal delivered together with a start (signal-with-start).
package struct StartSignal: Sendable {
    package var name: String
    package var input: Payloads?
    package var header: Temporal_Api_Common_V1_Header?
}
