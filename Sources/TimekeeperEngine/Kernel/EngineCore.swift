internal import SwiftProtobuf
package import TemporalAPI

/// The engine's functional core: every RPC becomes a transition of this value, given the wall time at which
/// it happens, and the `Transition` it records is what the shell commits and acts on.
///
/// Each transition has two steps. Deciding reads the state and may refuse the request (`throws`, but it is
/// `func`, not `mutating`: a refused request cannot have changed anything). Applying the decision mutates
/// the state and cannot fail (`commit(_:_:)` takes a non-throwing closure). Run state changes only
/// through `record` and `note`, which put each change through the run's reducer and into the transition;
/// what a run owns in the timetable and the clock is derived from its state afterwards (`Refresher`).
///
/// No threads, sockets or clocks in here: the same inputs at the same wall times give the same history,
/// which is what lets unit tests replay whole scenarios. `Engine` is the one owner that serialises access.
package struct EngineCore: Sendable {
    /// Something the shell must do once a transition is committed.
    package enum Effect: Sendable {
        /// Hand this workflow task to the poller that was waiting for it.
        case deliverWorkflowTask(PollerID, Temporal_Api_Workflowservice_V1_PollWorkflowTaskQueueResponse)
        /// Hand this activity task to the poller that was waiting for it.
        case deliverActivityTask(PollerID, Temporal_Api_Workflowservice_V1_PollActivityTaskQueueResponse)
        /// A client waiting on an update gets its answer (the update reached the stage it waits for, or failed).
        case answerUpdate(UpdateWaitID, Result<UpdateProgress, EngineError>)
        /// A query has its answer (or failed).
        case answerQuery(QueryID, Result<Temporal_Api_Workflowservice_V1_QueryWorkflowResponse, EngineError>)
        /// The run's history grew (or it closed): re-check history long polls waiting on it.
        case historyChanged(runID: String)
        /// A blocked TestService sleep call may return.
        case finishSleep(SleepID)
        /// The clock jumped (for the log).
        case clockJumped(ClockJump)
        /// A workflow's own clock skipped (time skipping V2; for the log).
        case workflowClockSkipped(WorkflowClockSkip)
        /// A jump timed out a workflow that only a signal or update could have moved (for a warning).
        case trapDetected(TimeSkippingTrap)
    }

    package struct Configuration: Sendable {
        /// Test mode: the clock skips; dev mode: it is the wall clock.
        package var skipsTime: Bool
        /// Whether one client lock is held at start, as Temporal's test server does unless it is given
        /// `--enable-time-skipping`.
        package var startsLocked: Bool
        /// When a started workflow task suggests continue-as-new: at this many events (the started event's
        /// id) or this many bytes of history before it. Temporal's defaults are 4 Ki events and 4 MiB
        /// (`limit.historyCount.suggestContinueAsNew`, `limit.historySize.suggestContinueAsNew`).
        package var suggestContinueAsNewAtEventCount: Int64 = 4 * 1024
        package var suggestContinueAsNewAtHistoryBytes: Int64 = 4 * 1024 * 1024
        /// Test mode registers a custom search attribute on first use (Temporal's Java test server accepts
        /// any); dev mode refuses a name nobody registered, as Temporal's dev server does.
        package var registersSearchAttributesOnFirstUse = true
        /// Per-workflow time skipping (V2): on unless `frontend.WorkflowTimeSkippingEnabled=false` (Temporal's
        /// default is off, but SDKs' `start_time_skipping_v2` does not turn it on), and the skips a session
        /// may make when a config leaves the limit unset (`frontend.WorkflowTimeSkippingMaxSkipPerSession`).
        package var timeSkippingV2Enabled = true
        /// Dev mode deletes a closed run once its namespace's retention has passed (24 hours unless the
        /// namespace says otherwise), as Temporal's servers do; the test server keeps every run.
        package var deletesClosedRunsAfterRetention = false
        package var timeSkippingMaxSkipsPerSession: Int32 = 200

        package init(skipsTime: Bool, startsLocked: Bool) {
            self.skipsTime = skipsTime
            self.startsLocked = startsLocked
        }
    }

    package let configuration: Configuration

    package internal(set) var clock: VirtualClock
    package internal(set) var timetable = Timetable()
    package internal(set) var runs: [String: WorkflowRun] = [:]
    /// Namespaces registered or updated by clients (engine state; not history).
    package private(set) var namespaceRecords: [String: NamespaceRecord] = [:]
    /// Schedules by namespace and id (engine state beside the runs; not history). Any change marks them for
    /// the transition, which carries each schedule that differs from what the last one left (`takeTransition`).
    package internal(set) var schedules: [ScheduleKey: ScheduleRecord] = [:] { didSet { schedulesChanged = true } }
    private var schedulesChanged = false
    /// The schedules as the last transition left them: what a store has.
    private var committedSchedules: [ScheduleKey: ScheduleRecord] = [:]
    /// Custom search attributes clients registered, by namespace (see `EngineCore+SearchAttributes.swift`).
    package private(set) var registeredSearchAttributes: [String: [String: SearchAttributeType]] = [:]
    /// The latest heartbeat of each worker (engine state; not history).
    package internal(set) var workers: [WorkerKey: WorkerHeartbeat] = [:]
    /// Batch operations by namespace and job id (engine state beside the runs; not history). Whatever
    /// changes one says so (`changedBatches`): the transition carries it whole.
    package internal(set) var batches: [BatchKey: BatchRecord] = [:]
    /// The batches changed since the last transition.
    var changedBatches: Set<BatchKey> = []
    /// Each run's history, beside the runs so that a copy of a run never copies its history.
    package private(set) var histories: [String: [HistoryEvent]] = [:]
    /// The latest run of each workflow id, by namespace.
    package internal(set) var currentRuns: [WorkflowKey: String] = [:]
    /// Task queues and the pollers waiting on them.
    package internal(set) var matching = Matching()
    /// Clients' queries until they are answered.
    package internal(set) var queryBook = QueryBook()
    /// Updates no worker has answered yet, and the clients waiting on updates.
    package internal(set) var updateBook = UpdateBook()
    /// The clock's account of itself: jumps, traps, clients awaiting results.
    package internal(set) var explanation = ClockExplanation()
    /// Visibility's records of the runs (a projection, brought up to date when read).
    package internal(set) var visibility = VisibilityIndex()
    var sleeps: [SleepID: EntryID] = [:]
    /// The clock holds each run has, as its state calls for them (see `Refresher`).
    private var runHolds: [String: Set<Hold>] = [:]
    /// The completion whose commands are being applied (see `completeWorkflowTask`).
    var applying: CommandApplication?
    private var nextTaskID: Int64 = 1
    /// What the transition in progress changed, taken by the shell when it ends.
    private var transition = Transition()
    /// Runs changed since their timetable entries and holds were last brought in line with their state.
    private var touched: [String] = []
    /// Workflow tasks not offered yet because a legacy query task of their run is with a worker: run id →
    /// the queue the task goes to (see `dispatchWorkflowTask`).
    var workflowTasksHeldForQueries: [String: String] = [:]
    /// Runs that buffered events since the buffer limits were last enforced (`enforceBufferLimits`).
    private var runsThatBuffered: Set<String> = []
    /// Makes run ids; injectable so that tests get predictable ids.
    let newRunID: @Sendable () -> String
    /// A run id handed out before its run exists (the closing event of the previous run names it).
    private var reservedRunID: String?

    package init(configuration: Configuration, wallNow: Instant, makeRunID: @escaping @Sendable () -> String) {
        self.configuration = configuration
        clock = VirtualClock(startingAt: wallNow, skipsTime: configuration.skipsTime,
                             startsLocked: configuration.startsLocked)
        self.newRunID = makeRunID
    }

    package var queries: [QueryID: PendingQuery] { queryBook.pending }
    package var recentJumps: RecentJumps { explanation.recentJumps }
    package var resultWaiters: [String: Int] { explanation.resultWaiters }
    package var traps: [String: TimeSkippingTrap] { explanation.traps }

    /// How many bytes each run's history takes serialized, as far as it was counted (see `historySize`).
    private var historySizes: [String: (events: Int, bytes: Int64)] = [:]

    /// The serialized size of a run's history, as a workflow task's started event reports it
    /// (`history_size_bytes`). Counted on demand from where the last count stopped, so each event is
    /// measured once.
    mutating func historySize(_ runID: String) -> Int64 {
        let events = histories[runID] ?? []
        var (counted, bytes) = historySizes[runID] ?? (0, 0)
        while counted < events.count {
            bytes += Int64((try? events[counted].serializedBytes() as [UInt8])?.count ?? 0)
            counted += 1
        }
        historySizes[runID] = (counted, bytes)
        return bytes
    }

    /// A run's history (empty for a run this engine does not have).
    package func history(_ runID: String) -> [HistoryEvent] { histories[runID] ?? [] }

    /// Events of `runID` from `firstEventID` on (1-based), without copying the rest of the history.
    func events(_ runID: String, from firstEventID: Int64) -> ArraySlice<HistoryEvent> {
        let events = histories[runID] ?? []
        let start = min(max(0, Int(firstEventID) - 1), events.count)
        return events[start...]
    }

    func closeEvent(_ runID: String) -> HistoryEvent? {
        runs[runID]?.isOpen == false ? histories[runID]?.last : nil
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

    // MARK: Transitions

    /// One transition at `wallNow`: `decide` reads the state (it gets a value, so it cannot change it) and
    /// either refuses the request or answers how to apply it; applying cannot fail. A refused request
    /// changes nothing, though time still passes: the clock settles as it would have anyway.
    mutating func transition<T>(
        _ wallNow: Instant, _ decide: (EngineCore) throws(EngineError) -> (inout EngineCore) -> T
    ) throws(EngineError) -> T {
        let apply: (inout EngineCore) -> T
        do throws(EngineError) {
            apply = try decide(self)
        } catch {
            settle(wallNow)
            throw error
        }
        return commit(wallNow, apply)
    }

    /// Applies a decided transition at `wallNow`: brings the clock up to it, runs `apply` (which cannot
    /// fail), derives what the changed runs own, and lets the clock fire whatever is due.
    mutating func commit<T>(_ wallNow: Instant, _ apply: (inout EngineCore) -> T) -> T {
        refresh(wallNow)
        let result = apply(&self)
        settle(wallNow)
        return result
    }

    /// Returns and forgets what the transitions since the last call changed.
    package mutating func takeTransition() -> Transition {
        defer { transition = Transition() }
        if schedulesChanged { noteScheduleChanges() }
        for key in changedBatches {
            if let record = batches[key] { transition.batchRecords[key] = record } else { transition.deletedBatches.insert(key) }
        }
        changedBatches = []
        return transition
    }

    /// Each schedule that is new, changed (beyond its timetable entry, which is derived) or gone since the
    /// last transition. The many places that change a schedule need not each say so; there are few schedules.
    private mutating func noteScheduleChanges() {
        schedulesChanged = false
        for (key, record) in schedules where committedSchedules[key].map({ !$0.keepsTheSameAs(record) }) ?? true {
            transition.scheduleRecords[key] = record
        }
        for key in committedSchedules.keys where schedules[key] == nil {
            transition.deletedSchedules.insert(key)
        }
        committedSchedules = schedules
    }

    mutating func emit(_ effect: Effect) { transition.effects.append(effect) }

    /// The engine records a store kept (recovery only: not a transition).
    mutating func restoreRecords(namespaces: [String: NamespaceRecord], searchAttributes: [String: [String: SearchAttributeType]]) {
        namespaceRecords = namespaces
        registeredSearchAttributes = searchAttributes.filter { !$0.value.isEmpty }
    }

    /// Sets a namespace's record, as part of the transition.
    mutating func setNamespaceRecord(_ record: NamespaceRecord, for name: String) {
        namespaceRecords[name] = record
        transition.namespaceRecords[name] = record
    }

    /// Changes a namespace's registered search attributes, as part of the transition.
    mutating func changeRegisteredSearchAttributes(in namespace: String, _ change: (inout [String: SearchAttributeType]) -> Void) {
        var types = registeredSearchAttributes[namespace] ?? [:]
        change(&types)
        registeredSearchAttributes[namespace] = types.isEmpty ? nil : types
        transition.registeredSearchAttributes[namespace] = types
    }

    /// Appends an event to a run at virtual now, through the run's reducer, and tells history waiters.
    @discardableResult
    mutating func record(
        _ runID: String, _ type: Temporal_Api_Enums_V1_EventType, _ fill: (inout HistoryEvent) -> Void
    ) -> Int64 {
        if runs[runID]!.workflowTask.isStarted {
            if WorkflowRun.isBuffered(type) {
                // Held until the worker's task ends, its effects applied now (see `RunNote.eventBuffered`).
                var event = HistoryEvent()
                event.eventTime = runNow(runID).timestamp
                event.eventType = type
                fill(&event)
                note(runID, .eventBuffered(event))
                runsThatBuffered.insert(runID)
                return 0  // it has no id yet: `writeBufferedEvents` wires the ids that refer to it
            }
            // As on Temporal's server, the task fails first, and what was buffered meanwhile is written
            // before the close event.
            if WorkflowRun.closeEventTypes.contains(type) {
                forceFailStartedTask(runID)
                writeBufferedEvents(runID)
            }
        }
        // A transient workflow task's events go first, as the worker saw them (Temporal writes them when
        // the attempt completes, or converts the task when an event must be written meanwhile). A close
        // ends the task instead: it is never written.
        if !WorkflowRun.closeEventTypes.contains(type) {
            for unwritten in runs[runID]!.unwrittenWorkflowTaskEvents {
                var event = unwritten
                event.taskID = nextTaskID
                nextTaskID += 1
                append(runID, event)
            }
        }
        var event = HistoryEvent()
        event.eventID = runs[runID]!.lastEventID + 1
        event.eventTime = runNow(runID).timestamp
        event.eventType = type
        event.taskID = nextTaskID
        nextTaskID += 1
        // The summary and details a command carries go on the first event it records.
        if applying?.runID == runID, let metadata = applying?.userMetadata {
            event.userMetadata = metadata
            applying?.userMetadata = nil
        }
        fill(&event)
        return append(runID, event)
    }

    /// Fails the workflow task a worker runs, for the server's own reasons (the run closes, or buffered too
    /// much): FORCE_CLOSE_COMMAND, or nothing written for a transient attempt. Answers the failed attempt.
    @discardableResult
    private mutating func forceFailStartedTask(_ runID: String) -> Int32? {
        guard case .started(let scheduledID, let startedID, let attempt, _, _) = runs[runID]!.workflowTask else { return nil }
        endWorkflowTaskAttempt(runID, .workflowTaskFailed) { event in
            event.workflowTaskFailedEventAttributes = .with {
                $0.scheduledEventID = scheduledID
                $0.startedEventID = startedID
                $0.cause = .forceCloseCommand
                $0.identity = "history-service"  // the name Temporal's server records its own failures under
            }
        }
        return attempt
    }

    /// Temporal's limits on what a run buffers while a worker runs its task (its server's defaults for
    /// `history.maximumBufferedEventsBatch` and `history.maximumBufferedEventsSizeInBytes`).
    static let bufferedEventsLimit = (count: 100, bytes: 2 << 20)

    /// A run that buffered past the limits has its task failed (FORCE_CLOSE_COMMAND), what it buffered
    /// written and a new task scheduled, as on Temporal's server: a flood of signals during a long task
    /// cannot grow the buffer without bound. Called between whole operations (`settle`), never inside one,
    /// so that a result and its started event are buffered or written together.
    mutating func enforceBufferLimits() {
        guard !runsThatBuffered.isEmpty else { return }
        defer { runsThatBuffered = [] }
        for runID in runsThatBuffered.sorted() {
            guard let run = runs[runID], run.isOpen, run.workflowTask.isStarted else { continue }
            let tooMany = run.bufferedEvents.count > Self.bufferedEventsLimit.count
            guard tooMany || Self.serializedSize(run.bufferedEvents) > Self.bufferedEventsLimit.bytes,
                let attempt = forceFailStartedTask(runID)
            else { continue }
            retryWorkflowTask(runID, after: attempt)  // writes the buffer: a first attempt follows
        }
    }

    private static func serializedSize(_ events: [HistoryEvent]) -> Int {
        events.reduce(0) { total, event in total + ((try? event.serializedBytes() as [UInt8])?.count ?? 0) }
    }

    /// Writes the events buffered while the run's workflow task was started, now that it has ended (after
    /// its own events, and a completion's commands'), in `WorkflowRun.writingOrder`, each with its id and
    /// task id; a result written with its activity's or child's started event names that event's id (it
    /// had none when the result was buffered). Answers whether there were any.
    @discardableResult
    mutating func writeBufferedEvents(_ runID: String) -> Bool {
        guard let run = runs[runID], !run.bufferedEvents.isEmpty, !run.workflowTask.isStarted else { return false }
        note(runID, .bufferedEventsWritten)
        let ordered = runs[runID]!.writingBuffered  // the order the note put them in
        var startedIDs = BufferedStartedIDs()
        for var event in ordered {
            event.eventID = runs[runID]!.lastEventID + 1
            event.taskID = nextTaskID
            nextTaskID += 1
            startedIDs.wire(&event)
            append(runID, event)
        }
        return true
    }

    /// A run's now: the engine's, plus what time skipping (V2) moved the run's own clock on.
    package func runNow(_ runID: String) -> Instant {
        clock.now + (runs[runID]?.skippedOffset ?? .zero)
    }

    /// Appends a whole event (id, time and task id set) through the run's reducer.
    @discardableResult
    private mutating func append(_ runID: String, _ event: HistoryEvent) -> Int64 {
        guard change(runID, .event(event)) else { return event.eventID }
        histories[runID, default: []].append(event)
        if event.eventType == .upsertWorkflowSearchAttributes, let namespace = runs[runID]?.ref.namespace {
            noteSearchAttributeTypes(event, namespace: namespace)
        }
        emit(.historyChanged(runID: runID))
        return event.eventID
    }

    /// Records a fact about a run that is not a history event.
    mutating func note(_ runID: String, _ note: RunNote) {
        change(runID, .note(note))
    }

    /// Creates a run from its started event (event 1) and the request it was made from.
    mutating func createRun(_ ref: RunRef, request: StartWorkflowRequest, _ fill: (inout HistoryEvent) -> Void) {
        var event = HistoryEvent()
        event.eventID = 1
        event.eventTime = clock.now.timestamp
        event.eventType = .workflowExecutionStarted
        event.taskID = nextTaskID
        nextTaskID += 1
        fill(&event)
        // A run that goes on from a skipped clock (a child, a retry, a continue-as-new) starts at its
        // virtual now.
        let inherited = event.workflowExecutionStartedEventAttributes.timeSkippingStatePropagation.initialSkippedDuration
        if event.workflowExecutionStartedEventAttributes.hasTimeSkippingStatePropagation {
            event.eventTime = (clock.now + Duration(protobuf: inherited)).timestamp
        }
        runs[ref.runID] = WorkflowRun(ref: ref, started: event)
        histories[ref.runID] = [event]
        noteSearchAttributeTypes(event, namespace: ref.namespace)
        transition.journal.append(JournalEntry(runID: ref.runID, change: .event(event)))
        touched.append(ref.runID)
        emit(.historyChanged(runID: ref.runID))
        note(ref.runID, .created(request))
        setCurrentRun(WorkflowKey(namespace: ref.namespace, workflowID: ref.workflowID), ref.runID)
    }

    /// Room for `count` more histories (recovery knows how many runs it adds).
    mutating func reserveHistories(_ count: Int) { histories.reserveCapacity(histories.count + count) }

    /// A recovered run's history (see `EngineCore+Recovery.swift`); later events continue its task ids.
    mutating func restoreHistory(_ runID: String, _ history: [HistoryEvent]) {
        histories[runID] = history
        touched.append(runID)
        if let namespace = runs[runID]?.ref.namespace {
            for event in history { noteSearchAttributeTypes(event, namespace: namespace) }
        }
        if let last = history.map(\.taskID).max(), last >= nextTaskID { nextTaskID = last + 1 }
    }

    mutating func setCurrentRun(_ key: WorkflowKey, _ runID: String) {
        currentRuns[key] = runID
        transition.currentRuns[key] = runID
    }

    /// The workflow id has no current run any more (its run was deleted).
    mutating func clearCurrentRun(_ key: WorkflowKey) {
        currentRuns[key] = nil
        transition.clearedCurrentRuns.insert(key)
        transition.currentRuns[key] = nil
    }

    /// A deleted run's history goes with it.
    mutating func removeHistory(_ runID: String) {
        histories[runID] = nil
        historySizes[runID] = nil
        runHolds[runID] = nil
    }

    /// The store forgets the run too.
    mutating func noteDeleted(_ runID: String) { transition.deletedRuns.append(runID) }

    /// The live path decides every change from the state it applies to, so the reducer never refuses one
    /// here; if it did, the engine has a bug, and the change is left out rather than half made.
    @discardableResult
    private mutating func change(_ runID: String, _ change: RunChange) -> Bool {
        do throws(RunChangeError) {
            try runs[runID]!.apply(change)
        } catch {
            assertionFailure("run \(runID) refused a change the engine decided: \(error)")
            return false
        }
        transition.journal.append(JournalEntry(runID: runID, change: change))
        if touched.last != runID { touched.append(runID) }
        return true
    }

    /// Brings the timetable entries and clock holds of every changed run in line with its state.
    mutating func refreshTouchedRuns() {
        guard !touched.isEmpty else { return }
        skipIdleRuns(touched)
        var seen = Set<String>()
        // In the order the runs changed, so that entries due at one instant fire the same way every time.
        for runID in touched where seen.insert(runID).inserted {
            visibility.markStale(runID)
            guard let run = runs[runID] else { continue }
            timetable.sync(owner: run.ref, desired: Refresher.entries(of: run) + retentionEntry(run))
            let holds = Refresher.holds(of: run)
            let held = runHolds[runID] ?? []
            for hold in held.subtracting(holds) { clock.release(hold) }
            for hold in holds.subtracting(held) { clock.take(hold) }
            runHolds[runID] = holds.isEmpty ? nil : holds
        }
        touched.removeAll(keepingCapacity: true)
    }

    /// A closed run's deletion once its namespace's retention has passed (dev mode).
    private func retentionEntry(_ run: WorkflowRun) -> [(kind: TimetableEntry.Kind, fireAt: Instant)] {
        guard configuration.deletesClosedRunsAfterRetention, !run.isOpen, let closedAt = run.closedAt else { return [] }
        let closedInEngineTime = closedAt + (.zero - run.skippedOffset)
        return [(.retentionEnds, closedInEngineTime + namespaceRecord(run.ref.namespace).retention)]
    }

    /// Runs `body` with matching taken out of the core, so that asking the runs which queued tasks are
    /// still live (the core, read-only) copies neither.
    mutating func polling<T>(_ body: (inout Matching, EngineCore) -> T) -> T {
        var matching = self.matching
        self.matching = Matching()
        defer { self.matching = matching }
        return body(&matching, self)
    }

    mutating func take(_ hold: Hold) { clock.take(hold) }
    mutating func release(_ hold: Hold) { clock.release(hold) }
}

/// Names a workflow id within a namespace.
package struct WorkflowKey: Hashable, Sendable {
    package var namespace: String
    package var workflowID: String

    package init(namespace: String, workflowID: String) {
        self.namespace = namespace
        self.workflowID = workflowID
    }
}
