internal import SwiftProtobuf
package import TemporalAPI

package typealias UpdateWorkflowOptionsRequest = Temporal_Api_Workflowservice_V1_UpdateWorkflowExecutionOptionsRequest
package typealias UpdateWorkflowOptionsResponse = Temporal_Api_Workflowservice_V1_UpdateWorkflowExecutionOptionsResponse
package typealias PollTimeSkippingRequest = Temporal_Api_Workflowservice_V1_PollWorkflowExecutionTimeSkippingRequest
package typealias PollTimeSkippingResponse = Temporal_Api_Workflowservice_V1_PollWorkflowExecutionTimeSkippingResponse

/// Per-workflow time skipping (Temporal's "time skipping V2"): each run with it enabled skips its own
/// clock to its next deadline whenever nothing is in flight, with no wall-time floor per skip (Temporal's
/// server pays about a second for each, see the clock contract); fast-forwards; the session skip limit;
/// what passes on to children and next runs. The skips are history events, so a rebuilt run has its clock.
extension EngineCore {
    /// Checks a config a client sent and fills in what Temporal's frontend fills in
    /// (`validateAndPopulateTimeSkippingConfig`).
    func validatedTimeSkippingConfig(_ config: TimeSkippingConfig) throws(EngineError) -> TimeSkippingConfig {
        guard configuration.timeSkippingV2Enabled else {
            throw EngineError(.unimplemented, "The Time-Skipping feature is not enabled for namespace.")
        }
        var config = config
        if config.maxSessionSkipCount <= 0 { config.maxSessionSkipCount = max(1, configuration.timeSkippingMaxSkipsPerSession) }
        if config.hasFastForwardConfig {
            guard config.enabled else {
                throw .invalidArgument("time_skipping_config.fast_forward_config cannot be set when time skipping is not enabled")
            }
            guard Duration(protobuf: config.fastForwardConfig.duration) > .zero else {
                throw .invalidArgument("time_skipping_config.fast_forward_config.duration: the fast_forward duration must be positive")
            }
            guard !config.fastForwardConfig.id.allSatisfy(\.isWhitespace) else {
                throw .invalidArgument("time_skipping_config.fast_forward_config: fast_forward_id must be set")
            }
        }
        return config
    }

    /// What a new run's started event says about time skipping: a retry, cron or continue-as-new run goes
    /// on with the previous run's clock, config, fast-forward and skip count; a child starts at its parent's
    /// virtual now, with the parent's config less the fast-forward (unless the parent disabled
    /// propagation); any other run has what its request asked for.
    func timeSkippingOnStart(_ request: StartWorkflowRequest, previous: WorkflowRun?, parentRunID: String?)
        -> (config: TimeSkippingConfig?, passedOn: Temporal_Api_Common_V1_TimeSkippingStatePropagation?)
    {
        if let previous {
            guard let skipping = previous.timeSkipping else { return (nil, nil) }
            return (skipping.config, skipping.propagationToNextRun)
        }
        if let parentRunID, let parent = runs[parentRunID], let skipping = parent.timeSkipping {
            let (config, propagation) = skipping.passedToChild
            return (config, propagation)
        }
        return (request.hasTimeSkippingConfig ? request.timeSkippingConfig : nil, nil)
    }

    /// Skips the clock of each run that changed, is idle and has something ahead (see
    /// `WorkflowRun.skipTarget`): a TimeSkippingTransitioned event, after which its deadline is due now.
    mutating func skipIdleRuns(_ runIDs: [String]) {
        var seen = Set<String>()
        for runID in runIDs where seen.insert(runID).inserted {
            guard let run = runs[runID], run.timeSkipping?.isEnabled == true else { continue }
            let now = runNow(runID)
            guard let (target, endsFastForward) = run.skipTarget(now: now) else { continue }
            recordSkip(runID, to: target > now ? target : nil, endsFastForward: endsFastForward)
        }
    }

    /// The end of a fast-forward reached in wall time while the run was busy: skipping stops, the clock
    /// stays where it is (Temporal's `executeTimeSkippingTimerTask`).
    mutating func endFastForward(_ runID: String) {
        guard let skipping = runs[runID]?.timeSkipping, skipping.isEnabled, let target = skipping.pendingFastForward else { return }
        let now = runNow(runID)
        recordSkip(runID, to: target > now ? target : nil, endsFastForward: true)
    }

    private mutating func recordSkip(_ runID: String, to target: Instant?, endsFastForward: Bool) {
        let wallTime = clock.now
        let from = runNow(runID)
        record(runID, .workflowExecutionTimeSkippingTransitioned) {
            // Workers that do not know the event may skip it (Temporal sets this on it too).
            $0.workerMayIgnore = true
            $0.workflowExecutionTimeSkippingTransitionedEventAttributes = .with {
                if let target { $0.targetTime = target.timestamp }
                $0.disabledAfterFastForward = endsFastForward
                $0.wallClockTime = wallTime.timestamp
            }
        }
        if let run = runs[runID], let skipping = run.timeSkipping {
            emit(.workflowClockSkipped(WorkflowClockSkip(
                run: run.ref, from: from, to: target ?? from, endsFastForward: endsFastForward,
                sessionSkips: skipping.sessionSkips, stillEnabled: skipping.isEnabled)))
        }
    }

