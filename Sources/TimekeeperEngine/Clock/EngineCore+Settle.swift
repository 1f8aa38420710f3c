internal import TemporalAPI

/// Time passing: the clock catches up with wall time, due entries fire, and while nothing holds the
/// clock it jumps to the next entry.
extension EngineCore {
    /// Virtual now, as of the last transition.
    package var now: Instant { clock.now }

    private var isFlowing: Bool { !clock.maySkip(timetableIsEmpty: timetable.isEmpty) }

    /// Brings the clock up to `wallNow` without firing anything.
    mutating func refresh(_ wallNow: Instant) {
        refreshTouchedRuns()
        clock.waiveClientLocks(updateBook.awaitsOutcome && !nextIsUnsetRunTimeout())
        clock.settleBorrowedUnlocks()
        clock.refresh(wallNow: wallNow, flowing: isFlowing)
    }

    /// Whether the next entry is the run timeout of a workflow that set none. A client awaiting an update
    /// does not let the clock jump there: Temporal's server has no such timeout (the ten years are the Java
    /// test server's), and a workflow waiting for a signal would die of it before the client sent it.
    private mutating func nextIsUnsetRunTimeout() -> Bool {
        guard let next = timetable.next(), case .workflowRunTimeout = next.kind, let runID = next.owner?.runID,
            let started = histories[runID]?.first?.workflowExecutionStartedEventAttributes
        else { return false }
        return !started.hasWorkflowRunTimeout && !started.hasWorkflowExecutionTimeout
    }

    /// Runs the clock up to `wallNow`: fires every entry that is due, and while nothing holds the clock,
    /// jumps to the next entry and fires it too. Every transition ends here.
    package mutating func settle(_ wallNow: Instant) {
        enforceBufferLimits()  // after the operation that settles (see there)
        refresh(wallNow)
        var lastJump: ClockJump?
        while true {
            if let due = timetable.popDue(at: clock.now) {
                if let jump = lastJump, jump.target.id == due.id { noticeTrap(due, reachedBy: jump) }
                fire(due)
                enforceBufferLimits()
                refresh(wallNow)
                continue
            }
            guard let next = timetable.next(), clock.maySkip(timetableIsEmpty: false) else { break }
            let awaited = explanation.resultWaiters.keys.compactMap { runs[$0]?.ref.workflowID }
            let updates = updateBook.awaitedOutcomes.compactMap { runID, updateID in
                runs[runID].map { AwaitedUpdate(workflowID: $0.ref.workflowID, updateID: updateID) }
            }
            let jump = ClockJump(
                from: clock.now, to: next.fireAt, target: next, wallTime: wallNow,
                permittedBy: clock.skipsForAwaitedUpdate ? .clientAwaitingUpdate : clock.permission,
                awaitedWorkflowIDs: awaited, awaitedUpdates: updates)
            explanation.noteJump(jump)
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
        guard case .workflowRunTimeout = entry.kind, let runID = entry.owner?.runID, !explanation.hasTrap(runID),
            let run = runs[runID], run.isOpen, run.timers.isEmpty, run.activities.isEmpty, run.workflowTask == .none
        else { return }
        if let trap = explanation.noteTrap(TimeSkippingTrap(run: run.ref, jump: jump)) { emit(.trapDetected(trap)) }
    }

    /// A client read the close event of `runID` (`result()` does, right after unlocking). If a jump its
    /// unlock permitted trapped that run before the request arrived, the trap is reported now, naming the
    /// workflow the client was awaiting.
    mutating func noteResultRead(_ runID: String) {
        if let trap = explanation.resultRead(runID) { emit(.trapDetected(trap)) }
    }

    /// A client started (+1) or stopped (-1) awaiting a run's close event: the Python SDK's `result()`.
    package mutating func noteResultWaiter(_ runID: String, _ delta: Int) {
        explanation.noteResultWaiter(runID, delta)
    }

    mutating func lockClock() {
        clock.lock()
        // The client locked again without reading those runs' results: report their traps as they were.
        for trap in explanation.takeUnreportedTraps() { emit(.trapDetected(trap)) }
    }

    private mutating func fire(_ entry: TimetableEntry) {
        if case .testClientSleep(let id, let relocks) = entry.kind {
            sleeps[id] = nil
            if relocks { lockClock() }
            emit(.finishSleep(id))
            return
        }
        if case .scheduleWakeup(let namespace, let scheduleID) = entry.kind {
            return fireScheduleWakeup(ScheduleKey(namespace: namespace, scheduleID: scheduleID))
        }
        if case .retentionEnds = entry.kind, let runID = entry.owner?.runID, runs[runID]?.isOpen == false {
            return forget(runID)
        }
        guard let runID = entry.owner?.runID, runs[runID]?.isOpen == true else { return }
        switch entry.kind {
        case .workflowRunTimeout: timeOutRun(runID)
        case .workflowTaskTimeout(let scheduledEventID, let attempt):
            timeOutWorkflowTask(runID, scheduledEventID: scheduledEventID, attempt: attempt)
        case .stickyScheduleToStart(let scheduledEventID):
            stickyTaskTimedOut(runID, scheduledEventID: scheduledEventID)
        case .userTimer(let timerID, let startedEventID):
            fireTimer(runID, timerID: timerID, startedEventID: startedEventID)
        case .activityTimeout(let scheduledEventID, let attempt, let type):
            fireActivityTimeout(runID, scheduledEventID: scheduledEventID, attempt: attempt, type)
        case .activityRetry(let scheduledEventID, let attempt):
            fireActivityRetry(runID, scheduledEventID: scheduledEventID, attempt: attempt)
        case .workflowBackoff: scheduleWorkflowTask(runID, attempt: 1)
        case .fastForwardEnd: endFastForward(runID)
        case .retentionEnds: break  // only a closed run has one (above)
        case .testClientSleep, .scheduleWakeup: break
        }
    }
}
