import Foundation
import SwiftProtobuf
import TemporalAPI
@testable import TimekeeperEngine

/// One thing that happens to the engine in a simulation: a client's or a worker's call, exactly as the
/// shell would make it, or wall time passing. Requests are stored whole, so that a printed step list is
/// what was sent.
enum SimulationStep: CustomStringConvertible {
    case start(StartWorkflowRequest)
    case signalWithStart(SignalWithStartRequest)
    /// A long poll; `keepsWaiting` leaves the poller registered when nothing is there (else it gives up).
    case pollWorkflowTask(namespace: String, queue: String, poller: PollerID, keepsWaiting: Bool)
    case pollActivityTask(namespace: String, queue: String, poller: PollerID, keepsWaiting: Bool)
    case cancelPoll(PollerID)
    case completeWorkflowTask(CompleteWorkflowTaskRequest)
    case failWorkflowTask(FailWorkflowTaskRequest)
    case completeActivity(ActivityAddress)
    case failActivity(ActivityAddress, Failure)
    case cancelActivity(ActivityAddress)
    case heartbeatActivity(ActivityAddress)
    case signal(SignalWorkflowRequest)
    case query(QueryWorkflowRequest, QueryID)
    case completeQueryTask(QueryTaskCompletedRequest)
    case abandonQuery(QueryID)
    case requestCancel(CancelWorkflowRequest)
    case terminate(TerminateWorkflowRequest)
    case resetStickyQueue(namespace: String, Temporal_Api_Common_V1_WorkflowExecution)
    case shutdownWorker(namespace: String, stickyQueue: String)
    /// A history read; a long poll for the close event is a client awaiting the result.
    case readHistory(GetHistoryRequest)
    case lock
    case unlock
    case sleep(SleepID, SleepDeadline, unlocking: Bool)
    case cancelSleep(SleepID)
    /// Wall time passes and the next call arrives before the clock task has looked (no settle).
    case advanceWall(Duration)
    /// The clock task wakes: fire what is due, and jump while nothing holds the clock.
    case settle

    /// Whether the core may refuse this step with an error (and must then be unchanged).
    var mayThrow: Bool {
        switch self {
        case .cancelPoll, .abandonQuery, .shutdownWorker, .lock, .cancelSleep, .advanceWall, .settle: false
        default: true
        }
    }

    var description: String {
        switch self {
        case .start(let request): "start \(Describe.start(request))"
        case .signalWithStart(let request):
            "signal-with-start \(Describe.text(request.signalName)) \(Describe.text(request.workflowID)) "
                + "req=\(request.requestID) queue=\(request.taskQueue.name) ns=\(Describe.text(request.namespace))"
                + " reuse=\(request.workflowIDReusePolicy) run=\(Describe.duration(request.workflowRunTimeout))"
        case .pollWorkflowTask(let namespace, let queue, let poller, let waits):
            "poll workflow task \(Describe.text(queue)) poller=\(poller.rawValue)\(waits ? " (waits)" : "")"
                + (namespace == "default" ? "" : " ns=\(Describe.text(namespace))")
        case .pollActivityTask(let namespace, let queue, let poller, let waits):
            "poll activity task \(Describe.text(queue)) poller=\(poller.rawValue)\(waits ? " (waits)" : "")"
                + (namespace == "default" ? "" : " ns=\(Describe.text(namespace))")
        case .cancelPoll(let poller): "cancel poll \(poller.rawValue)"
        case .completeWorkflowTask(let request): "complete \(Describe.completion(request))"
        case .failWorkflowTask(let request):
            "fail workflow task \(Describe.token(request.taskToken)) cause=\(request.cause)"
                + (request.namespace == "default" ? "" : " ns=\(Describe.text(request.namespace))")
        case .completeActivity(let address): "complete activity \(Describe.address(address))"
        case .failActivity(let address, let failure): "fail activity \(Describe.address(address)) \(Describe.failure(failure))"
        case .cancelActivity(let address): "cancel activity \(Describe.address(address))"
        case .heartbeatActivity(let address): "heartbeat \(Describe.address(address))"
        case .signal(let request):
            "signal \(Describe.text(request.signalName)) to \(Describe.execution(request.workflowExecution))"
        case .query(let request, let id):
            "query \(id.rawValue) \(Describe.text(request.query.queryType)) of \(Describe.execution(request.execution))"
                + " reject=\(request.queryRejectCondition)"
        case .completeQueryTask(let request):
            "answer query task \(Describe.token(request.taskToken)) \(request.completedType)"
        case .abandonQuery(let id): "abandon query \(id.rawValue)"
        case .requestCancel(let request): "request cancel of \(Describe.execution(request.workflowExecution))"
        case .terminate(let request): "terminate \(Describe.execution(request.workflowExecution))"
        case .resetStickyQueue(_, let execution): "reset sticky queue of \(Describe.execution(execution))"
        case .shutdownWorker(_, let queue): "shut down worker of \(Describe.text(queue))"
        case .readHistory(let request):
            "read history of \(Describe.execution(request.execution))"
                + (request.historyEventFilterType == .closeEvent ? " close event" : "")
                + (request.waitNewEvent ? " (waits)" : "")
        case .lock: "lock time skipping"
        case .unlock: "unlock time skipping"
        case .sleep(let id, let deadline, let unlocking):
            "\(unlocking ? "unlock with sleep" : "sleep") \(id.rawValue) "
                + {
                    switch deadline {
                    case .after(let duration): "for \(Describe.duration(duration))"
                    case .at(let instant): "until \(instant.nanosecondsSinceEpoch) ns"
                    }
                }()
        case .cancelSleep(let id): "cancel sleep \(id.rawValue)"
        case .advanceWall(let duration): "wall +\(Describe.duration(duration))"
        case .settle: "settle"
        }
    }
}