    /// `UpdateWorkflowExecutionOptions`: only the whole `time_skipping_config` can be set (Temporal refuses
    /// a partial path); versioning overrides and priority are not served.
    package mutating func updateWorkflowOptions(_ request: UpdateWorkflowOptionsRequest, wallNow: Instant) throws(EngineError)
        -> UpdateWorkflowOptionsResponse
    {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let paths = request.updateMask.paths
            guard !paths.isEmpty else { throw .invalidArgument("update_mask is not set") }
            for path in paths {
                let name = path.replacingUnderscoresWithCamelCase
                if name.hasPrefix("timeSkippingConfig.") {
                    throw .invalidArgument("time_skipping_config doesn't support partial update")
                }
                guard name == "timeSkippingConfig" else {
                    throw EngineError(.unimplemented, "update_mask path \(path) is not served (only time_skipping_config is)")
                }
            }
            let run = try core.resolveRun(namespace: request.namespace, request.workflowExecution, field: "workflow_execution")
            guard run.isOpen else { throw EngineError(.notFound, "workflow execution already completed") }
            let config = try core.validatedTimeSkippingConfig(request.workflowExecutionOptions.timeSkippingConfig)
            let runID = run.ref.runID
            return { core in
                core.record(runID, .workflowExecutionOptionsUpdated) {
                    $0.workerMayIgnore = true  // as Temporal's server marks it: SDKs skip it on replay
                    $0.workflowExecutionOptionsUpdatedEventAttributes = .with {
                        $0.timeSkippingConfig = config
                        $0.timeSkippingConfigUpdated = true
                        $0.identity = request.identity
                    }
                }
                return .with { $0.workflowExecutionOptions = .with { $0.timeSkippingConfig = config } }
            }
        }
    }

    /// Describe's `time_skipping_info`: the run's virtual now and its config as it stands.
    func timeSkippingInfo(_ run: WorkflowRun) -> Temporal_Api_Common_V1_TimeSkippingInfo? {
        guard let skipping = run.timeSkipping else { return nil }
        return .with {
            $0.currentTime = (run.isOpen ? runNow(run.ref.runID) : run.closedAt ?? runNow(run.ref.runID)).timestamp
            $0.effectiveConfig = skipping.config
            if let info = fastForwardInfo(skipping) { $0.fastForwardInfo = info }
            $0.currentSessionSkipCount = skipping.sessionSkips
        }
    }

    private func fastForwardInfo(_ skipping: TimeSkippingState) -> Temporal_Api_Common_V1_TimeSkippingFastForwardInfo? {
        guard let target = skipping.fastForwardTarget else { return nil }
        return .with {
            $0.fastForwardDuration = skipping.config.fastForwardConfig.duration
            $0.fastForwardID = skipping.fastForwardID
            $0.targetTime = target.timestamp
            $0.hasCompleted_p = skipping.fastForwardCompleted
        }
    }

    /// What `PollWorkflowExecutionTimeSkipping` answers now for the workflow's current run, or `nil` while
    /// the fast-forward is still under way (the caller waits for the run to change).
    package func pollTimeSkipping(_ request: PollTimeSkippingRequest) throws(EngineError)
        -> (answer: PollTimeSkippingResponse?, runID: String)
    {
        guard configuration.timeSkippingV2Enabled else {
            throw EngineError(.unimplemented, "The Time-Skipping feature is not enabled for namespace.")
        }
        var execution = request.workflowExecution
        execution.runID = ""  // the chain's current run: a fast-forward follows retries and continue-as-new
        let run = try resolveRun(namespace: request.namespace, execution, field: "workflow_execution")
        func failed(_ reason: String) -> PollTimeSkippingResponse {
            .with {
                $0.fastForwardPollingResult = .fastForwardFailed
                $0.failedReason = reason
                if let skipping = run.timeSkipping, let info = fastForwardInfo(skipping) { $0.fastForwardInfo = info }
            }
        }
        guard let skipping = run.timeSkipping, skipping.fastForwardTarget != nil else {
            return (failed("the requested fast_forward_id does not match the execution's current fast-forward"), run.ref.runID)
        }
        guard skipping.fastForwardID == request.fastForwardID else {
            return (failed("the requested fast_forward_id does not match the execution's current fast-forward"), run.ref.runID)
        }
        if skipping.fastForwardCompleted {
            return (.with {
                $0.fastForwardPollingResult = .fastForwardCompleted
                if let info = fastForwardInfo(skipping) { $0.fastForwardInfo = info }
            }, run.ref.runID)
        }
        // (A run that continued as a retry, cron run or new run is not current: its successor, which went on
        // with the fast-forward, is what was resolved.)
        guard run.isOpen else { return (failed("the execution ended before the fast-forward completed"), run.ref.runID) }
        guard skipping.isEnabled else { return (failed("time skipping was disabled before the fast-forward completed"), run.ref.runID) }
        return (nil, run.ref.runID)
    }
}

/// One skip of a workflow's own clock, as the log tells it.
package struct WorkflowClockSkip: Sendable, CustomStringConvertible {
    package var run: RunRef
    package var from: Instant
    package var to: Instant
    package var endsFastForward: Bool
    package var sessionSkips: Int32
    package var stillEnabled: Bool

    package var description: String {
        var text = "workflow \(run.workflowID) (run \(run.runID)) skipped its own clock from \(from) to \(to) "
            + "(+\((to - from).secondsValue) s, skip \(sessionSkips) of its session)"
        if endsFastForward { text += "; its fast-forward ended there, and skipping stops" }
        else if !stillEnabled { text += "; that was the session's last skip, and skipping stops" }
        return text
    }
}

extension String {
    /// `time_skipping_config` → `timeSkippingConfig`, as Temporal's server reads field-mask paths.
    var replacingUnderscoresWithCamelCase: String {
        var result = ""
        var upperNext = false
        for character in self {
            if character == "_" { upperNext = true; continue }
            result.append(upperNext ? Character(character.uppercased()) : character)
            upperNext = false
        }
        return result
    }
}
