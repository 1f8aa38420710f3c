import Foundation
import TemporalAPI
@testable import TimekeeperEngine

/// The checks of tasks, queries and sleeps: nothing lost, nothing delivered twice, everything a client
/// awaits accounted for.
extension InvariantChecker {
    func checkQueues(_ world: SimulationWorld, _ openRuns: [WorkflowRun], _ violations: inout [Violation]) {
        let core = world.core
        var workflowWork: [TaskQueueKey: Int] = [:]
        var activityWork: [TaskQueueKey: Int] = [:]
        for run in openRuns {
            // (A task held while a legacy query of its run is with a worker is in no queue until then.)
            if case .scheduled = run.workflowTask, core.workflowTasksHeldForQueries[run.ref.runID] == nil {
                workflowWork[TaskQueueKey(namespace: run.ref.namespace, name: run.stickyQueue ?? run.taskQueue), default: 0] += 1
            }
            for activity in run.activities.values where activity.phase == .scheduled {
                activityWork[TaskQueueKey(namespace: run.ref.namespace, name: activity.taskQueue), default: 0] += 1
            }
        }
        for query in core.queries.values where query.route == .legacyQueued {
            let run = core.runs[query.runID]!
            workflowWork[TaskQueueKey(namespace: run.ref.namespace, name: run.taskQueue), default: 0] += 1
        }
        for (key, count) in workflowWork where (core.matching.workflowQueues[key]?.backlog ?? 0) < count {
            violations.append(Violation(.noTaskLost, "\(count) workflow or query tasks wait for queue \(key.name), which holds fewer"))
        }
        for (key, count) in activityWork where (core.matching.activityQueues[key]?.backlog ?? 0) < count {
            violations.append(Violation(.noTaskLost, "\(count) activity tasks wait for queue \(key.name), which holds fewer"))
        }
        for poll in world.waitingPolls where ((poll.isActivity ? activityWork : workflowWork)[poll.queue] ?? 0) > 0 {
            violations.append(Violation(.noTaskLost, "poller \(poll.id.rawValue) waits on \(poll.queue.name), where a task waits too"))
        }
        if Set(core.matching.waitingPollers.keys) != Set(world.waitingPolls.map(\.id)) {
            violations.append(Violation(.noTaskLost, "the core's waiting pollers are not the ones the shell has waiting"))
        }
    }

    mutating func checkDeliveries(_ core: EngineCore, _ report: SimulationWorld.Report, _ violations: inout [Violation]) {
        func fail(_ message: String) { violations.append(Violation(.deliveredOnce, message)) }
        for delivery in report.deliveries {
            switch delivery {
            case .workflowTask(let task):
                guard let token = try? TaskToken(task.taskToken) else { fail("a workflow task with a malformed token"); continue }
                if token.kind == .queryTask {
                    if !deliveredQueryTasks.insert(token.scheduledEventID).inserted { fail("query task \(token.scheduledEventID) delivered twice") }
                    if core.queries[QueryID(rawValue: token.scheduledEventID)]?.route != .legacyDispatched {
                        fail("query task \(token.scheduledEventID) delivered, but its query is not dispatched")
                    }
                    continue
                }
                let name = "workflow task \(token.runID)/\(token.scheduledEventID)"
                if !deliveredWorkflowTasks.insert("\(token.runID)/\(token.scheduledEventID)/\(token.attempt)").inserted { fail("\(name) delivered twice") }
                guard let run = core.runs[token.runID], run.isOpen,
                    case .started(token.scheduledEventID, let startedID, token.attempt, _, _) = run.workflowTask
                else {
                    if !timedOut(core, token) {
                        fail("\(name) (attempt \(token.attempt)) delivered, but it is not the started task of an open run (\(core.runs[token.runID].map { "\($0.workflowTask), \($0.unwrittenWorkflowTaskEvents.count) unwritten" } ?? "no run"));"
                            + " its events this step: \(eventsThisStep(core, token.runID))")
                    }
                    continue
                }
                let ids = task.history.events.map(\.eventID)
                let first = ids.first ?? 0
                // Written events are the run's own (same task ids). A transient task's own events (no task id
                // yet) come last, at most two, and are still unwritten as carried or were written exactly so.
                let history = core.history(token.runID)
                let carriedRight = task.history.events.allSatisfy { event in
                    if event.taskID != 0 {
                        return Int(event.eventID) <= history.count && history[Int(event.eventID) - 1].taskID == event.taskID
                    }
                    if let unwritten = run.unwrittenWorkflowTaskEvents.first(where: { $0.eventID == event.eventID }) {
                        return unwritten == event
                    }
                    guard Int(event.eventID) <= history.count else { return false }
                    var written = history[Int(event.eventID) - 1]
                    written.taskID = 0
                    return written == event
                }
                let transientCount = task.history.events.reversed().prefix { $0.taskID == 0 }.count
                if task.startedEventID != startedID || ids.last != startedID || (first != 1 && first != task.previousStartedEventID + 1)
                    || ids != Array(first..<(first + Int64(ids.count)))
                    || task.previousStartedEventID != run.lastCompletedWorkflowTaskStartedEventID
                    || !carriedRight || transientCount > 2
                    || task.history.events.dropLast(transientCount).contains(where: { $0.taskID == 0 })
                {
                    fail("\(name) carries events \(ids.first ?? 0)...\(ids.last ?? 0), not the run's history up to started event \(startedID)")
                }
            case .activityTask(let task):
                guard let token = try? TaskToken(task.taskToken) else { fail("an activity task with a malformed token"); continue }
                let name = "activity \(token.runID)/\(token.scheduledEventID) attempt \(token.attempt)"
                if !deliveredActivityAttempts.insert("\(token.runID)/\(token.scheduledEventID)/\(token.attempt)").inserted {
                    fail("\(name) delivered twice")
                }
                guard let run = core.runs[token.runID], run.isOpen, let activity = run.activities[token.scheduledEventID],
                    activity.attempt == token.attempt, case .started = activity.phase
                else {
                    if !timedOut(core, token) {
                        fail("\(name) delivered, but it is not the running attempt of an open run;"
                            + " its run's events this step: \(eventsThisStep(core, token.runID))")
                    }
                    continue
                }
            }
        }
    }

