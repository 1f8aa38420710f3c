@testable import TimekeeperEngine

/// Everything of the core's state that a transition can touch, compared field by field so that a refused
/// request that changed something names what.
struct CoreSnapshot {
    struct Run: Equatable {
        var status: ExecutionStatus
        var lastEventID: Int64
        var workflowTask: WorkflowRun.WorkflowTaskState
        var lastCompletedStartedEventID: Int64
        var hasUnhandledEvents: Bool
        var cancelRequested: Bool
        var stickyQueue: String?
        var entries: [EntryID]
        var timers: [String: Int64]
        var activities: [Int64: Activity]
        var bufferedQueries: [QueryID]
        var queriesInFlight: [QueryID]
    }

    struct Activity: Equatable {
        var attempt: Int32
        var phase: ActivityState.Phase
        var cancelRequested: Bool
        var lastHeartbeatAt: Instant?
    }

    private var runs: [String: Run]
    private var currentRuns: [WorkflowKey: String]
    private var now: Instant
    private var clientLocks: Int
    private var holds: [Hold: Int]
    private var permission: JumpPermission
    private var entries: [EntryID]
    private var queries: [QueryID: PendingQuery.Route]
    private var waitingPollers: Set<PollerID>
    private var sleeps: [SleepID: EntryID]
    private var workflowBacklogs: [TaskQueueKey: Int]
    private var activityBacklogs: [TaskQueueKey: Int]
    private var resultWaiters: [String: Int]
    private var traps: Int

    /// The runs it covers (the open ones: a closed run's changes show in the task ids and the timetable).
    let runIDs: Set<String>

    /// `entries` are the timetable's pending entries in order, when the caller has them already.
    init(_ core: EngineCore, runs runIDs: Set<String>, entries: [EntryID]? = nil) {
        self.runIDs = runIDs
        var runs: [String: Run] = [:]
        for runID in runIDs {
            guard let run = core.runs[runID] else { continue }
            runs[runID] = Run(
                status: run.status, lastEventID: run.lastEventID, workflowTask: run.workflowTask,
                lastCompletedStartedEventID: run.lastCompletedWorkflowTaskStartedEventID,
                hasUnhandledEvents: run.hasUnhandledEvents, cancelRequested: run.cancelRequested,
                stickyQueue: run.stickyQueue, entries: core.timetable.entries(ownedBy: runID).map(\.id),
                timers: run.timers.mapValues(\.startedEventID),
                activities: run.activities.mapValues {
                    Activity(
                        attempt: $0.attempt, phase: $0.phase, cancelRequested: $0.cancelRequested,
                        lastHeartbeatAt: $0.lastHeartbeatAt)
                },
                bufferedQueries: core.queryBook.buffered(for: runID), queriesInFlight: core.queryBook.inFlight(for: runID))
        }
        self.runs = runs
        currentRuns = core.currentRuns
        now = core.now
        clientLocks = core.clock.clientLocks
        holds = core.clock.holds
        permission = core.clock.permission
        self.entries = entries ?? core.timetable.pending.map(\.id)
        queries = core.queries.mapValues(\.route)
        waitingPollers = Set(core.matching.waitingPollers.keys)
        sleeps = core.sleeps
        workflowBacklogs = core.matching.workflowQueues.mapValues(\.backlog).filter { $0.value > 0 }
        activityBacklogs = core.matching.activityQueues.mapValues(\.backlog).filter { $0.value > 0 }
        resultWaiters = core.resultWaiters
        traps = core.traps.count
    }

    /// The names of the parts that differ, empty when none does.
    func differences(from other: CoreSnapshot) -> [String] {
        var names: [String] = []
        func compare<T: Equatable>(_ name: String, _ mine: T, _ theirs: T) {
            if mine != theirs { names.append(name) }
        }
        for runID in Set(runs.keys).union(other.runs.keys).sorted() where runs[runID] != other.runs[runID] {
            names.append("run \(runID)")
        }
        compare("current runs", currentRuns, other.currentRuns)
        compare("virtual now", now, other.now)
        compare("client locks", clientLocks, other.clientLocks)
        compare("holds", holds, other.holds)
        compare("jump permission", permission, other.permission)
        compare("timetable", entries, other.entries)
        compare("queries", queries, other.queries)
        compare("waiting pollers", waitingPollers, other.waitingPollers)
        compare("sleeps", sleeps, other.sleeps)
        compare("workflow task queues", workflowBacklogs, other.workflowBacklogs)
        compare("activity task queues", activityBacklogs, other.activityBacklogs)
        compare("result waiters", resultWaiters, other.resultWaiters)
        compare("traps", traps, other.traps)
        return names
    }
}
