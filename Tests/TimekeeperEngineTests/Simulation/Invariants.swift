/// Every rule the simulation checks after every step, in one place. `InvariantChecker` checks them;
/// `HistoryAudit` checks the ones about a single history as it grows.
enum Invariant: String, CaseIterable, Sendable {
    // MARK: History

    /// History event ids run 1, 2, 3, … without gaps in every run, and only the first is the run's start.
    case contiguousEventIDs
    /// Event times never go backwards within a run nor lie ahead of virtual now; task ids only grow.
    case eventOrder
    /// A run has at most one workflow task outstanding; each scheduled workflow task is started at most
    /// once and closed (completed, failed, timed out) at most once, and only after it started.
    case workflowTaskLifecycle
    /// A workflow task's attempt is one more than the previous one's if that failed or timed out, else 1
    /// (an UNHANDLED_COMMAND failure is the server's, not the worker's, and starts again at 1).
    case workflowTaskAttempts
    /// Each scheduled activity is started at most once and closed at most once, naming its started event;
    /// a cancel request names an open activity.
    case activityLifecycle
    /// A timer fires or is cancelled at most once; a timer id is not reused while its timer is pending.
    case timerLifecycle
    /// A closed run has exactly one close event and it is its last; an open run has none.
    case closeEventLast
    /// The events a completion's commands write follow its WorkflowTaskCompleted with no workflow task
    /// scheduled or started among them (a worker handed a task mid-batch sees half the commands' events).
    case commandBatches
    /// A close that names the next run (continue-as-new, retry) names a run of the same workflow id that
    /// says it continues this one.
    case runChains

    // MARK: Runs

    /// The run's derived state matches its history: status, outstanding workflow task, pending timers,
    /// open activities, cancel request, last completed task; a closed run keeps no work.
    case stateMatchesHistory
    /// An open run with no workflow task outstanding has seen every event that needs one (a signal, a
    /// fired timer, an activity's outcome, a cancel request): otherwise the workflow never wakes.
    case noUnseenNews
    /// At most one open run per workflow id, and it is the id's current run.
    case oneOpenRunPerWorkflowID
    /// A run's timeout entry fires at its start plus its first task's backoff plus its run timeout.
    case runTimeoutDeadline

    // MARK: Clock and timetable

    /// The clock's unified lock count (client locks plus holds) never goes below zero.
    case lockCount
    /// The clients' lock balance is what their calls made it: +1 per lock and per relock (an unlocking
    /// sleep that fires or is cancelled), −1 per accepted unlock; the only other change is the engine
    /// forgiving an unlock that borrowed a hold, which raises the balance to at most zero.
    case clientLockBalance
    /// The clock's holds are exactly the work in flight: one per open run with a workflow task, per
    /// activity attempt that is scheduled or running, per consistent query waiting for a workflow task.
    case holdsMatchWork
    /// Nothing in the timetable is owned by a closed run, and every entry a run owns is one the run
    /// refers to (a stray entry is a pointless jump target); unowned entries are clients' sleeps.
    case timetableOwnership
    /// Everything pending has its deadline in the timetable: an open run its timeout, a started workflow
    /// task its timeout, a sticky task its schedule-to-start, a timer its firing, an activity its
    /// schedule-to-close and the deadline of its phase (schedule-to-start, start-to-close, retry).
    case deadlinesPending
    /// A workflow retry or start backoff is pending only until the run's first workflow task is scheduled.
    case backoffBeforeFirstTask
    /// After a settle nothing in the timetable is overdue and the clock is not left idle with somewhere
    /// to jump.
    case settledClock
    /// Virtual time never goes backwards; between two settles it flows exactly with wall time while
    /// something holds the clock, and otherwise moves only by jumps, each to the soonest entry's time.
    case virtualTime

    // MARK: Tasks, queries, sleeps

    /// No task is lost: every scheduled workflow task, activity attempt and legacy query task is in its
    /// queue, no poller waits on a queue where a task waits, and at the end every one is delivered.
    case noTaskLost
    /// No task is delivered twice; a delivered task is the current attempt of an open run at the end of
    /// the step, and a workflow task carries the run's history up to its started event.
    case deliveredOnce
    /// The core holds exactly the queries clients await, each answered at most once; a consistent query
    /// waits on an open run's workflow task.
    case queriesAccounted
    /// The core holds exactly the sleeps clients are in, each with its timetable entry.
    case sleepsAccounted
    /// Effects name only pollers, queries and sleeps that are waiting.
    case effectsAddressed
    /// A refused request leaves the core as it was and emits nothing (when the core was settled before).
    case refusalChangesNothing
    /// A time-skipping trap is reported at most once per run.
    case trapsReportedOnce
    /// A core rebuilt from its store's changes equals the live one, and each run's events alone give its
    /// event-derived state (`ReplayEquivalence`).
    case replayEquivalence
}

/// One broken rule, with what broke it.
struct Violation: CustomStringConvertible, Sendable {
    var invariant: Invariant
    var message: String

    init(_ invariant: Invariant, _ message: String) {
        self.invariant = invariant
        self.message = message
    }

    var description: String { "\(invariant.rawValue): \(message)" }
}