    /// Whether a timeout in this step ended the task (its run, or its attempt) after handing it out. A late
    /// settle fires every due entry at once, so a task handed out by one may be timed out by the next; and
    /// a client's unlock may borrow the hold of work in flight (the Java server's one shared counter), so
    /// the clock may jump past a just-delivered task's timeout. Anything else that ends it is a bug.
    private func timedOut(_ core: EngineCore, _ token: TaskToken) -> Bool {
        guard let run = core.runs[token.runID] else { return false }
        if token.kind == .workflowTask, let scheduled = run.workflowTask.scheduledEventID, scheduled >= token.scheduledEventID,
            run.workflowTask.attempt > token.attempt
        {
            return true  // a later attempt: this transient one timed out (which writes no event)
        }
        if token.kind == .activityTask, let activity = run.activities[token.scheduledEventID], activity.attempt > token.attempt {
            return true  // the attempt timed out and waits for its retry (which writes no event)
        }
        // Written this step, or buffered while its run's workflow task runs (not written yet).
        let events = core.history(token.runID)[(stepStart[token.runID] ?? 0)...] + run.bufferedEvents
        return events.contains { event in
            switch event.attributes {
            case .workflowExecutionTimedOutEventAttributes?: true
            case .workflowTaskTimedOutEventAttributes(let a)?:
                token.kind == .workflowTask && a.scheduledEventID == token.scheduledEventID
            case .activityTaskTimedOutEventAttributes(let a)?:
                token.kind == .activityTask && a.scheduledEventID == token.scheduledEventID
            default: false
            }
        }
    }

    private func eventsThisStep(_ core: EngineCore, _ runID: String) -> String {
        guard core.runs[runID] != nil else { return "none" }
        return core.history(runID)[(stepStart[runID] ?? 0)...].map { "\($0.eventID) \($0.eventType)" }.joined(separator: ", ")
    }

    mutating func checkQueriesAndSleeps(
        _ world: SimulationWorld, _ report: SimulationWorld.Report, _ openRuns: [WorkflowRun],
        _ violations: inout [Violation]
    ) {
        let core = world.core
        if Set(core.queries.keys) != Set(world.pendingQueries) {
            violations.append(Violation(
                .queriesAccounted,
                "the core holds queries \(core.queries.keys.map(\.rawValue).sorted()), clients await \(world.pendingQueries.map(\.rawValue))"))
        }
        for id in report.answeredQueries where !answeredQueries.insert(id).inserted {
            violations.append(Violation(.queriesAccounted, "query \(id.rawValue) answered twice"))
        }
        for (id, query) in core.queries where query.route == .buffered {
            let run = core.runs[query.runID]
            let buffered = core.queryBook.buffered(for: query.runID).contains(id)
            let inFlight = core.queryBook.inFlight(for: query.runID).contains(id)
            var startedTask = false
            if case .started? = run?.workflowTask { startedTask = true }
            if run?.isOpen != true || run?.workflowTask == WorkflowRun.WorkflowTaskState.none || buffered == inFlight
                || (inFlight && !startedTask)
            {
                violations.append(Violation(.queriesAccounted, "consistent query \(id.rawValue) does not wait on its run's workflow task"))
            }
        }
        for run in openRuns {
            let runID = run.ref.runID
            for id in core.queryBook.buffered(for: runID) + core.queryBook.inFlight(for: runID) where core.queries[id]?.route != .buffered {
                violations.append(Violation(.queriesAccounted, "run \(run.ref.runID) waits to answer query \(id.rawValue), which is not buffered"))
            }
        }
        if Set(core.sleeps.keys) != Set(world.sleeps) {
            violations.append(Violation(
                .sleepsAccounted, "the core holds sleeps \(core.sleeps.keys.map(\.rawValue).sorted()), clients are in \(world.sleeps.map(\.rawValue))"))
        }
        for (id, entryID) in core.sleeps {
            guard let entry = core.timetable.entry(entryID), case .testClientSleep(id, _) = entry.kind else {
                violations.append(Violation(.sleepsAccounted, "sleep \(id.rawValue) has no pending entry"))
                continue
            }
        }
        for stray in report.strayEffects { violations.append(Violation(.effectsAddressed, stray)) }
        for trap in report.traps where !reportedTraps.insert(trap.run.runID).inserted {
            violations.append(Violation(.trapsReportedOnce, "the trap of run \(trap.run.runID) was reported again"))
        }
    }
}