/// Short, stable renderings of requests for step lists (protobuf's text format is long and slow).
enum Describe {
    static func text(_ value: String) -> String { value.isEmpty ? "\"\"" : value }

    static func token(_ data: Data) -> String { data.isEmpty ? "<no token>" : String(decoding: data, as: UTF8.self) }

    static func duration(_ duration: Duration) -> String {
        let ns = duration.nanoseconds
        if ns == 0 { return "0" }
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000)s" }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
        return "\(ns)ns"
    }

    static func duration(_ duration: Google_Protobuf_Duration) -> String {
        duration.seconds == 0 && duration.nanos == 0 ? "0" : self.duration(Duration(protobuf: duration))
    }

    static func execution(_ execution: Temporal_Api_Common_V1_WorkflowExecution) -> String {
        text(execution.workflowID) + (execution.runID.isEmpty ? "" : "/\(execution.runID)")
    }

    static func address(_ address: ActivityAddress) -> String {
        switch address {
        case .token(let data): token(data)
        case .id(_, let workflowID, let runID, let activityID):
            "id \(text(activityID)) of \(text(workflowID))\(runID.isEmpty ? "" : "/\(runID)")"
        }
    }

    static func failure(_ failure: Failure) -> String {
        guard case .applicationFailureInfo(let info) = failure.failureInfo else { return "failure" }
        var parts = ["failure type=\(text(info.type))"]
        if info.nonRetryable { parts.append("non-retryable") }
        if info.hasNextRetryDelay { parts.append("next delay \(duration(info.nextRetryDelay))") }
        return parts.joined(separator: " ")
    }

    static func retry(_ policy: RetryPolicy) -> String {
        "retry(max \(policy.maximumAttempts), initial \(duration(policy.initialInterval)), x\(policy.backoffCoefficient)"
            + ", cap \(duration(policy.maximumInterval))\(policy.nonRetryableErrorTypes.isEmpty ? "" : ", not \(policy.nonRetryableErrorTypes)"))"
    }

    static func start(_ request: StartWorkflowRequest) -> String {
        var parts = [
            text(request.workflowID), "req=\(text(request.requestID))", "queue=\(text(request.taskQueue.name))",
            "exec=\(duration(request.workflowExecutionTimeout))", "run=\(duration(request.workflowRunTimeout))",
            "task=\(duration(request.workflowTaskTimeout))",
        ]
        if request.namespace != "default" { parts.append("ns=\(text(request.namespace))") }
        if request.workflowType.name.isEmpty { parts.append("no type") }
        if request.hasWorkflowStartDelay { parts.append("delay=\(duration(request.workflowStartDelay))") }
        if request.workflowIDReusePolicy != .unspecified { parts.append("reuse=\(request.workflowIDReusePolicy)") }
        if request.workflowIDConflictPolicy != .unspecified { parts.append("conflict=\(request.workflowIDConflictPolicy)") }
        if request.hasRetryPolicy { parts.append(retry(request.retryPolicy)) }
        return parts.joined(separator: " ")
    }

    static func completion(_ request: CompleteWorkflowTaskRequest) -> String {
        var text = "\(token(request.taskToken)) [\(request.commands.map(command).joined(separator: "; "))]"
        if request.hasStickyAttributes {
            text += " sticky=\(request.stickyAttributes.workerTaskQueue.name)"
                + "/\(duration(request.stickyAttributes.scheduleToStartTimeout))"
        }
        if !request.queryResults.isEmpty {
            let answers = request.queryResults.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value.resultType)" }
            text += " queries {\(answers.joined(separator: ", "))}"
        }
        if request.forceCreateNewWorkflowTask { text += " force new task" }
        if request.namespace != "default" { text += " ns=\(self.text(request.namespace))" }
        return text
    }

    static func command(_ command: Command) -> String {
        switch command.attributes {
        case .completeWorkflowExecutionCommandAttributes?: return "complete" + mismatch(command, .completeWorkflowExecution)
        case .failWorkflowExecutionCommandAttributes(let a)?: return "fail \(failure(a.failure))" + mismatch(command, .failWorkflowExecution)
        case .cancelWorkflowExecutionCommandAttributes?: return "cancel" + mismatch(command, .cancelWorkflowExecution)
        case .continueAsNewWorkflowExecutionCommandAttributes(let a)?:
            return "continue-as-new run=\(duration(a.workflowRunTimeout)) backoff=\(duration(a.backoffStartInterval))"
                + (a.taskQueue.name.isEmpty ? "" : " queue=\(a.taskQueue.name)") + mismatch(command, .continueAsNewWorkflowExecution)
        case .startTimerCommandAttributes(let a)?:
            return "timer \(text(a.timerID)) \(duration(a.startToFireTimeout))" + mismatch(command, .startTimer)
        case .cancelTimerCommandAttributes(let a)?: return "cancel timer \(text(a.timerID))" + mismatch(command, .cancelTimer)
        case .scheduleActivityTaskCommandAttributes(let a)?:
            var parts = ["activity \(text(a.activityID))"]
            if a.activityType.name.isEmpty { parts.append("no type") }
            if !a.taskQueue.name.isEmpty { parts.append("queue=\(a.taskQueue.name)") }
            parts.append("s2c=\(duration(a.scheduleToCloseTimeout)) s2s=\(duration(a.scheduleToStartTimeout))")
            parts.append("st2c=\(duration(a.startToCloseTimeout)) hb=\(duration(a.heartbeatTimeout))")
            if a.hasRetryPolicy { parts.append(retry(a.retryPolicy)) }
            return parts.joined(separator: " ") + mismatch(command, .scheduleActivityTask)
        case .requestCancelActivityTaskCommandAttributes(let a)?:
            return "cancel activity @\(a.scheduledEventID)" + mismatch(command, .requestCancelActivityTask)
        case .recordMarkerCommandAttributes(let a)?: return "marker \(text(a.markerName))" + mismatch(command, .recordMarker)
        case .upsertWorkflowSearchAttributesCommandAttributes?:
            return "upsert search attributes" + mismatch(command, .upsertWorkflowSearchAttributes)
        case .some: return "\(command.commandType) with other attributes"
        case nil: return "\(command.commandType) without attributes"
        }
    }

    /// Notes a command whose type does not match its attributes (an invalid command on purpose).
    private static func mismatch(_ command: Command, _ type: Temporal_Api_Enums_V1_CommandType) -> String {
        command.commandType == type ? "" : " (typed \(command.commandType))"
    }
}
