import Foundation
import TemporalAPI
@testable import TimekeeperEngine

/// The simulated shell around one `EngineCore`: a wall clock moved by hand, and what the clients and
/// workers hold (tasks, waiting pollers, pending queries, sleeps, result waits). It performs a step as
/// `Engine` would (one core call at one wall time, then the effects) and reports what came of it.
struct SimulationWorld {
    static let namespace = "default"
    static let workflowIDs = ["wf-0", "wf-1", "wf-2", "wf-3", "wf-4"]
    static let taskQueues = ["q0", "q1"]
    static let stickyQueues = ["sticky-a", "sticky-b"]
    /// Activities use their run's queue or this one.
    static let activityQueue = "aq"
    /// How many tasks of each kind a worker keeps before it "crashes" and forgets the oldest.
    static let heldTaskLimit = 8

    struct HeldWorkflowTask {
        var token: Data
        var runID: String
        /// The ids of the queries that rode on the task, which its completion may answer.
        var queries: [String]
    }

    struct HeldActivityTask {
        var token: Data
        var runID: String
        var workflowID: String
        var activityID: String
    }

    struct WaitingPoll {
        var id: PollerID
        var isActivity: Bool
        var queue: TaskQueueKey
    }

    /// A task handed to the shell in a step: a poll's answer or a delivery effect.
    enum Delivery {
        case workflowTask(PollWorkflowTaskResponse)
        case activityTask(PollActivityTaskResponse)
    }

    /// What came of one step.
    struct Report {
        var error: EngineError?
        var deliveries: [Delivery] = []
        var answeredQueries: [QueryID] = []
        var finishedSleeps: [SleepID] = []
        var jumps: [ClockJump] = []
        var traps: [TimeSkippingTrap] = []
        /// Effects that name a poller, query or sleep the shell is not waiting for.
        var strayEffects: [String] = []
    }

    private(set) var core: EngineCore
    private(set) var wall: Instant
    /// Whether the core has been settled at `wall` since wall time last moved.
    private(set) var settled = true
    private(set) var waitingPolls: [WaitingPoll] = []
    private(set) var workflowTasks: [HeldWorkflowTask] = []
    private(set) var activityTasks: [HeldActivityTask] = []
    private(set) var queryTasks: [Data] = []
    /// Tokens already answered or forgotten, for stale and duplicate responses.
    private(set) var spentTokens: [Data] = []
    private(set) var pendingQueries: [QueryID] = []
    private(set) var sleeps: [SleepID] = []
    /// One entry per client awaiting a run's close event (`result()`), as `Engine`'s history waits.
    private(set) var resultWaits: [String] = []

    init(skipsTime: Bool, startsLocked: Bool) {
        wall = Instant(nanosecondsSinceEpoch: 1_700_000_000 * 1_000_000_000)
        let counter = Counter()
        core = EngineCore(
            configuration: .init(skipsTime: skipsTime, startsLocked: startsLocked), wallNow: wall,
            makeRunID: { "run-\(counter.next())" })
    }

    /// The open runs, found through each workflow id's current run (which an open run always is).
    var openRuns: [WorkflowRun] {
        core.currentRuns.values.sorted().compactMap { core.runs[$0] }.filter(\.isOpen)
    }

    // MARK: Performing a step

    mutating func perform(_ step: SimulationStep) -> Report {
        var report = Report()
        let wasSettled = settled
        do throws(EngineError) {
            try call(step)
        } catch {
            report.error = error
        }
        switch step {
        case .advanceWall: settled = false
        case .cancelPoll, .readHistory: break  // neither refreshes nor settles the clock
        default:
            // A refused call may not have reached its settle; the shell's clock task settles right after.
            if report.error != nil && !wasSettled { core.settle(wall) }
            settled = true
        }
        absorbEffects(into: &report)
        return report
    }

