internal import SwiftProtobuf
internal import TemporalAPI

/// One change to one run: an event of its history, or a fact that Temporal keeps in a run's mutable state
/// rather than in its history (an activity attempt that started, a heartbeat, a sticky queue).
///
/// Every change to a run goes through `WorkflowRun.apply(_:)`, live and on recovery alike, so a run rebuilt
/// from its changes is the run that made them.
package enum RunChange: Sendable, Equatable {
    case event(HistoryEvent)
    case note(RunNote)
}

/// The facts of a run that are not history events (Temporal's mutable state keeps them beside history).
package enum RunNote: Sendable, Equatable {
    /// The start request the run was made from; retries and continue-as-new start the next run from it.
    case created(StartWorkflowRequest)
    /// The worker that completed the last workflow task has the run cached on this queue.
    case stickyQueueSet(name: String, scheduleToStart: Duration)
    /// Workflow tasks go to the normal queue again, with full history.
    case stickyQueueCleared
    /// A worker took the current attempt (Temporal writes the started event only when the attempt ends).
    case activityAttemptStarted(scheduledEventID: Int64, identity: String, at: Instant)
    /// A heartbeat, or the details a failing worker sent last (`at` is nil then: it is not a heartbeat).
    case activityHeartbeat(scheduledEventID: Int64, details: Payloads?, at: Instant?)
    /// The current attempt failed and the next waits for its retry backoff until `retryAt`.
    case activityAttemptFailed(scheduledEventID: Int64, failure: Failure, retryAt: Instant)
    /// The retry backoff ended: the next attempt waits in its queue.
    case activityAttemptScheduled(scheduledEventID: Int64, at: Instant)
    /// `PauseActivity` / `UnpauseActivity` (no history event, as in Temporal).
    case activityPaused(scheduledEventID: Int64, ActivityPause)
    case activityUnpaused(scheduledEventID: Int64, resetAttempts: Bool, resetHeartbeat: Bool, at: Instant)
    /// A paused activity's attempt failed; the next one waits for an unpause.
    case activityAttemptFailedWhilePaused(scheduledEventID: Int64, failure: Failure, at: Instant)
    /// A workflow task retried after a failure or timeout (attempt 2 on) is transient, as on Temporal's
    /// server: its scheduled and started events are written only if the attempt completes (or something
    /// else must be written first), so a task that fails again and again does not grow the history.
    /// These carry the events as the worker sees them, ids and times included.
    case transientWorkflowTaskScheduled(HistoryEvent)
    case transientWorkflowTaskStarted(HistoryEvent)
    /// The transient attempt failed or timed out: nothing is written.
    case transientWorkflowTaskEnded
    /// An event that came while a workflow task was started (a signal, an activity's or a child's result…):
    /// its effects on the run hold at once, but it is written only when the task has ended, after the
    /// task's own events, as Temporal's server buffers it. Carried without an id.
    case eventBuffered(HistoryEvent)
    /// The buffered events are written now, in `WorkflowRun.writingOrder`: the events that follow are they.
    case bufferedEventsWritten
}

/// A run's change with the run it belongs to.
package struct JournalEntry: Sendable, Equatable {
    package var runID: String
    package var change: RunChange
}

/// Everything one transition changed, as one value: the changes of each run in order, the workflow ids
/// whose current run changed, the engine records it changed (namespaces, registered search attributes,
/// schedules),
/// and what the shell must do once the transition is committed.
///
/// The core builds it while it applies a decided command (which cannot fail any more), the shell hands it
/// to the `ExecutionStore` and only then wakes anyone its effects name. A refused command leaves an empty
/// transition: nothing was decided, nothing changed.
package struct Transition: Sendable {
    package var journal: [JournalEntry] = []
    package var currentRuns: [WorkflowKey: String] = [:]
    /// Workflow ids left with no current run (their run was deleted).
    package var clearedCurrentRuns: Set<WorkflowKey> = []
    /// Runs deleted, with everything the store kept of them.
    package var deletedRuns: [String] = []
    /// Namespaces whose record changed, with the record now.
    package var namespaceRecords: [String: NamespaceRecord] = [:]
    /// Namespaces whose registered search attributes changed, with all of them now (empty: none left).
    package var registeredSearchAttributes: [String: [String: SearchAttributeType]] = [:]
    /// Schedules created or changed, with the record now, and schedules deleted.
    package var scheduleRecords: [ScheduleKey: ScheduleRecord] = [:]
    package var deletedSchedules: Set<ScheduleKey> = []
    /// Batch operations started or moved on, with the record now, and batches forgotten.
    package var batchRecords: [BatchKey: BatchRecord] = [:]
    package var deletedBatches: Set<BatchKey> = []
    package var effects: [EngineCore.Effect] = []

    package init() {}

    package var isEmpty: Bool {
        journal.isEmpty && currentRuns.isEmpty && clearedCurrentRuns.isEmpty && deletedRuns.isEmpty && effects.isEmpty
            && namespaceRecords.isEmpty && registeredSearchAttributes.isEmpty && scheduleRecords.isEmpty
            && deletedSchedules.isEmpty && batchRecords.isEmpty && deletedBatches.isEmpty
    }
}
