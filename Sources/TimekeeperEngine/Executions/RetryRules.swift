internal import SwiftProtobuf
package import TemporalAPI

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