    private mutating func call(_ step: SimulationStep) throws(EngineError) {
        let ns = Self.namespace
        switch step {
        case .start(let request):
            _ = try core.startWorkflow(request, wallNow: wall)
        case .signalWithStart(let request):
            _ = try core.signalWithStart(request, wallNow: wall)
        case .pollWorkflowTask(let namespace, let queue, let poller, let keepsWaiting):
            if let task = try core.pollWorkflowTask(
                namespace: namespace, taskQueue: queue, identity: "worker", poller: poller, wallNow: wall)
            {
                pendingDeliveries.append(.workflowTask(task))
            } else {
                // Waiting; the poll's own settle may hand it a task (see `absorbEffects`).
                waitingPolls.append(WaitingPoll(id: poller, isActivity: false, queue: .init(namespace: namespace, name: queue)))
                if !keepsWaiting { givesUp = poller }
            }
        case .pollActivityTask(let namespace, let queue, let poller, let keepsWaiting):
            if let task = try core.pollActivityTask(
                namespace: namespace, taskQueue: queue, identity: "worker", poller: poller, wallNow: wall)
            {
                pendingDeliveries.append(.activityTask(task))
            } else {
                waitingPolls.append(WaitingPoll(id: poller, isActivity: true, queue: .init(namespace: namespace, name: queue)))
                if !keepsWaiting { givesUp = poller }
            }
        case .cancelPoll(let poller):
            waitingPolls.removeAll { $0.id == poller }
            core.cancelPoll(poller)
        case .completeWorkflowTask(let request):
            spend(request.taskToken)
            try core.completeWorkflowTask(request, wallNow: wall)
        case .failWorkflowTask(let request):
            spend(request.taskToken)
            try core.failWorkflowTask(request, wallNow: wall)
        case .completeActivity(let address):
            spend(address)
            try core.completeActivity(address, result: nil, identity: "worker", wallNow: wall)
        case .failActivity(let address, let failure):
            spend(address)
            try core.failActivity(address, failure: failure, lastHeartbeatDetails: nil, identity: "worker", wallNow: wall)
        case .cancelActivity(let address):
            spend(address)
            try core.cancelActivity(address, details: nil, identity: "worker", wallNow: wall)
        case .heartbeatActivity(let address):
            _ = try core.heartbeatActivity(address, details: nil, wallNow: wall)
        case .signal(let request):
            try core.signalWorkflow(request, wallNow: wall)
        case .query(let request, let id):
            if case .pending = try core.queryWorkflow(request, id: id, wallNow: wall) { pendingQueries.append(id) }
        case .completeQueryTask(let request):
            spend(request.taskToken)
            try core.completeQueryTask(request, wallNow: wall)
        case .abandonQuery(let id):
            pendingQueries.removeAll { $0 == id }
            core.abandonQuery(id, wallNow: wall)
        case .requestCancel(let request):
            try core.requestCancelWorkflow(request, wallNow: wall)
        case .terminate(let request):
            try core.terminateWorkflow(request, wallNow: wall)
        case .resetStickyQueue(let namespace, let execution):
            try core.resetStickyQueue(namespace: namespace, execution, wallNow: wall)
        case .shutdownWorker(let namespace, let queue):
            core.shutdownWorker(namespace: namespace, stickyQueue: queue, wallNow: wall)
        case .readHistory(let request):
            if case .page = try core.readHistory(request) { return }
            // A long poll: a client awaiting the close event is a result waiter until the run changes.
            if request.historyEventFilterType == .closeEvent,
                let run = try? core.resolveRun(namespace: ns, request.execution)
            {
                resultWaits.append(run.ref.runID)
                core.noteResultWaiter(run.ref.runID, 1)
            }
        case .lock:
            core.lockTimeSkipping(wallNow: wall)
        case .unlock:
            try core.unlockTimeSkipping(wallNow: wall)
        case .sleep(let id, let deadline, let unlocking):
            try core.sleep(id, until: deadline, unlocking: unlocking, wallNow: wall)
            sleeps.append(id)
        case .cancelSleep(let id):
            sleeps.removeAll { $0 == id }
            core.cancelSleep(id, wallNow: wall)
        case .advanceWall(let duration):
            wall = wall + duration
        case .settle:
            core.settle(wall)
        }
    }

    /// Every transition committed, as `Engine` commits them: what the replay check rebuilds from.
    private(set) var store = InMemoryExecutionStore()
    /// A second store that gets every transition too (the durable store under test), if one is set.
    var mirror: (any ExecutionStore)?
    /// Tasks a poll answered directly, handed over with the step's delivery effects.
    private var pendingDeliveries: [Delivery] = []
    /// A poll that found nothing and gives up at once, unless the effects of its own call (its settle
    /// fired something) handed it a task: `Engine` registers the poller before it reads the effects.
    private var givesUp: PollerID?

