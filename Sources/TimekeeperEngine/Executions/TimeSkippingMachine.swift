internal import SwiftProtobuf
package import TemporalAPI

package typealias TimeSkippingConfig = Temporal_Api_Common_V1_TimeSkippingConfig

/// A run's own clock under Temporal's per-workflow time skipping ("time skipping V2"): the run's virtual
/// now is the engine's now plus `offset`, which grows by each skip. Every instant in a run's state comes
/// from its events, so it is virtual; `Refresher` turns them into engine time for the timetable.
///
/// Built by the reducer from three events: WorkflowExecutionStarted (the config and what a previous run or
/// a parent passed on), WorkflowExecutionTimeSkippingTransitioned (a skip, or a fast-forward's end) and
/// WorkflowExecutionOptionsUpdated (a new config, which starts a new session).
package struct TimeSkippingState: Sendable, Equatable {
    /// As Temporal keeps it: `enabled` turns false when a fast-forward ends or the session's skips run out.
    package var config: TimeSkippingConfig
    package var offset: Duration = .zero
    /// Skips since skipping was last enabled (Temporal's "session").
    package var sessionSkips: Int32 = 0
    /// The virtual instant the current fast-forward ends at, if one was asked for.
    package var fastForwardTarget: Instant?
    package var fastForwardCompleted = false

    package var isEnabled: Bool { config.enabled }
    package var fastForwardID: String { config.fastForwardConfig.id }
    /// A fast-forward that is still to reach its target.
    package var pendingFastForward: Instant? { fastForwardCompleted ? nil : fastForwardTarget }

    /// From a run's started event; `nil` when the run never had time skipping.
    init?(started attributes: Temporal_Api_History_V1_WorkflowExecutionStartedEventAttributes, at time: Instant) {
        guard attributes.hasTimeSkippingConfig || attributes.hasTimeSkippingStatePropagation else { return nil }
        config = attributes.timeSkippingConfig
        let passedOn = attributes.timeSkippingStatePropagation
        offset = Duration(protobuf: passedOn.initialSkippedDuration)
        sessionSkips = passedOn.initialSkipCount
        if passedOn.hasFastForwardTargetTime {
            fastForwardTarget = Instant(passedOn.fastForwardTargetTime)
        } else if config.hasFastForwardConfig {
            fastForwardTarget = time + Duration(protobuf: config.fastForwardConfig.duration)
        }
    }

    /// Skipping asked for on a run that had none (its clock has not moved yet).
    init(config: TimeSkippingConfig, at time: Instant) {
        self.config = TimeSkippingConfig()
        replace(config, at: time)
    }

    /// A skip (the run's clock moves from the event's time to `target_time`), or a fast-forward's end.
    mutating func transition(_ attributes: Temporal_Api_History_V1_WorkflowExecutionTimeSkippingTransitionedEventAttributes,
                             at time: Instant) {
        if attributes.hasTargetTime, Instant(attributes.targetTime) > time {
            offset += Instant(attributes.targetTime) - time
        }
        sessionSkips += 1
        if attributes.disabledAfterFastForward {
            config.enabled = false
            fastForwardCompleted = true
        }
        if config.maxSessionSkipCount > 0, sessionSkips >= config.maxSessionSkipCount { config.enabled = false }
    }

    /// A new config replaces the old one whole and starts a new session.
    mutating func replace(_ config: TimeSkippingConfig, at time: Instant) {
        self.config = config
        sessionSkips = 0
        fastForwardCompleted = false
        fastForwardTarget = config.hasFastForwardConfig ? time + Duration(protobuf: config.fastForwardConfig.duration) : nil
    }

    /// What a retry, cron or continue-as-new run goes on with: config, offset, fast-forward and skip count.
    var propagationToNextRun: Temporal_Api_Common_V1_TimeSkippingStatePropagation {
        .with {
            $0.initialSkippedDuration = offset.protobuf
            $0.initialSkipCount = sessionSkips
            if let target = pendingFastForward { $0.fastForwardTargetTime = target.timestamp }
        }
    }

    /// What a child starts with: its config, the parent's without the fast-forward unless the parent set
    /// `disable_propagation` (then none), and the parent's virtual now. The parent's initiated event and
    /// the child's started event both record it.
    var passedToChild: (config: TimeSkippingConfig?, propagation: Temporal_Api_Common_V1_TimeSkippingStatePropagation) {
        var child: TimeSkippingConfig?
        if !config.disablePropagation {
            child = config
            child!.clearFastForwardConfig()
        }
        return (child, .with { $0.initialSkippedDuration = offset.protobuf })
    }
}

extension WorkflowRun {
    /// The next instant (virtual) this idle run would skip to, and whether it is the fast-forward's end;
    /// `nil` when it must not skip: skipping is off, or work is in flight (a workflow task, an activity
    /// that is not waiting out a retry backoff, a child, a request to another workflow), or nothing is
    /// ahead. Temporal's server decides the same at the end of each transaction
    /// (`closeTransactionHandleWorkflowTimeSkipping`).
    func skipTarget(now: Instant) -> (target: Instant, endsFastForward: Bool)? {
        guard isOpen, let skipping = timeSkipping, skipping.isEnabled, workflowTask == .none, children.isEmpty,
            externalRequests.isEmpty, activities.values.allSatisfy({ $0.phase == .backingOff && !$0.isPaused })
        else { return nil }
        var ahead: [Instant] = timers.values.map(\.fireAt)
        ahead += activities.values.compactMap(\.retryAt)
        if !firstTaskScheduled, backoff > .zero { ahead.append(startedAt + backoff) }
        // The run's deadline counts only once the workflow has had a workflow task.
        // (The ten years an unset timeout is normalised to are not a deadline: a run that only waits for a
        // signal does not skip, as on Temporal's server.)
        if firstTaskScheduled, hasRequestedDeadline { ahead.append(startedAt + backoff + timeouts.run) }
        let next = ahead.filter { $0 > now }.min()
        if let fastForward = skipping.pendingFastForward, next.map({ fastForward <= $0 }) ?? true {
            return (max(fastForward, now), true)
        }
        return next.map { ($0, false) }
    }
}
