import Foundation
import TemporalAPI
@testable import TimekeeperEngine

/// Checks every `Invariant` against the world after a step, remembering what it needs across steps
/// (each run's history audit, every task delivered, the clock at the last settle).
///
/// A run that closed is checked once as closed and then left alone: it cannot reopen, and the engine-wide
/// task ids show any event appended to it later (they would have a gap where the audited runs are).
struct InvariantChecker {
    private var audits: [String: HistoryAudit] = [:]
    /// Runs open at the last check, and the ones created since: the runs each step looks at.
    private(set) var openRunIDs: Set<String> = []
    private var knownRunIDs: Set<String> = []
    /// Events audited so far in all runs, and the largest task id among them.
    private var auditedEvents: Int64 = 0
    private var largestTaskID: Int64 = 0
    // What the task checks (InvariantChecker+Tasks.swift) remember.
    var deliveredWorkflowTasks: Set<String> = []
    var deliveredActivityAttempts: Set<String> = []
    var deliveredQueryTasks: Set<Int64> = []
    var answeredQueries: Set<QueryID> = []
    var reportedTraps: Set<String> = []
    private var lastNow: Instant
    /// Wall and virtual time at the last settled step (after a settle the clock always flows: it would
    /// have jumped otherwise), and the jumps since.
    private var checkpoint: (wall: Instant, now: Instant)
    private var jumpsSinceCheckpoint: [ClockJump] = []
    /// The timetable's entries at the end of the last check, which is the state the next step starts from.
    private var pendingAtLastCheck: [EntryID]?
    /// How many events the runs that grew in this step had when it began.
    var stepStart: [String: Int] = [:]

    /// The clients' lock balance their calls predict, and the unlocking sleeps that will relock.
    private var clientLocks: Int
    private var relockingSleeps: Set<SleepID> = []

    init(_ world: SimulationWorld) {
        clientLocks = world.core.clock.clientLocks
        lastNow = world.core.now
        checkpoint = (world.wall, world.core.now)
    }

    mutating func check(
        _ world: SimulationWorld, after step: SimulationStep, _ report: SimulationWorld.Report, before: CoreSnapshot?
    ) -> [Violation] {
        var violations: [Violation] = []
        let core = world.core
        if core.runs.count != knownRunIDs.count {
            for runID in core.runs.keys where knownRunIDs.insert(runID).inserted { openRunIDs.insert(runID) }
        }
        let active = openRunIDs.sorted()
        stepStart = [:]
        for runID in active { audit(core, runID, &violations) }
        if auditedEvents != largestTaskID {
            violations.append(Violation(
                .closeEventLast, "task ids reach \(largestTaskID) but the open runs hold \(auditedEvents) events: one went to a closed run"))
        }
        // A run's derived state changes only with its history, so only the runs that grew are compared.
        checkRuns(core, stepStart.keys.sorted(), &violations)
        let pending = core.timetable.pending
        pendingAtLastCheck = pending.map(\.id)
        let openRuns = openRunIDs.sorted().map { core.runs[$0]! }
        checkOneOpenRunPerWorkflowID(core, openRuns, &violations)
        checkClientLocks(world.core, step, report, &violations)
        checkClock(world, report, pending, openRuns, &violations)
        checkTimetable(core, pending, openRuns, &violations)
        checkQueues(world, openRuns, &violations)
        checkDeliveries(core, report, &violations)
        checkQueriesAndSleeps(world, report, openRuns, &violations)
        if let error = report.error, let before {
            let changed = before.differences(from: CoreSnapshot(core, runs: before.runIDs, entries: pendingAtLastCheck))
            if !changed.isEmpty {
                violations.append(Violation(.refusalChangesNothing, "refused with \(error), yet changed \(changed.joined(separator: ", "))"))
            }
            if !report.deliveries.isEmpty || !report.jumps.isEmpty || !report.answeredQueries.isEmpty
                || !report.finishedSleeps.isEmpty
            {
                violations.append(Violation(.refusalChangesNothing, "refused with \(error), yet had effects"))
            }
        }
        return violations
    }

    /// The state the next step starts from, for `check` to compare with if the step is refused.
    func snapshot(_ core: EngineCore) -> CoreSnapshot {
        CoreSnapshot(core, runs: openRunIDs, entries: pendingAtLastCheck)
    }

