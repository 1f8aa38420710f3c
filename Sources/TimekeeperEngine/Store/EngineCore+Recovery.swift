internal import TemporalAPI

/// Rebuilding an engine from what a store kept: each run from its changes by the same reducer the live
/// path uses, then what the runs' states call for — timetable entries and clock holds (`Refresher`), and
/// the tasks that wait in queues.
extension EngineCore {
    package init(recovering store: some ExecutionStore, configuration: Configuration, wallNow: Instant,
                 makeRunID: @escaping @Sendable () -> String) throws(RunChangeError) {
        self.init(configuration: configuration, wallNow: wallNow, makeRunID: makeRunID)
        // Each run is rebuilt from its own changes alone, so runs are rebuilt in parallel, then added in order.
        let rebuilt = try InParallel.map(store.runs) { (stored) throws(RunChangeError) in
            try Self.rebuildStored(stored.runID, stored.changes)
        }
        runs.reserveCapacity(rebuilt.count)
        reserveHistories(rebuilt.count)
        for (run, history) in rebuilt {
            runs[run.ref.runID] = run
            restoreHistory(run.ref.runID, history)
        }
        currentRuns = store.currentRuns
        restoreRecords(namespaces: store.namespaceRecords, searchAttributes: store.registeredSearchAttributes)
        // Each schedule's entry is armed again at its next time after what it had handled: times that came
        // while the server was down fire at once, within the schedule's catch-up window.
        schedules = store.scheduleRecords
        for key in schedules.keys.sorted(by: { ($0.namespace, $0.scheduleID) < ($1.namespace, $1.scheduleID) }) {
            armSchedule(key)
        }
        batches = store.batchRecords  // a running one goes on once the engine is ready (`Engine.recoverInBackground`)
        refreshTouchedRuns()
        for (runID, _) in store.runs { requeue(runID) }
        _ = takeTransition()  // rebuilding is not a transition: nothing to commit or wake
    }

    /// A run from its changes alone, refused if they do not make a run.
    package static func rebuild(_ ref: RunRef, from changes: [RunChange]) throws(RunChangeError)
        -> (run: WorkflowRun, history: [HistoryEvent])
    {
        guard case .event(let started)? = changes.first, started.eventType == .workflowExecutionStarted,
            started.eventID == 1
        else {
            throw RunChangeError(.notCreated, "run \(ref.runID): the first change is not a WorkflowExecutionStarted event 1")
        }
        var run = WorkflowRun(ref: ref, started: started)
        var history = [started]
        for change in changes.dropFirst() {
            try run.apply(change)
            if case .event(let event) = change { history.append(event) }
        }
        return (run, history)
    }

    /// A stored run rebuilt from its changes, in the namespace its start request named.
    private static func rebuildStored(_ runID: String, _ changes: [RunChange]) throws(RunChangeError)
        -> (run: WorkflowRun, history: [HistoryEvent])
    {
        guard case .event(let started)? = changes.first else {
            throw RunChangeError(.notCreated, "run \(runID) has no changes")
        }
        let attributes = started.workflowExecutionStartedEventAttributes
        let namespace = Self.namespace(of: changes) ?? ""
        return try rebuild(RunRef(namespace: namespace, workflowID: attributes.workflowID, runID: runID), from: changes)
    }

    /// The namespace a run was created in, from its start request.
    private static func namespace(of changes: [RunChange]) -> String? {
        for change in changes {
            if case .note(.created(let request)) = change { return request.namespace }
        }
        return nil
    }

    /// A recovered run's tasks go back to their queues: a scheduled workflow task, and activity attempts
    /// waiting for a worker. (A started task stays started; its timeout entry ends it if its worker is gone.)
    private mutating func requeue(_ runID: String) {
        guard let run = runs[runID], run.isOpen else { return }
        if case .scheduled(let scheduledID, _, _) = run.workflowTask {
            let key = TaskQueueKey(namespace: run.ref.namespace, name: run.stickyQueue ?? run.taskQueue)
            _ = matching.offer(.workflowTask(runID: runID, scheduledEventID: scheduledID), to: key)
        }
        for activity in run.activities.values.sorted(by: { $0.scheduledEventID < $1.scheduledEventID })
        where activity.phase == .scheduled {
            let task = ActivityTaskRef(runID: runID, scheduledEventID: activity.scheduledEventID, attempt: activity.attempt)
            _ = matching.offer(task, to: TaskQueueKey(namespace: run.ref.namespace, name: activity.taskQueue))
        }
    }
}
