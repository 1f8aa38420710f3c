internal import SwiftProtobuf
package import TemporalAPI

package typealias RetryPolicy = Temporal_Api_Common_V1_RetryPolicy
package typealias Failure = Temporal_Api_Failure_V1_Failure
package typealias Payloads = Temporal_Api_Common_V1_Payloads
package typealias ActivityTimeoutType = Temporal_Api_Enums_V1_TimeoutType

/// One scheduled activity of a run, across all its attempts.
package struct ActivityState: Sendable {
    package enum Phase: Sendable, Equatable {
        /// Waiting in its task queue for a worker.
        case scheduled
        /// A worker is running this attempt.
        case started(startedAt: Instant, identity: String)
        /// The last attempt failed; the next waits for its retry backoff.
        case backingOff
    }

    package let scheduledEventID: Int64
    package let activityID: String
    package let activityType: String
    package let taskQueue: String
    package let attributes: Temporal_Api_Command_V1_ScheduleActivityTaskCommandAttributes
    package let timeouts: ActivityTimeouts
    package let retryPolicy: RetryPolicy
    package let firstScheduledAt: Instant
    package var attempt: Int32 = 1
    package var attemptScheduledAt: Instant
    package var phase: Phase = .scheduled
    package var heartbeatDetails: Payloads?
    package var lastHeartbeatAt: Instant?
    package var lastFailure: Failure?
    package var cancelRequested = false
    package var cancelRequestedEventID: Int64 = 0
    /// This attempt's pending timetable entries (schedule-to-start, start-to-close, heartbeat).
    package var attemptEntries: [EntryID] = []
    /// The schedule-to-close entry, which spans attempts.
    package var scheduleToCloseEntry: EntryID?
}

/// An activity's four timeouts after Temporal's normalisation.
package struct ActivityTimeouts: Sendable, Equatable {
    package var scheduleToClose: Duration
    package var scheduleToStart: Duration
    package var startToClose: Duration
    package var heartbeat: Duration

    /// Fills in each timeout from the others and caps them by the run timeout, as Temporal does: at
    /// least one of schedule-to-close and start-to-close must be set.
    package init(_ command: Temporal_Api_Command_V1_ScheduleActivityTaskCommandAttributes, runTimeout: Duration,
                 field: String) throws(EngineError)
    {
        let requested = (
            scheduleToClose: Duration(protobuf: command.scheduleToCloseTimeout),
            scheduleToStart: Duration(protobuf: command.scheduleToStartTimeout),
            startToClose: Duration(protobuf: command.startToCloseTimeout),
            heartbeat: Duration(protobuf: command.heartbeatTimeout))
        for (name, value) in [
            ("schedule_to_close_timeout", requested.scheduleToClose), ("schedule_to_start_timeout", requested.scheduleToStart),
            ("start_to_close_timeout", requested.startToClose), ("heartbeat_timeout", requested.heartbeat),
        ] where value < .zero {
            throw .invalidArgument("\(field).\(name) must not be negative")
        }
        guard requested.scheduleToClose > .zero || requested.startToClose > .zero else {
            throw .invalidArgument("\(field): a valid start_to_close_timeout or schedule_to_close_timeout is not set")
        }
        scheduleToClose = requested.scheduleToClose > .zero ? min(requested.scheduleToClose, runTimeout) : runTimeout
        scheduleToStart = requested.scheduleToStart > .zero ? min(requested.scheduleToStart, scheduleToClose) : scheduleToClose
        startToClose = requested.startToClose > .zero ? min(requested.startToClose, scheduleToClose) : scheduleToClose
        heartbeat = min(requested.heartbeat, startToClose)
    }
}

/// Temporal's retry policy rules, shared by activities and workflows.
package enum RetryRules {
    /// The policy with Temporal's defaults filled in: 1 s initial interval, coefficient 2, maximum
    /// interval 100 × initial, unlimited attempts.
    package static func withDefaults(_ policy: RetryPolicy?) -> RetryPolicy {
        var policy = policy ?? RetryPolicy()
        if Duration(protobuf: policy.initialInterval) <= .zero { policy.initialInterval = Duration.seconds(1).protobuf }
        if policy.backoffCoefficient < 1 { policy.backoffCoefficient = 2 }
        if Duration(protobuf: policy.maximumInterval) <= .zero {
            policy.maximumInterval = (Duration(protobuf: policy.initialInterval) * 100).protobuf
        }
        return policy
    }

    package enum Decision: Sendable, Equatable {
        case retry(after: Duration)
        case stop(Temporal_Api_Enums_V1_RetryState)
    }

    /// Whether attempt `attempt` (1-based), which failed with `failure`, is tried again and after how long.
    /// `deadline` is the schedule-to-close or execution deadline the retry must start before.
    package static func decide(policy: RetryPolicy, attempt: Int32, failure: Failure?, now: Instant, deadline: Instant?)
        -> Decision
    {
        if let info = failure?.applicationFailureInfoIfPresent {
            if info.nonRetryable { return .stop(.nonRetryableFailure) }
            if policy.nonRetryableErrorTypes.contains(info.type) { return .stop(.nonRetryableFailure) }
        }
        if policy.maximumAttempts > 0 && attempt >= policy.maximumAttempts { return .stop(.maximumAttemptsReached) }
        var delay: Duration
        if let explicit = failure?.applicationFailureInfoIfPresent?.nextRetryDelay, explicit.seconds > 0 || explicit.nanos > 0 {
            delay = Duration(protobuf: explicit)
        } else {
            let initial = Duration(protobuf: policy.initialInterval).secondsValue
            let seconds = initial * pow(policy.backoffCoefficient, Double(attempt - 1))
            delay = .nanoseconds(Int64(min(seconds, Duration(protobuf: policy.maximumInterval).secondsValue) * 1e9))
        }
        if delay < .zero { delay = .zero }
        if let deadline, now + delay >= deadline { return .stop(.timeout) }
        return .retry(after: delay)
    }
}

extension Failure {
    var applicationFailureInfoIfPresent: Temporal_Api_Failure_V1_ApplicationFailureInfo? {
        if case .applicationFailureInfo(let info) = failureInfo { return info }
        return nil
    }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var remaining = Int(exponent)
    while remaining > 0 && result < 1e18 {
        result *= base
        remaining -= 1
    }
    return result
}