    private mutating func audit(_ core: EngineCore, _ runID: String, _ violations: inout [Violation]) {
        let history = core.history(runID)
        let seen = audits[runID]?.seen ?? 0
        guard history.count > seen else { return }
        stepStart[runID] = seen
        audits[runID, default: HistoryAudit(runID: runID)].consume(history, now: core.now, into: &violations)
        auditedEvents += Int64(history.count - seen)
        largestTaskID = max(largestTaskID, history.last!.taskID)
    }

    /// After the final drain: every queued task has been handed to a worker, and no closed run grew.
    mutating func checkDrained(_ world: SimulationWorld) -> [Violation] {
        var violations: [Violation] = []
        for runID in world.core.runs.keys.sorted() { audit(world.core, runID, &violations) }
        if auditedEvents != largestTaskID {
            violations.append(Violation(.closeEventLast, "an event was appended to a run after its close event"))
        }
        for run in world.core.runs.values.sorted(by: { $0.ref.runID < $1.ref.runID }) where run.isOpen {
            if case .scheduled(let scheduled, _, _) = run.workflowTask {
                violations.append(Violation(.noTaskLost, "run \(run.ref.runID): workflow task \(scheduled) was never delivered"))
            }
            for activity in run.activities.values where activity.phase == .scheduled {
                violations.append(Violation(.noTaskLost, "run \(run.ref.runID): activity \(activity.scheduledEventID) was never delivered"))
            }
        }
        for (id, query) in world.core.queries where query.route == .legacyQueued {
            violations.append(Violation(.noTaskLost, "legacy query \(id.rawValue) was never delivered"))
        }
        return violations
    }

    // MARK: Runs

    /// Checks the runs whose history grew in the step; forgets those that closed (once checked).
    private mutating func checkRuns(_ core: EngineCore, _ runIDs: [String], _ violations: inout [Violation]) {
        func fail(_ invariant: Invariant, _ runID: String, _ message: String) {
            violations.append(Violation(invariant, "run \(runID): \(message)"))
        }
        for runID in runIDs {
            let run = core.runs[runID]!
            guard let audit = audits[runID] else { continue }
            if run.isOpen != (audit.closeEvent == nil) {
                fail(.closeEventLast, runID, run.isOpen ? "open, yet it has a close event" : "closed (\(run.status)) without a close event")
            }
            if let close = audit.closeEvent, Self.status(closedBy: close.eventType) != run.status {
                fail(.closeEventLast, runID, "status \(run.status) but closed by \(close.eventType)")
            }
            guard run.isOpen else {
                if run.workflowTask != .none || !run.timers.isEmpty || !run.activities.isEmpty || run.hasUnhandledEvents
                    || !core.queryBook.buffered(for: runID).isEmpty || !core.queryBook.inFlight(for: runID).isEmpty
                {
                    fail(.stateMatchesHistory, runID, "closed, yet it keeps a workflow task, timers, activities or queries")
                }
                if let close = audit.closeEvent { checkChain(core, run, close, &violations) }
                openRunIDs.remove(runID)
                continue
            }
            let transient = run.unwrittenWorkflowTaskEvents
            let taskMatches: Bool =
                if !transient.isEmpty {
                    // A transient task: nothing outstanding in history, a later attempt than the last one
                    // written, and its unwritten events are the next ones, matching its state.
                    audit.workflowTask == nil && [.failed, .timedOut].contains(audit.lastOutcome.outcome)
                        && run.workflowTask.attempt > audit.lastOutcome.attempt
                        && transient[0].eventID == run.lastEventID + 1
                        && transient[0].workflowTaskScheduledEventAttributes.attempt == run.workflowTask.attempt
                        && run.workflowTask.scheduledEventID == transient[0].eventID
                        && run.workflowTask.isStarted == (transient.count == 2)
                } else {
                    switch (run.workflowTask, audit.workflowTask) {
                case (.none, nil): true
                case (.scheduled(let scheduled, let attempt, _), let task?):
                    task.scheduled == scheduled && task.attempt == attempt && task.started == nil
                case (.started(let scheduled, let started, let attempt, _, _), let task?):
                    task.scheduled == scheduled && task.attempt == attempt && task.started == started
                default: false
                    }
                }
            if !taskMatches {
                fail(.stateMatchesHistory, runID, "workflow task \(run.workflowTask), history says \(String(describing: audit.workflowTask))")
            }
            // What history says, and what events buffered while the workflow task runs have changed already.
            let buffered = BufferedChanges(run.bufferedEvents)
            let pendingTimers = audit.pendingTimers.filter { !buffered.firedTimers.contains($0.key) }
            let openActivities = audit.openActivities.filter { !buffered.closedActivities.contains($0.key) }
            if run.timers.count != pendingTimers.count
                || !run.timers.allSatisfy({ pendingTimers[$0.key] == $0.value.startedEventID })
            {
                fail(.stateMatchesHistory, runID, "timers \(run.timers.mapValues(\.startedEventID)), history says \(pendingTimers)")
            }
            if run.activities.count != openActivities.count
                || !run.activities.keys.allSatisfy({ openActivities[$0] != nil })
            {
                fail(.stateMatchesHistory, runID, "activities \(run.activities.keys.sorted()), history says \(openActivities.keys.sorted())")
            }
            if run.cancelRequested != (audit.cancelRequested || buffered.cancelRequested)
                || run.lastCompletedWorkflowTaskStartedEventID != audit.lastCompletedStartedID
            {
                fail(.stateMatchesHistory, runID, "cancel request or last completed task differ from history")
            }
            if run.workflowTask == .none, let news = audit.unseenNews {
                fail(.noUnseenNews, runID, "event \(news.eventID) (\(news.eventType)) waits with no workflow task to show it")
            }
            if let entry = core.timetable.entries(ownedBy: runID).first(where: { $0.kind == .workflowRunTimeout }),
                let started = audit.started
            {
                // The event records the timeouts as requested (unset stays unset, as Temporal records it);
                // an unset run timeout means the execution timeout's, and an unset one that means 10 years.
                let timeouts = WorkflowTimeouts(
                    execution: Duration(protobuf: started.workflowExecutionTimeout),
                    run: Duration(protobuf: started.workflowRunTimeout),
                    workflowTask: Duration(protobuf: started.workflowTaskTimeout))
                let expected = run.startedAt + Duration(protobuf: started.firstWorkflowTaskBackoff) + timeouts.run
                if entry.fireAt != expected {
                    fail(.runTimeoutDeadline, runID, "times out at \(entry.fireAt), its start, backoff and run timeout say \(expected)")
                }
            }
        }
    }

