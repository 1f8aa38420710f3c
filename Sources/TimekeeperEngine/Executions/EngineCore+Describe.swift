internal import Foundation
internal import SwiftProtobuf
package import TemporalAPI

package typealias DescribeWorkflowRequest = Temporal_Api_Workflowservice_V1_DescribeWorkflowExecutionRequest
package typealias DescribeWorkflowResponse = Temporal_Api_Workflowservice_V1_DescribeWorkflowExecutionResponse
package typealias TerminateWorkflowRequest = Temporal_Api_Workflowservice_V1_TerminateWorkflowExecutionRequest

extension EngineCore {
    package func describeWorkflow(_ request: DescribeWorkflowRequest) throws(EngineError) -> DescribeWorkflowResponse {
        let run = try resolveRun(namespace: request.namespace, request.execution)
        return .with {
            $0.executionConfig = .with {
                $0.taskQueue = .with { $0.name = run.taskQueue; $0.kind = .normal }
                // As the started event recorded them (unset stays unset, as Temporal reports it).
                if let started = history(run.ref.runID).first?.workflowExecutionStartedEventAttributes {
                    if started.hasWorkflowExecutionTimeout { $0.workflowExecutionTimeout = started.workflowExecutionTimeout }
                    if started.hasWorkflowRunTimeout { $0.workflowRunTimeout = started.workflowRunTimeout }
                }
                $0.defaultWorkflowTaskTimeout = run.timeouts.workflowTask.protobuf
                if let metadata = history(run.ref.runID).first?.userMetadata, history(run.ref.runID).first?.hasUserMetadata == true {
                    $0.userMetadata = metadata
                }
            }
            $0.workflowExecutionInfo = executionInfo(run)
            if let info = timeSkippingInfo(run) { $0.workflowExtendedInfo.timeSkippingInfo = info }
            let points = autoResetPoints(run)
            if !points.isEmpty { $0.workflowExecutionInfo.autoResetPoints = .with { $0.points = points } }
            if run.isOpen {
                $0.pendingActivities = run.activities.sorted { $0.key < $1.key }.map { Self.pendingActivity($0.value) }
                switch run.workflowTask {
                case .none: break
                case .scheduled(_, let attempt, let scheduledAt):
                    $0.pendingWorkflowTask = .with {
                        $0.state = .scheduled
                        $0.scheduledTime = scheduledAt.timestamp
                        $0.originalScheduledTime = scheduledAt.timestamp
                        $0.attempt = attempt
                    }
                case .started(_, _, let attempt, let scheduledAt, let startedAt):
                    $0.pendingWorkflowTask = .with {
                        $0.state = .started
                        $0.scheduledTime = scheduledAt.timestamp
                        $0.originalScheduledTime = scheduledAt.timestamp
                        $0.startedTime = startedAt.timestamp
                        $0.attempt = attempt
                    }
                }
                $0.pendingChildren = run.children.sorted { $0.key < $1.key }.map { initiatedID, child in
                    .with {
                        $0.workflowID = child.workflowID
                        $0.runID = child.startedRunID ?? ""
                        $0.workflowTypeName = child.workflowType
                        $0.initiatedID = initiatedID
                        $0.parentClosePolicy = child.parentClosePolicy
                    }
                }
            }
        }
    }

    /// An open activity as Describe reports it: its attempt, what its worker last said, and when it runs next.
    private static func pendingActivity(_ activity: ActivityState) -> Temporal_Api_Workflow_V1_PendingActivityInfo {
        .with {
            $0.activityID = activity.activityID
            $0.activityType = .with { $0.name = activity.activityType }
            $0.attempt = activity.attempt
            $0.maximumAttempts = activity.retryPolicy.maximumAttempts
            $0.scheduledTime = activity.attemptScheduledAt.timestamp
            if activity.timeouts.scheduleToClose > .zero {
                $0.expirationTime = (activity.firstScheduledAt + activity.timeouts.scheduleToClose).timestamp
            }
            if let details = activity.heartbeatDetails { $0.heartbeatDetails = details }
            if let failure = activity.lastFailure { $0.lastFailure = failure }
            switch activity.phase {
            case .scheduled:
                $0.state = .scheduled
            case .started(let startedAt, let identity):
                $0.state = .started
                $0.lastStartedTime = startedAt.timestamp
                $0.lastWorkerIdentity = identity
                if let heartbeat = activity.lastHeartbeatAt, heartbeat > startedAt { $0.lastHeartbeatTime = heartbeat.timestamp }
            case .backingOff:
                $0.state = .scheduled
                if let retryAt = activity.retryAt { $0.nextAttemptScheduleTime = retryAt.timestamp }
            }
            if activity.cancelRequested { $0.state = .cancelRequested }
            if let pause = activity.pause {
                $0.paused = true
                // Paused while waiting, or while a worker still runs the attempt (Temporal's two states).
                if !activity.cancelRequested { $0.state = activity.phase == .scheduled ? .paused : .pauseRequested }
                $0.pauseInfo = .with {
                    $0.pauseTime = pause.at.timestamp
                    $0.manual = .with { $0.identity = pause.identity; $0.reason = pause.reason }
                }
                $0.clearNextAttemptScheduleTime()
            }
        }
    }

