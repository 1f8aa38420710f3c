internal import SwiftProtobuf
package import TemporalAPI

/// The engine's functional core: every transition is a synchronous mutation of this value, given the
/// wall time at which it happens, that records what the shell must do afterwards as `effects`.
///
/// No threads, sockets or clocks in here: the same inputs at the same wall times give the same history,
/// which is what lets unit tests replay whole scenarios. `Engine` is the one owner that serialises access.
package struct EngineCore: Sendable {
    /// Something the shell must do once a transition is done.
    package enum Effect: Sendable {
        /// Hand this workflow task to the poller that was waiting for it.
        case deliverWorkflowTask(PollerID, Temporal_Api_Workflowservice_V1_PollWorkflowTaskQueueResponse)
        /// Hand this activity task to the poller that was waiting for it.
        case deliverActivityTask(PollerID, Temporal_Api_Workflowservice_V1_PollActivityTaskQueueResponse)
        /// A query has its answer (or failed).
        case answerQuery(QueryID, Result<Temporal_Api_Workflowservice_V1_QueryWorkflowResponse, EngineError>)
        /// The run's history grew (or it closed): re-check history long polls waiting on it.
        case historyChanged(runID: String)
        /// A blocked TestService sleep call may return.
        case finishSleep(SleepID)
        /// The clock jumped (for the log).
        case clockJumped(ClockJump)
        /// A jump timed out a workflow that only a signal or update could have moved (for a warning).
        case trapDetected(TimeSkippingTrap)
    }

    package struct Configuration: Sendable {
        /// Test mode: the clock skips; dev mode: it is the wall clock.
        package var skipsTime: Bool
        /// Whether one client lock is held at start, as Temporal's test server does unless it is given
        /// `--enable-time-skipping`.
        package var startsLocked: Bool

        package init(skipsTime: Bool, startsLocked: Bool) {
            self.skipsTime = skipsTime
            self.startsLocked = startsLocked
        }
    }

    package private(set) var clock: VirtualClock
    package internal(set) var timetable = Timetable()
    package internal(set) var runs: [String: WorkflowRun] = [:]
    /// The latest run of each workflow id, by namespace.
    package internal(set) var currentRuns: [WorkflowKey: String] = [:]
    var workflowQueues: [TaskQueueKey: TaskQueue<WorkflowQueueItem>] = [:]
    var activityQueues: [TaskQueueKey: TaskQueue<ActivityTaskRef>] = [:]
    var queries: [QueryID: PendingQuery] = [:]
    var waitingPollers: [PollerID: WaitingPoller] = [:]
    var sleeps: [SleepID: EntryID] = [:]
    package private(set) var recentJumps = RecentJumps(capacity: 256)
    /// Runs whose close event a client is awaiting, with how many such waits.
    package private(set) var resultWaiters: [String: Int] = [:]
    /// The time-skipping trap, once per run that fell into it.
    package private(set) var traps: [String: TimeSkippingTrap] = [:]
    /// Traps reached by a jump that a client's unlock permitted before any client awaited a result: SDKs
    /// unlock first and ask for the result just after, so a worker can finish the task (and the clock
    /// jump) in between. Reported when the client reads the run's close event (`noteResultRead`), naming
    /// the workflow, or when a client locks the clock again, whichever comes first.
    private var unreportedTraps: [String: TimeSkippingTrap] = [:]
    /// The completion whose commands are being applied (see `completeWorkflowTask`).
    var applying: CommandApplication?
    private var nextTaskID: Int64 = 1
    private var effects: [Effect] = []
    /// Makes run ids; injectable so that tests get predictable ids.
    let newRunID: @Sendable () -> String
    /// A run id handed out before its run exists (the closing event of the previous run names it).
    private var reservedRunID: String?

    package init(configuration: Configuration, wallNow: Instant, makeRunID: @escaping @Sendable () -> String) {
        clock = VirtualClock(startingAt: wallNow, skipsTime: configuration.skipsTime,
                             startsLocked: configuration.startsLocked)
        self.newRunID = makeRunID
    }

    /// The id for the next run created.
    mutating func makeRunID() -> String {
        defer { reservedRunID = nil }
        return reservedRunID ?? newRunID()
    }

    /// Reserves the id the next created run will get, so that an event can name it first.
    mutating func makeRunIDPeek() -> String {
        if let reservedRunID { return reservedRunID }
        let id = newRunID()
        reservedRunID = id
        return id
    }

    /// Returns and forgets what the shell must do.
    package mutating func takeEffects() -> [Effect] {
        defer { effects.removeAll(keepingCapacity: true) }
        return effects
    }

    mutating func emit(_ effect: Effect) { effects.append(effect) }

    // MARK: Time

    /// Virtual now, as of the last transition.
    package var now: Instant { clock.now }

    private var isFlowing: Bool { !clock.maySkip(timetableIsEmpty: timetable.isEmpty) }

    /// Brings the clock up to `wallNow` without firing anything.
    mutating func refresh(_ wallNow: Instant) {
        clock.settleBorrowedUnlocks()
        clock.refresh(wallNow: wallNow, flowing: isFlowing)
    }

    /// Runs the clock up to `wallNow`: fires every entry that is due, and while nothing holds the clock,
    /// jumps to the next entry and fires it too. Every transition ends here.
    package mutating func settle(_ wallNow: Instant) {
        refresh(wallNow)
        var lastJump: ClockJump?
        while true {
            if let due = timetable.popDue(at: clock.now) {
                if let jump = lastJump, jump.target.id == due.id { noticeTrap(due, reachedBy: jump) }
                fire(due)
                refresh(wallNow)
                continue
            }
            guard let next = timetable.next(), clock.maySkip(timetableIsEmpty: false) else { break }
            let awaited = resultWaiters.keys.compactMap { runs[$0]?.ref.workflowID }
            let jump = ClockJump(
                from: clock.now, to: next.fireAt, target: next, wallTime: wallNow,
                permittedBy: clock.permission, awaitedWorkflowIDs: awaited)
            recentJumps.append(jump)
            emit(.clockJumped(jump))
            clock.jump(to: next.fireAt)
            lastJump = jump
        }
        refresh(wallNow)
    }

    /// When, in wall time, the shell must call `settle` again if nothing else happens first.
    package mutating func nextWake(after wallNow: Instant) -> Instant? {
        guard let next = timetable.next() else { return nil }
        if clock.maySkip(timetableIsEmpty: false) { return wallNow }
        return wallNow + (next.fireAt - clock.now)
    }

    /// Before a jump's target fires: if it is a workflow timeout and the workflow had nothing of its own
    /// that could move it (no timer, no activity, no workflow task), it was waiting for a signal or update
    /// that only a client could send, and the jump is what ended it.
    private mutating func noticeTrap(_ entry: TimetableEntry, reachedBy jump: ClockJump) {
        guard case .workflowRunTimeout = entry.kind, let runID = entry.owner?.runID, traps[runID] == nil,
            let run = runs[runID], run.isOpen, run.timers.isEmpty, run.activities.isEmpty, run.workflowTask == .none
        else { return }
        let trap = TimeSkippingTrap(run: run.ref, jump: jump)
        traps[runID] = trap
        if jump.awaitedWorkflowIDs.isEmpty && jump.permittedBy != .startedUnlocked {
            unreportedTraps[runID] = trap
        } else {
            emit(.trapDetected(trap))
        }
    }

    /// A client read the close event of `runID` (`result()` does, right after unlocking). If a jump its
    /// unlock permitted trapped that run before the request arrived, the trap is reported now, naming the
    /// workflow the client was awaiting.
    mutating func noteResultRead(_ runID: String) {
        guard var trap = unreportedTraps.removeValue(forKey: runID) else { return }
        trap.jump.awaitedWorkflowIDs = [trap.run.workflowID]
        traps[runID] = trap
        emit(.trapDetected(trap))
    }

    /// The client locked again without reading those runs' results: report their traps as they were.
    private mutating func reportUnreportedTraps() {
        for trap in unreportedTraps.values.sorted(by: { $0.jump.wallTime < $1.jump.wallTime }) {
            emit(.trapDetected(trap))
        }
        unreportedTraps.removeAll()
    }

    private mutating func fire(_ entry: TimetableEntry) {
        switch entry.kind {
        case .workflowRunTimeout:
            guard let runID = entry.owner?.runID else { return }
            timeOutRun(runID)
        case .workflowTaskTimeout(let scheduledEventID, let attempt):
            guard let runID = entry.owner?.runID else { return }
            timeOutWorkflowTask(runID, scheduledEventID: scheduledEventID, attempt: attempt)
        case .stickyScheduleToStart(let scheduledEventID):
            guard let runID = entry.owner?.runID else { return }
            stickyTaskTimedOut(runID, scheduledEventID: scheduledEventID)
        case .userTimer(let timerID, let startedEventID):
            guard let runID = entry.owner?.runID else { return }
            fireTimer(runID, timerID: timerID, startedEventID: startedEventID)
        case .activityTimeout(let scheduledEventID, let attempt, let type):
            guard let runID = entry.owner?.runID else { return }
            fireActivityTimeout(runID, scheduledEventID: scheduledEventID, attempt: attempt, type)
        case .activityRetry(let scheduledEventID, let attempt):
            guard let runID = entry.owner?.runID else { return }
            fireActivityRetry(runID, scheduledEventID: scheduledEventID, attempt: attempt)
        case .workflowBackoff:
            guard let runID = entry.owner?.runID else { return }
            scheduleWorkflowTask(runID, attempt: 1)
        case .testClientSleep(let id, let relocks):
            sleeps[id] = nil
            if relocks { lockClock() }
            emit(.finishSleep(id))
        }
    }

    // MARK: Clock holds and history

    mutating func take(_ hold: Hold) { clock.take(hold) }
    mutating func release(_ hold: Hold) { clock.release(hold) }
    mutating func lockClock() {
        clock.lock()
        reportUnreportedTraps()
    }
    mutating func unlockClock(_ permission: JumpPermission = .clientUnlocked) throws(EngineError) {
        try clock.unlock(permission)
    }

    /// A client started (+1) or stopped (-1) awaiting a run's close event: the Python SDK's `result()`.
    package mutating func noteResultWaiter(_ runID: String, _ delta: Int) {
        let count = (resultWaiters[runID] ?? 0) + delta
        resultWaiters[runID] = count > 0 ? count : nil
    }

    /// Appends an event to an open or closing run at virtual now and tells history waiters.
    @discardableResult
    mutating func appendEvent(
        _ runID: String, _ type: Temporal_Api_Enums_V1_EventType, _ fill: (inout HistoryEvent) -> Void
    ) -> Int64 {
        let taskID = nextTaskID
        nextTaskID += 1
        let id = runs[runID]!.append(type, at: clock.now, taskID: taskID, fill)
        emit(.historyChanged(runID: runID))
        return id
    }
}

/// Names a workflow id within a namespace.
package struct WorkflowKey: Hashable, Sendable {
    package var namespace: String
    package var workflowID: String
}

/// What waits in a workflow task queue: a run's workflow task (its scheduled event tells stale ones
/// apart), or a legacy query task.
enum WorkflowQueueItem: Sendable {
    case workflowTask(runID: String, scheduledEventID: Int64)
    case query(QueryID)
}

/// A long poll waiting for a task.
struct WaitingPoller: Sendable {
    enum Kind: Sendable { case workflow, activity }
    var queue: TaskQueueKey
    var identity: String
    var kind: Kind = .workflow
}