    private func checkOneOpenRunPerWorkflowID(_ core: EngineCore, _ openRuns: [WorkflowRun], _ violations: inout [Violation]) {
        var byWorkflow: [WorkflowKey: [String]] = [:]
        for run in openRuns {
            byWorkflow[WorkflowKey(namespace: run.ref.namespace, workflowID: run.ref.workflowID), default: []].append(run.ref.runID)
        }
        for (key, runIDs) in byWorkflow.sorted(by: { $0.value[0] < $1.value[0] })
        where runIDs.count > 1 || core.currentRuns[key] != runIDs[0] {
            violations.append(Violation(
                .oneOpenRunPerWorkflowID,
                "workflow \(key.workflowID): open runs \(runIDs), current run \(core.currentRuns[key] ?? "none")"))
        }
    }

    private func checkChain(_ core: EngineCore, _ run: WorkflowRun, _ close: HistoryEvent, _ violations: inout [Violation]) {
        let next: String =
            switch close.attributes {
            case .workflowExecutionContinuedAsNewEventAttributes(let a)?: a.newExecutionRunID
            case .workflowExecutionFailedEventAttributes(let a)?: a.newExecutionRunID
            default: ""
            }
        guard !next.isEmpty else { return }
        guard let nextRun = core.runs[next], nextRun.ref.workflowID == run.ref.workflowID,
            audits[next]?.started?.continuedExecutionRunID == run.ref.runID
        else {
            violations.append(Violation(.runChains, "run \(run.ref.runID) names next run \(next), which does not continue it"))
            return
        }
    }

    private static func status(closedBy type: Temporal_Api_Enums_V1_EventType) -> ExecutionStatus {
        switch type {
        case .workflowExecutionCompleted: .completed
        case .workflowExecutionFailed: .failed
        case .workflowExecutionCanceled: .canceled
        case .workflowExecutionTerminated: .terminated
        case .workflowExecutionContinuedAsNew: .continuedAsNew
        case .workflowExecutionTimedOut: .timedOut
        default: .unspecified
        }
    }