    /// A run as Describe and List report it.
    func executionInfo(_ run: WorkflowRun) -> Temporal_Api_Workflow_V1_WorkflowExecutionInfo {
        .with {
            $0.execution = .with { $0.workflowID = run.ref.workflowID; $0.runID = run.ref.runID }
            $0.type = .with { $0.name = run.workflowType }
            $0.startTime = run.startedAt.timestamp
            $0.executionTime = run.startedAt.timestamp
            if let closedAt = run.closedAt { $0.closeTime = closedAt.timestamp }
            $0.status = run.status
            $0.historyLength = run.lastEventID
            $0.taskQueue = run.taskQueue
            // The first run of the chain (retries and continue-as-new keep it), not this run.
            $0.firstRunID = run.firstRunID.isEmpty ? run.ref.runID : run.firstRunID
            $0.rootExecution = run.root
            if let started = history(run.ref.runID).first?.workflowExecutionStartedEventAttributes, started.hasPriority {
                $0.priority = started.priority
            }
            if let parent = run.parent {
                $0.parentExecution = .with { $0.workflowID = parent.workflowID; $0.runID = parent.runID }
            }
            let (memo, searchAttributes) = memoAndSearchAttributes(run.ref.runID)
            if !memo.isEmpty { $0.memo = .with { $0.fields = memo } }
            if !searchAttributes.isEmpty {
                $0.searchAttributes = .with { $0.indexedFields = typedSearchAttributes(searchAttributes, namespace: run.ref.namespace) }
            }
        }
    }

    /// Where a reset may go back to: the first workflow task each worker build (binary checksum, build id)
    /// completed, as Temporal records them (at most 20, the oldest dropped first).
    func autoResetPoints(_ run: WorkflowRun) -> [Temporal_Api_Workflow_V1_ResetPointInfo] {
        var seen = Set<[String]>()
        var points: [Temporal_Api_Workflow_V1_ResetPointInfo] = []
        for event in history(run.ref.runID) {
            guard case .workflowTaskCompletedEventAttributes(let completed)? = event.attributes else { continue }
            let buildID = completed.workerVersion.buildID
            guard seen.insert([completed.binaryChecksum, buildID]).inserted else { continue }
            points.append(.with {
                $0.binaryChecksum = completed.binaryChecksum
                $0.buildID = buildID
                $0.runID = run.ref.runID
                $0.firstWorkflowTaskCompletedID = event.eventID
                $0.createTime = event.eventTime
                $0.resettable = true
            })
        }
        return Array(points.suffix(20))
    }

    /// The run's memo and search attributes as its start and its later changes left them: Temporal merges
    /// each change into what was there, and a null value (or an empty one) removes its key.
    func memoAndSearchAttributes(_ runID: String) -> (memo: [String: Temporal_Api_Common_V1_Payload], searchAttributes: [String: Temporal_Api_Common_V1_Payload]) {
        var memo: [String: Temporal_Api_Common_V1_Payload] = [:]
        var searchAttributes: [String: Temporal_Api_Common_V1_Payload] = [:]
        func merge(_ changes: [String: Temporal_Api_Common_V1_Payload], into fields: inout [String: Temporal_Api_Common_V1_Payload]) {
            for (key, value) in changes { fields[key] = Self.isNull(value) ? nil : value }
        }
        for event in history(runID) {
            switch event.attributes {
            case .workflowExecutionStartedEventAttributes(let started)?:
                merge(started.memo.fields, into: &memo)
                merge(started.searchAttributes.indexedFields, into: &searchAttributes)
            case .workflowPropertiesModifiedEventAttributes(let modified)?:
                merge(modified.upsertedMemo.fields, into: &memo)
            case .upsertWorkflowSearchAttributesEventAttributes(let upsert)?:
                merge(upsert.searchAttributes.indexedFields, into: &searchAttributes)
            default: continue
            }
        }
        return (memo, searchAttributes)
    }

    /// A payload that stands for "no value": the SDKs' null encoding, nothing at all, or an empty list.
    static func isNull(_ payload: Temporal_Api_Common_V1_Payload) -> Bool {
        let encoding = payload.metadata["encoding"].map { String(decoding: $0, as: UTF8.self) }
        if encoding == "binary/null" { return true }
        let text = String(decoding: payload.data, as: UTF8.self)
        return payload.data.isEmpty || text == "null" || text == "[]"
    }

    package mutating func terminateWorkflow(_ request: TerminateWorkflowRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let run = try core.resolveRun(namespace: request.namespace, request.workflowExecution, field: "workflow_execution")
            guard run.isOpen else { throw EngineError(.notFound, "workflow execution already completed") }
            let runID = run.ref.runID
            return { core in
                core.terminate(runID, reason: request.reason, identity: request.identity,
                               details: request.hasDetails ? request.details : nil)
            }
        }
    }
}
