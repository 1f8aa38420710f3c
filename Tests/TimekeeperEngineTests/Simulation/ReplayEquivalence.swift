@testable import TimekeeperEngine

/// Replay equivalence: a core rebuilt from what its store kept (each run from its changes, by the reducer
/// the live path uses, then `Refresher` and the queues) has the live core's runs, histories, timetable
/// entries, holds and queued tasks; and each run rebuilt from its history events alone has the live run's
/// event-derived state.
enum ReplayEquivalence {
    /// What of a run its events alone decide (the rest are notes: activity attempts, stickiness).
    struct EventDerived: Equatable {
        var status: ExecutionStatus
        var lastEventID: Int64
        var workflowTask: WorkflowTaskState
        var lastCompletedStartedEventID: Int64
        var hasUnhandledEvents: Bool
        var cancelRequested: Bool
        var timers: [String: TimerState]
        var activities: [Int64: String]
        var cancelRequestedActivities: Set<Int64>

        init(_ run: WorkflowRun) {
            status = run.status
            lastEventID = run.lastEventID
            // A transient workflow task is a note: its events are not written (yet).
            workflowTask = run.hasTransientWorkflowTask ? .none : run.workflowTask
            lastCompletedStartedEventID = run.lastCompletedWorkflowTaskStartedEventID
            hasUnhandledEvents = run.hasUnhandledEvents
            cancelRequested = run.cancelRequested
            timers = run.timers
            activities = run.activities.mapValues(\.activityID)
            cancelRequestedActivities = Set(run.activities.values.filter(\.cancelRequested).map(\.scheduledEventID))
        }
    }

    /// The differences between the live core and the one rebuilt from `store`, named; empty when none.
    static func differences(live: EngineCore, store: some ExecutionStore) -> [String] {
        let recovered: EngineCore
        do throws(RunChangeError) {
            recovered = try EngineCore(
                recovering: store, configuration: .init(skipsTime: live.clock.skipsTime, startsLocked: false),
                wallNow: live.now, makeRunID: { "recovered" })
        } catch {
            return ["the store's changes do not rebuild: \(error)"]
        }
        var differences: [String] = []
        if Set(live.runs.keys) != Set(recovered.runs.keys) {
            differences.append("runs \(live.runs.keys.sorted()) live, \(recovered.runs.keys.sorted()) rebuilt")
        }
        if live.currentRuns != recovered.currentRuns { differences.append("current runs differ") }
        if live.namespaceRecords != recovered.namespaceRecords { differences.append("namespace records differ") }
        if live.registeredSearchAttributes != recovered.registeredSearchAttributes {
            differences.append("registered search attributes \(live.registeredSearchAttributes) live, \(recovered.registeredSearchAttributes) rebuilt")
        }
        for runID in live.runs.keys.sorted() {
            guard let run = live.runs[runID], let rebuilt = recovered.runs[runID] else { continue }
            if run != rebuilt { differences.append("run \(runID): \(describe(run, rebuilt))") }
            if live.history(runID) != recovered.history(runID) { differences.append("run \(runID): histories differ") }
            // As sets: entries due at one instant fire in the order they were added, which a rebuild (adding
            // them all at once) does not reproduce.
            let entries = live.timetable.entries(ownedBy: runID).map { "\($0.kind) at \($0.fireAt)" }.sorted()
            let rebuiltEntries = recovered.timetable.entries(ownedBy: runID).map { "\($0.kind) at \($0.fireAt)" }.sorted()
            if entries != rebuiltEntries {
                differences.append("run \(runID): timetable entries \(entries) live, \(rebuiltEntries) rebuilt")
            }
            // From its events alone, and those buffered while its workflow task runs (notes until written).
            // (A transient task's events are notes too: the buffer needs its started task.)
            let transient: [RunChange] = run.unwrittenWorkflowTaskEvents.enumerated().map { index, event in
                .note(index == 0 ? .transientWorkflowTaskScheduled(event) : .transientWorkflowTaskStarted(event))
            }
            let buffered = run.bufferedEvents.map { RunChange.note(.eventBuffered($0)) }
            let events = live.history(runID).map { RunChange.event($0) } + (buffered.isEmpty ? [] : transient) + buffered
            do throws(RunChangeError) {
                let (fromEvents, _) = try EngineCore.rebuild(run.ref, from: events)
                var (derived, liveDerived) = (EventDerived(fromEvents), EventDerived(run))
                if run.hasTransientWorkflowTask {
                    // The transient task will carry whatever the events left unhandled: only notes say so.
                    (derived.hasUnhandledEvents, liveDerived.hasUnhandledEvents) = (false, false)
                }
                if derived != liveDerived {
                    differences.append("run \(runID): its events alone give \(derived), live \(liveDerived)")
                }
            } catch {
                differences.append("run \(runID): its events alone do not rebuild: \(error)")
            }
        }
        // Work holds (queries are not history: a rebuilt engine has none).
        let liveHolds = live.clock.holds.filter { if case .query = $0.key { false } else { true } }
        if liveHolds != recovered.clock.holds {
            differences.append("holds \(liveHolds) live, \(recovered.clock.holds) rebuilt")
        }
        if queuedTasks(live) != queuedTasks(recovered) {
            differences.append("queued tasks \(queuedTasks(live).sorted()) live, \(queuedTasks(recovered).sorted()) rebuilt")
        }
        return differences
    }

