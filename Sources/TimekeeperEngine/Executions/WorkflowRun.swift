internal import SwiftProtobuf
package import TemporalAPI

package typealias HistoryEvent = Temporal_Api_History_V1_HistoryEvent
package typealias ExecutionStatus = Temporal_Api_Enums_V1_WorkflowExecutionStatus

/// The mutable state of one workflow run: its history (the source of truth) and what is derived from
/// it to decide quickly what happens next.
package struct WorkflowRun: Sendable {
    /// Where the run's workflow task stands. At most one workflow task is outstanding per run.
    package enum WorkflowTaskState: Sendable, Equatable {
        case none
        case scheduled(scheduledEventID: Int64, attempt: Int32, scheduledAt: Instant)
        case started(scheduledEventID: Int64, startedEventID: Int64, attempt: Int32, scheduledAt: Instant,
                     startedAt: Instant, timeout: EntryID)

        var scheduledEventID: Int64? {
            switch self {
            case .none: nil
            case .scheduled(let id, _, _), .started(let id, _, _, _, _, _): id
            }
        }

        /// Whether this is the scheduled, not yet started task with this scheduled event id.
        func isWaiting(_ scheduledEventID: Int64) -> Bool {
            if case .scheduled(scheduledEventID, _, _) = self { return true }
            return false
        }

        var attempt: Int32 {
            switch self {
            case .none: 0
            case .scheduled(_, let attempt, _), .started(_, _, let attempt, _, _, _): attempt
            }
        }
    }

    package let ref: RunRef
    package let workflowType: String
    package let taskQueue: String
    package let timeouts: WorkflowTimeouts
    package let startRequestID: String
    package let startedAt: Instant
    package private(set) var status: ExecutionStatus = .running
    package private(set) var closedAt: Instant?
    /// The run's events. A reference, so that the transient copies of a run that transitions make never
    /// duplicate a long history when it grows (see `EventLog`).
    private let log = EventLog()
    package var history: [HistoryEvent] { log.events }
    package var workflowTask: WorkflowTaskState = .none
    /// The started event id of the last completed workflow task (`previous_started_event_id`).
    package var lastCompletedWorkflowTaskStartedEventID: Int64 = 0
    /// Set when events arrive while a workflow task runs, so that another is scheduled after it.
    package var hasUnhandledEvents = false
    package var runTimeoutEntry: EntryID?
    /// The first workflow task's backoff (a retry's or a start delay) until the task is scheduled, when it
    /// fires or earlier (a signal): left behind, it would schedule a needless task or outlive the run.
    package var backoffEntry: EntryID?
    /// The worker-specific queue of the worker that has this run cached (from the last completion's
    /// `sticky_attributes`), and how long a task may wait there before it goes to the normal queue.
    package var stickyQueue: String?
    package var stickyScheduleToStart: Duration = .seconds(5)
    package var stickyTimeoutEntry: EntryID?
    /// Pending user timers by timer id: the started event and the timetable entry.
    package var timers: [String: (startedEventID: Int64, entry: EntryID)] = [:]
    /// Open activities by scheduled event id.
    package var activities: [Int64: ActivityState] = [:]
    package var cancelRequested = false
    /// Consistent queries waiting for this run's next workflow task.
    package var bufferedQueries: [QueryID] = []
    /// Queries handed out with the workflow task now running, answered by its completion.
    package var queriesInFlight: [QueryID] = []
    /// Workflow retry: this run's attempt, the policy and the first run of the chain.
    package var attempt: Int32 = 1
    package var retryPolicy: RetryPolicy?
    package var firstRunID: String = ""
    /// The start request this run was created from (for retries that start the next run).
    package var startRequest: StartWorkflowRequest?

    package init(ref: RunRef, workflowType: String, taskQueue: String, timeouts: WorkflowTimeouts,
                 startRequestID: String, startedAt: Instant) {
        self.ref = ref
        self.workflowType = workflowType
        self.taskQueue = taskQueue
        self.timeouts = timeouts
        self.startRequestID = startRequestID
        self.startedAt = startedAt
    }

    package var isOpen: Bool { status == .running }
    package var lastEventID: Int64 { Int64(log.events.count) }
    package var closeEvent: HistoryEvent? { isOpen ? nil : log.events.last }

    /// Events from `firstEventID` on (1-based), without copying the rest of the history.
    package func events(from firstEventID: Int64) -> ArraySlice<HistoryEvent> {
        let start = min(max(0, Int(firstEventID) - 1), log.events.count)
        return log.events[start...]
    }

    /// Appends one event, numbering it; `taskID` is the engine-wide sequence number.
    @discardableResult
    package mutating func append(
        _ type: Temporal_Api_Enums_V1_EventType, at time: Instant, taskID: Int64,
        _ fill: (inout HistoryEvent) -> Void
    ) -> Int64 {
        var event = HistoryEvent()
        event.eventID = lastEventID + 1
        event.eventTime = time.timestamp
        event.eventType = type
        event.taskID = taskID
        fill(&event)
        log.events.append(event)
        return event.eventID
    }

    /// Marks the run closed; the caller has appended the close event.
    package mutating func close(_ status: ExecutionStatus, at time: Instant) {
        precondition(status != .running, "close(_:) needs a terminal status")
        self.status = status
        closedAt = time
        workflowTask = .none
        hasUnhandledEvents = false
    }
}

/// A run's history, boxed. `WorkflowRun` is a value that transitions copy into locals; with the events
/// inline, every append while such a copy lived would copy the whole history (O(n) per event). Only
/// `EngineCore` touches it, always under the engine's lock.
final class EventLog: @unchecked Sendable {
    var events: [HistoryEvent] = []
}