    // MARK: Clock and timetable

    private mutating func checkClientLocks(
        _ core: EngineCore, _ step: SimulationStep, _ report: SimulationWorld.Report, _ violations: inout [Violation]
    ) {
        var relocks = 0
        switch step {
        case .lock: clientLocks += 1
        case .unlock where report.error == nil: clientLocks -= 1
        case .sleep(let id, _, unlocking: true) where report.error == nil:
            clientLocks -= 1
            relockingSleeps.insert(id)
        case .cancelSleep(let id): if relockingSleeps.remove(id) != nil { relocks += 1 }
        default: break
        }
        for id in report.finishedSleeps where relockingSleeps.remove(id) != nil { relocks += 1 }
        clientLocks += relocks
        let actual = core.clock.clientLocks
        if actual > clientLocks && actual <= relocks {
            clientLocks = actual  // a borrowed unlock forgiven (at most to zero, before any relock of the step)
        } else if actual != clientLocks {
            violations.append(Violation(.clientLockBalance, "client locks are \(actual), the clients' calls say \(clientLocks)"))
            clientLocks = actual
        }
    }

    private mutating func checkClock(
        _ world: SimulationWorld, _ report: SimulationWorld.Report, _ pending: [TimetableEntry],
        _ openRuns: [WorkflowRun], _ violations: inout [Violation]
    ) {
        let core = world.core
        let clock = core.clock
        if clock.lockCount < 0 { violations.append(Violation(.lockCount, "lock count \(clock.lockCount)")) }
        var work: [Hold: Int] = [:]
        for run in openRuns {
            if run.workflowTask != .none { work[.workflowTask(runID: run.ref.runID), default: 0] += 1 }
            for activity in run.activities.values where activity.phase != .backingOff {
                work[.activity(runID: run.ref.runID, scheduledEventID: activity.scheduledEventID), default: 0] += 1
            }
        }
        for (id, query) in core.queries where query.route == .buffered { work[.query(id), default: 0] += 1 }
        if work != clock.holds {
            let extra = clock.holds.filter { work[$0.key] != $0.value }.map { "\($0.key) ×\($0.value)" }.sorted()
            let missing = work.filter { clock.holds[$0.key] != $0.value }.map { "\($0.key) ×\($0.value)" }.sorted()
            violations.append(Violation(.holdsMatchWork, "held by \(extra) but work in flight is \(missing)"))
        }
        if clock.lockCount != clock.clientLocks + clock.holds.values.reduce(0, +) {
            violations.append(Violation(.lockCount, "lock count \(clock.lockCount) is not client locks plus holds"))
        }

        if core.now < lastNow { violations.append(Violation(.virtualTime, "virtual time went back from \(lastNow) to \(core.now)")) }
        lastNow = core.now
        jumpsSinceCheckpoint += report.jumps
        guard world.settled else { return }
        if let first = pending.first, first.fireAt <= core.now {
            violations.append(Violation(.settledClock, "\(first) was due at \(first.fireAt), virtual now is \(core.now)"))
        }
        if clock.maySkip(timetableIsEmpty: pending.isEmpty) {
            violations.append(Violation(.settledClock, "nothing holds the clock, yet it did not jump to \(pending[0])"))
        }
        var expected = checkpoint.now + (world.wall - checkpoint.wall)
        for jump in jumpsSinceCheckpoint {
            if !clock.skipsTime || jump.from != expected || jump.to <= jump.from || jump.to != jump.target.fireAt
                || jump.wallTime != world.wall
            {
                violations.append(Violation(.virtualTime, "jump \(jump) does not start at \(expected) and go forward to its target"))
            }
            expected = jump.to
        }
        if core.now != expected {
            violations.append(Violation(.virtualTime, "virtual now is \(core.now), wall time and jumps say \(expected)"))
        }
        checkpoint = (world.wall, core.now)
        jumpsSinceCheckpoint = []
    }