    /// The live tasks waiting in queues, as "queue: task": a run's scheduled workflow task in the queue it
    /// belongs to now (a twin left in a sticky queue the run moved away from is stale), activity attempts
    /// waiting for a worker (or held for a legacy query); legacy queries left out.
    private static func queuedTasks(_ core: EngineCore) -> Set<String> {
        var tasks = Set<String>()
        for (key, queue) in core.matching.workflowQueues {
            for case .workflowTask(let runID, let scheduled) in queue.queued {
                guard let run = core.runs[runID], run.isOpen, run.workflowTask.isWaiting(scheduled),
                    key.name == run.stickyQueue ?? run.taskQueue
                else { continue }
                tasks.insert("\(key.name): workflow task \(runID)/\(scheduled)")
            }
        }
        // Held while a legacy query of its run is with a worker: queued once it is answered, and at once in
        // a rebuilt engine (which has no queries).
        for (runID, queue) in core.workflowTasksHeldForQueries {
            guard let run = core.runs[runID], run.isOpen, let scheduled = run.workflowTask.scheduledEventID,
                run.workflowTask.isWaiting(scheduled), queue == run.stickyQueue ?? run.taskQueue
            else { continue }
            tasks.insert("\(queue): workflow task \(runID)/\(scheduled)")
        }
        for (key, queue) in core.matching.activityQueues {
            for task in queue.queued {
                guard let activity = core.runs[task.runID]?.activities[task.scheduledEventID], activity.phase == .scheduled,
                    activity.attempt == task.attempt, core.runs[task.runID]?.isOpen == true
                else { continue }
                tasks.insert("\(key.name): activity \(task.runID)/\(task.scheduledEventID)#\(task.attempt)")
            }
        }
        return tasks
    }

    private static func describe(_ live: WorkflowRun, _ rebuilt: WorkflowRun) -> String {
        var fields: [String] = []
        if live.status != rebuilt.status { fields.append("status") }
        if live.workflowTask != rebuilt.workflowTask { fields.append("workflow task \(live.workflowTask) / \(rebuilt.workflowTask)") }
        if live.activities != rebuilt.activities { fields.append("activities") }
        if live.timers != rebuilt.timers { fields.append("timers") }
        if live.stickyQueue != rebuilt.stickyQueue { fields.append("sticky queue") }
        if live.hasUnhandledEvents != rebuilt.hasUnhandledEvents { fields.append("unhandled events") }
        if live.startRequest != rebuilt.startRequest { fields.append("start request") }
        return "differs in " + (fields.isEmpty ? "other fields" : fields.joined(separator: ", "))
    }
}