    private mutating func absorbEffects(into report: inout Report) {
        var deliveries = pendingDeliveries
        pendingDeliveries = []
        let transition = core.takeTransition()
        store.commit(transition)
        mirror?.commit(transition)
        for effect in transition.effects {
            switch effect {
            case .deliverWorkflowTask(let poller, let task):
                if let index = waitingPolls.firstIndex(where: { $0.id == poller && !$0.isActivity }) {
                    waitingPolls.remove(at: index)
                } else {
                    report.strayEffects.append("a workflow task went to poller \(poller.rawValue), which is not waiting")
                }
                deliveries.append(.workflowTask(task))
            case .deliverActivityTask(let poller, let task):
                if let index = waitingPolls.firstIndex(where: { $0.id == poller && $0.isActivity }) {
                    waitingPolls.remove(at: index)
                } else {
                    report.strayEffects.append("an activity task went to poller \(poller.rawValue), which is not waiting")
                }
                deliveries.append(.activityTask(task))
            case .answerQuery(let id, _):
                if let index = pendingQueries.firstIndex(of: id) {
                    pendingQueries.remove(at: index)
                    report.answeredQueries.append(id)
                } else {
                    report.strayEffects.append("query \(id.rawValue) was answered, but nobody awaits it")
                }
            case .answerUpdate(let id, _):
                // The simulation sends no updates yet: nobody can be waiting on one.
                report.strayEffects.append("update wait \(id.rawValue) was answered, but the simulation sends no updates")
            case .historyChanged(let runID):
                let waits = resultWaits.filter { $0 == runID }.count
                resultWaits.removeAll { $0 == runID }
                for _ in 0..<waits { core.noteResultWaiter(runID, -1) }
            case .finishSleep(let id):
                if let index = sleeps.firstIndex(of: id) {
                    sleeps.remove(at: index)
                    report.finishedSleeps.append(id)
                } else {
                    report.strayEffects.append("sleep \(id.rawValue) finished, but nobody sleeps under that id")
                }
            case .clockJumped(let jump): report.jumps.append(jump)
            case .trapDetected(let trap): report.traps.append(trap)
            case .workflowClockSkipped: break  // the simulation starts no run with time skipping
            }
        }
        for delivery in deliveries { hold(delivery) }
        report.deliveries = deliveries
        if let poller = givesUp, let index = waitingPolls.firstIndex(where: { $0.id == poller }) {
            waitingPolls.remove(at: index)
            core.cancelPoll(poller)
        }
        givesUp = nil
    }

    // MARK: What workers hold

    private mutating func hold(_ delivery: Delivery) {
        switch delivery {
        case .workflowTask(let task):
            if task.hasQuery {
                queryTasks.append(task.taskToken)
            } else {
                workflowTasks.append(HeldWorkflowTask(
                    token: task.taskToken, runID: task.workflowExecution.runID, queries: task.queries.keys.sorted()))
            }
        case .activityTask(let task):
            activityTasks.append(HeldActivityTask(
                token: task.taskToken, runID: task.workflowExecution.runID, workflowID: task.workflowExecution.workflowID,
                activityID: task.activityID))
        }
        // A worker that holds too much "crashes" and forgets its oldest task, which then times out.
        if workflowTasks.count > Self.heldTaskLimit { spend(workflowTasks[0].token) }
        if activityTasks.count > Self.heldTaskLimit { spend(activityTasks[0].token) }
        if queryTasks.count > Self.heldTaskLimit { spend(queryTasks[0]) }
    }

    /// A worker answered (or forgot) the task with this token: it is stale from now on.
    private mutating func spend(_ token: Data) {
        workflowTasks.removeAll { $0.token == token }
        activityTasks.removeAll { $0.token == token }
        queryTasks.removeAll { $0 == token }
        if !spentTokens.contains(token) { spentTokens.append(token) }
        if spentTokens.count > 24 { spentTokens.removeFirst() }
    }

    private mutating func spend(_ address: ActivityAddress) {
        switch address {
        case .token(let token): spend(token)
        case .id(_, let workflowID, _, let activityID):
            if let held = activityTasks.first(where: { $0.workflowID == workflowID && $0.activityID == activityID }) {
                spend(held.token)
            }
        }
    }
}
