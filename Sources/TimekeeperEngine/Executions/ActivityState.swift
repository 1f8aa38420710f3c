internal import SwiftProtobuf
package import TemporalAPI

package typealias RetryPolicy = Temporal_Api_Common_V1_RetryPolicy
package typealias Failure = Temporal_Api_Failure_V1_Failure
package typealias Payloads = Temporal_Api_Common_V1_Payloads
package typealias ActivityTimeoutType = Temporal_Api_Enums_V1_TimeoutType
package typealias ActivityScheduledAttributes = Temporal_Api_History_V1_ActivityTaskScheduledEventAttributes

/// One scheduled activity of a run, across all its attempts: its state machine.
///
/// `scheduled` (waiting in its queue) —attempt started→ `started` —attempt failed, retry allowed→
/// `backingOff` —backoff over→ `scheduled` …; a completed, failed, timed-out or canceled event ends it
/// from any phase. Only the scheduled and closing events are history; the attempts in between are notes
/// (`RunNote`), as Temporal keeps them in mutable state.
package struct ActivityState: Sendable, Equatable {
    package enum Phase: Sendable, Equatable {
        /// Waiting in its task queue for a worker.
        case scheduled
        /// A worker is running this attempt.
        case started(startedAt: Instant, identity: String)
        /// The last attempt failed; the next waits for its retry backoff (until `retryAt`).
        case backingOff
    }

    package let scheduledEventID: Int64
    /// The ActivityTaskScheduled event's attributes: id, type, queue, input, header, timeouts, policy.
    package let scheduled: ActivityScheduledAttributes
    package let timeouts: ActivityTimeouts
    package let firstScheduledAt: Instant
    package private(set) var attempt: Int32 = 1
    package private(set) var attemptScheduledAt: Instant
    package private(set) var phase: Phase = .scheduled
    package private(set) var retryAt: Instant?
    package private(set) var heartbeatDetails: Payloads?
    package private(set) var lastHeartbeatAt: Instant?
    package private(set) var lastFailure: Failure?
    package private(set) var cancelRequested = false
    package private(set) var cancelRequestedEventID: Int64 = 0
    /// Set while paused (`PauseActivity`): no attempt is handed out and no timeout runs; a running attempt
    /// goes on, and learns of the pause from its heartbeat's answer.
    package private(set) var pause: ActivityPause?
    package var isPaused: Bool { pause != nil }
    /// Whether the attempt waits in its queue for a worker (scheduled and not paused).
    package var isWaitingForWorker: Bool { phase == .scheduled && pause == nil }

    package var activityID: String { scheduled.activityID }
    package var activityType: String { scheduled.activityType.name }
    package var taskQueue: String { scheduled.taskQueue.name }
    package var retryPolicy: RetryPolicy { scheduled.retryPolicy }

    init(scheduledEventID: Int64, _ attributes: ActivityScheduledAttributes, at time: Instant) {
        self.scheduledEventID = scheduledEventID
        self.scheduled = attributes
        self.timeouts = ActivityTimeouts(recorded: attributes)
        self.firstScheduledAt = time
        self.attemptScheduledAt = time
    }

    // MARK: Transitions

    mutating func startAttempt(identity: String, at time: Instant) throws(RunChangeError) {
        guard phase == .scheduled else { throw refusal("start an attempt") }
        phase = .started(startedAt: time, identity: identity)
        lastHeartbeatAt = time
    }

    /// A heartbeat (`at` set) or the last details a failing worker sent (`at` nil).
    mutating func heartbeat(details: Payloads?, at time: Instant?) throws(RunChangeError) {
        guard case .started = phase else { throw refusal("heartbeat") }
        if let details { heartbeatDetails = details }
        if let time { lastHeartbeatAt = time }
    }

    mutating func failAttempt(_ failure: Failure, retryAt: Instant) throws(RunChangeError) {
        guard case .started = phase else { throw refusal("fail an attempt for a retry") }
        lastFailure = failure
        attempt += 1
        phase = .backingOff
        self.retryAt = retryAt
    }

    mutating func scheduleAttempt(at time: Instant) throws(RunChangeError) {
        guard phase == .backingOff else { throw refusal("schedule the next attempt") }
        phase = .scheduled
        attemptScheduledAt = time
        retryAt = nil
    }

    mutating func pause(_ pause: ActivityPause) throws(RunChangeError) {
        guard self.pause == nil else { throw refusal("be paused again") }
        self.pause = pause
    }

    /// Unpaused: a waiting attempt is scheduled again from `time` (Temporal re-creates its task then).
    mutating func unpause(resetAttempts: Bool, resetHeartbeat: Bool, at time: Instant) throws(RunChangeError) {
        guard pause != nil else { throw refusal("be unpaused") }
        pause = nil
        if resetAttempts { attempt = 1 }
        if resetHeartbeat { heartbeatDetails = nil; lastHeartbeatAt = nil }
        if phase == .scheduled { attemptScheduledAt = time }
    }

    /// A paused activity's attempt failed: the next attempt waits, paused, with no retry backoff and no
    /// maximum-attempts check (Temporal's rule: an unpause decides when it runs).
    mutating func failAttemptWhilePaused(_ failure: Failure, at time: Instant) throws(RunChangeError) {
        guard case .started = phase, pause != nil else { throw refusal("fail an attempt while paused") }
        lastFailure = failure
        attempt += 1
        phase = .scheduled
        attemptScheduledAt = time
    }

    mutating func requestCancel(eventID: Int64) {
        cancelRequested = true
        cancelRequestedEventID = eventID
    }

    private func refusal(_ what: String) -> RunChangeError {
        RunChangeError(
            .invalidTransition, "activity \(activityID) (scheduled event \(scheduledEventID)) cannot \(what) while \(phase)")
    }
}

/// Who paused an activity, when and why (Describe's `pause_info`); the request id makes a repeated
/// pause a no-op.
package struct ActivityPause: Sendable, Equatable {
    package var at: Instant
    package var identity: String
    package var reason: String
    package var requestID: String

    package init(at: Instant, identity: String, reason: String, requestID: String) {
        self.at = at
        self.identity = identity
        self.reason = reason
        self.requestID = requestID
    }
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

    /// The normalised timeouts as the scheduled event recorded them.
    init(recorded attributes: ActivityScheduledAttributes) {
        scheduleToClose = Duration(protobuf: attributes.scheduleToCloseTimeout)
        scheduleToStart = Duration(protobuf: attributes.scheduleToStartTimeout)
        startToClose = Duration(protobuf: attributes.startToCloseTimeout)
        heartbeat = Duration(protobuf: attributes.heartbeatTimeout)
    }
}