    private func checkTimetable(
        _ core: EngineCore, _ pending: [TimetableEntry], _ openRuns: [WorkflowRun], _ violations: inout [Violation]
    ) {
        var referenced: Set<EntryID> = []
        for run in openRuns {
            let runID = run.ref.runID
            var owned: [TimetableEntry.Kind: TimetableEntry] = [:]
            for entry in core.timetable.entries(ownedBy: runID) { owned[entry.kind] = entry }
            referenced.formUnion(owned.values.map(\.id))
            func require(_ kind: TimetableEntry.Kind, _ what: String) {
                guard owned[kind] != nil else {
                    violations.append(Violation(.deadlinesPending, "run \(runID): \(what) has no pending \(kind) entry"))
                    return
                }
            }
            require(.workflowRunTimeout, "the run")
            if !run.firstTaskScheduled && run.backoff > .zero { require(.workflowBackoff, "its first task's backoff") }
            switch run.workflowTask {
            case .started(let scheduled, _, let attempt, _, _):
                require(.workflowTaskTimeout(scheduledEventID: scheduled, attempt: attempt), "its started workflow task")
            case .scheduled(let scheduled, _, _) where run.stickyQueue != nil:
                require(.stickyScheduleToStart(scheduledEventID: scheduled), "its sticky workflow task")
            default: break
            }
            // Timers wait while a workflow task is started (they fire once it ends; see `Refresher`).
            for (timerID, timer) in run.timers where !run.workflowTask.isStarted {
                require(.userTimer(timerID: timerID, startedEventID: timer.startedEventID), "timer \(timerID)")
            }
            for activity in run.activities.values {
                let scheduled = activity.scheduledEventID
                require(.activityTimeout(scheduledEventID: scheduled, attempt: 0, .scheduleToClose), "activity \(scheduled)")
                let kind: TimetableEntry.Kind =
                    switch activity.phase {
                    case .scheduled: .activityTimeout(scheduledEventID: scheduled, attempt: activity.attempt, .scheduleToStart)
                    case .started: .activityTimeout(scheduledEventID: scheduled, attempt: activity.attempt, .startToClose)
                    case .backingOff: .activityRetry(scheduledEventID: scheduled, attempt: activity.attempt)
                    }
                if owned[kind] == nil {
                    violations.append(Violation(.deadlinesPending, "run \(runID): activity \(scheduled) (\(activity.phase)) has no pending \(kind) entry"))
                }
            }
            // Nothing more than its state calls for, at the times it calls for them.
            let derived = Dictionary(Refresher.entries(of: run).map { ($0.kind, $0.fireAt) }, uniquingKeysWith: { first, _ in first })
            for entry in owned.values where derived[entry.kind] != entry.fireAt {
                violations.append(Violation(.timetableOwnership, "run \(runID): \(entry) is not what its state calls for"))
            }
        }
        for entry in pending {
            guard let owner = entry.owner else {
                if case .testClientSleep(let id, _) = entry.kind, core.sleeps[id] == entry.id { continue }
                violations.append(Violation(.timetableOwnership, "\(entry) has no owner and is no client's sleep"))
                continue
            }
            guard openRunIDs.contains(owner.runID) else {
                violations.append(Violation(.timetableOwnership, "\(entry) is owned by a closed run"))
                continue
            }
            if case .workflowBackoff = entry.kind, audits[owner.runID]?.hasScheduledWorkflowTask == true {
                violations.append(Violation(.backoffBeforeFirstTask, "\(entry) is pending after the first workflow task was scheduled"))
            }
            if !referenced.contains(entry.id) {
                violations.append(Violation(.timetableOwnership, "\(entry) (\(entry.id)) is not one its run refers to"))
            }
        }
    }
}

/// What events buffered while a run's workflow task runs have changed in the run, though not yet written.
struct BufferedChanges {
    var firedTimers: Set<String> = []
    var closedActivities: Set<Int64> = []
    var cancelRequested = false

    init(_ events: [HistoryEvent]) {
        for event in events {
            switch event.attributes {
            case .timerFiredEventAttributes(let a)?: firedTimers.insert(a.timerID)
            case .activityTaskCompletedEventAttributes(let a)?: closedActivities.insert(a.scheduledEventID)
            case .activityTaskFailedEventAttributes(let a)?: closedActivities.insert(a.scheduledEventID)
            case .activityTaskTimedOutEventAttributes(let a)?: closedActivities.insert(a.scheduledEventID)
            case .activityTaskCanceledEventAttributes(let a)?: closedActivities.insert(a.scheduledEventID)
            case .workflowExecutionCancelRequestedEventAttributes?: cancelRequested = true
            default: break
            }
        }
    }
}
