import Foundation
import SwiftProtobuf
import TemporalAPI
@testable import TimekeeperEngine

/// Chooses the next step from the seed's generator and what the world holds now, so that the same seed
/// against the same engine gives the same steps. Most steps are the calls a real client or worker makes;
/// a few percent are malformed, stale or duplicated on purpose.
struct StepGenerator {
    private var rng: SplitMix64
    /// Poller, query and sleep ids: unique per seed, like the shell's.
    private var nextID: UInt64 = 1
    private var requestIDs: [String] = []

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// The engine's configuration for this seed: mostly test mode, started locked or not.
    mutating func configuration() -> (skipsTime: Bool, startsLocked: Bool) {
        (skipsTime: !rng.chance(0.08), startsLocked: rng.chance(0.5))
    }

    mutating func stepCount() -> Int { rng.int(100...300) }

    private mutating func makeID() -> UInt64 {
        defer { nextID += 1 }
        return nextID
    }

    private enum Kind {
        case start, signalWithStart, pollWorkflow, pollActivity, cancelPoll, complete, failTask
        case activityOutcome, heartbeat, signal, query, answerQueryTask, abandonQuery, cancel, terminate
        case resetSticky, shutdownWorker, readHistory, lock, unlock, sleep, cancelSleep, advance, settle
    }

    mutating func next(_ world: SimulationWorld) -> SimulationStep {
        let kind: Kind = rng.weighted([
            (8, .start), (3, .signalWithStart), (12, .pollWorkflow), (8, .pollActivity),
            (world.waitingPolls.isEmpty ? 0 : 2, .cancelPoll),
            (world.workflowTasks.isEmpty ? 1 : 16, .complete), (world.workflowTasks.isEmpty ? 0 : 3, .failTask),
            (world.activityTasks.isEmpty ? 1 : 9, .activityOutcome), (world.activityTasks.isEmpty ? 0 : 3, .heartbeat),
            (5, .signal), (3, .query), (world.queryTasks.isEmpty ? 0 : 4, .answerQueryTask),
            (world.pendingQueries.isEmpty ? 0 : 1, .abandonQuery), (2, .cancel), (2, .terminate),
            (1, .resetSticky), (1, .shutdownWorker), (2, .readHistory), (2, .lock), (3, .unlock), (3, .sleep),
            (world.sleeps.isEmpty ? 0 : 1, .cancelSleep), (9, .advance), (2, .settle),
        ])
        switch kind {
        case .start: return .start(startRequest())
        case .signalWithStart: return .signalWithStart(signalWithStartRequest())
        case .pollWorkflow:
            let queue = rng.chance(0.01) ? "" : workflowQueue(world)
            return .pollWorkflowTask(
                namespace: rng.chance(0.01) ? "" : SimulationWorld.namespace, queue: queue,
                poller: PollerID(rawValue: makeID()), keepsWaiting: world.waitingPolls.count < 4 && rng.chance(0.3))
        case .pollActivity:
            return .pollActivityTask(
                namespace: SimulationWorld.namespace, queue: activityQueue(world), poller: PollerID(rawValue: makeID()),
                keepsWaiting: world.waitingPolls.count < 4 && rng.chance(0.3))
        case .cancelPoll: return .cancelPoll(rng.pick(world.waitingPolls).id)
        case .complete: return .completeWorkflowTask(completion(world))
        case .failTask:
            return .failWorkflowTask(.with {
                $0.namespace = rng.chance(0.02) ? "" : SimulationWorld.namespace
                $0.taskToken = workflowToken(world)
                $0.cause = rng.pick([.workflowWorkerUnhandledFailure, .nonDeterministicError, .badScheduleActivityAttributes])
                $0.identity = "worker"
            })
        case .activityOutcome:
            let address = activityAddress(world)
            switch rng.below(4) {
            case 0, 1: return .completeActivity(address)
            case 2: return .failActivity(address, failure())
            default: return .cancelActivity(address)
            }
        case .heartbeat: return .heartbeatActivity(activityAddress(world))
        case .signal:
            return .signal(.with {
                $0.namespace = SimulationWorld.namespace
                $0.workflowExecution = execution(world)
                $0.signalName = rng.chance(0.03) ? "" : "sig"
                $0.identity = "client"
            })
        case .query:
            return .query(
                .with {
                    $0.namespace = SimulationWorld.namespace
                    $0.execution = execution(world)
                    $0.query.queryType = rng.chance(0.03) ? "" : "state"
                    $0.queryRejectCondition = rng.pick([.unspecified, .unspecified, .none, .notOpen, .notCompletedCleanly])
                }, QueryID(rawValue: Int64(makeID())))
        case .answerQueryTask:
            let token = rng.chance(0.85) ? rng.pick(world.queryTasks) : staleToken(world)
            return .completeQueryTask(.with {
                $0.namespace = SimulationWorld.namespace
                $0.taskToken = token
                $0.completedType = rng.chance(0.8) ? .answered : .failed
                $0.errorMessage = "no"
            })
        case .abandonQuery: return .abandonQuery(rng.pick(world.pendingQueries))
        case .cancel:
            return .requestCancel(.with {
                $0.namespace = SimulationWorld.namespace
                $0.workflowExecution = execution(world)
                $0.identity = "client"
            })
        case .terminate:
            return .terminate(.with {
                $0.namespace = SimulationWorld.namespace
                $0.workflowExecution = execution(world)
                $0.reason = "simulated"
            })
        case .resetSticky: return .resetStickyQueue(namespace: SimulationWorld.namespace, execution(world))
        case .shutdownWorker:
            return .shutdownWorker(namespace: SimulationWorld.namespace, stickyQueue: rng.pick(SimulationWorld.stickyQueues))
        case .readHistory:
            return .readHistory(.with {
                $0.namespace = SimulationWorld.namespace
                $0.execution = execution(world)
                if rng.chance(0.6) { $0.historyEventFilterType = .closeEvent }
                $0.waitNewEvent = rng.chance(0.5)
            })
        case .lock: return .lock
        case .unlock: return .unlock
        case .sleep:
            let deadline: SleepDeadline =
                rng.chance(0.7)
                ? .after(rng.chance(0.1) ? .milliseconds(-rng.int64(1...5_000)) : rng.duration())
                : .at(world.core.now + (rng.chance(0.2) ? .seconds(-rng.int64(1...60)) : rng.duration()))
            return .sleep(SleepID(rawValue: makeID()), deadline, unlocking: rng.chance(0.4))
        case .cancelSleep:
            return .cancelSleep(rng.chance(0.9) ? rng.pick(world.sleeps) : SleepID(rawValue: makeID()))
        case .advance:
            return .advanceWall(rng.weighted([
                (20, .milliseconds(rng.int64(1...999))), (9, .milliseconds(rng.int64(1_000...15_000))),
                (1, rng.duration()),
            ]))
        case .settle: return .settle
        }
    }

    // MARK: Clients

    private mutating func requestID() -> String {
        if !requestIDs.isEmpty && rng.chance(0.1) { return rng.pick(requestIDs) }
        let id = "req-\(makeID())"
        requestIDs.append(id)
        return id
    }

    /// A timeout as a client sets one: mostly unset or plausible, sometimes tiny, rarely negative.
    private mutating func timeout(set probability: Double) -> Google_Protobuf_Duration {
        guard rng.chance(probability) else { return .init() }
        if rng.chance(0.04) { return Duration.milliseconds(-rng.int64(1...1_000)).protobuf }
        return rng.duration().protobuf
    }

    /// A workflow's execution or run timeout: rarely tiny, since a run that times out at once shows little.
    private mutating func workflowTimeout(set probability: Double) -> Google_Protobuf_Duration {
        guard rng.chance(probability) else { return .init() }
        if rng.chance(0.15) { return timeout(set: 1) }
        return Duration.seconds(rng.int64(10...7 * 86_400)).protobuf
    }

    private mutating func retryPolicy() -> RetryPolicy {
        .with {
            if rng.chance(0.7) { $0.initialInterval = Duration.milliseconds(rng.int64(1...3_000)).protobuf }
            $0.backoffCoefficient = rng.pick([0, 1, 1.5, 2])
            if rng.chance(0.3) { $0.maximumInterval = Duration.milliseconds(rng.int64(1...10_000)).protobuf }
            $0.maximumAttempts = rng.pick([0, 1, 2, 3])
            if rng.chance(0.2) { $0.nonRetryableErrorTypes = ["Fatal"] }
        }
    }

    private mutating func startRequest() -> StartWorkflowRequest {
        .with {
            $0.namespace = rng.weighted([(96, SimulationWorld.namespace), (2, ""), (2, "other")])
            $0.workflowID = rng.chance(0.02) ? "" : rng.pick(SimulationWorld.workflowIDs)
            $0.workflowType.name = rng.chance(0.02) ? "" : "Sim"
            $0.taskQueue.name = rng.chance(0.01) ? "" : rng.pick(SimulationWorld.taskQueues)
            $0.requestID = requestID()
            $0.identity = "client"
            $0.workflowExecutionTimeout = workflowTimeout(set: 0.3)
            $0.workflowRunTimeout = workflowTimeout(set: 0.3)
            $0.workflowTaskTimeout = timeout(set: 0.4)
            if rng.chance(0.1) {
                $0.workflowStartDelay =
                    (rng.chance(0.1) ? Duration.milliseconds(-rng.int64(1...1_000)) : .milliseconds(rng.int64(1...5_000))).protobuf
            }
            if rng.chance(0.2) { $0.retryPolicy = retryPolicy() }
            $0.workflowIDReusePolicy = rng.pick([
                .unspecified, .unspecified, .unspecified, .allowDuplicate, .allowDuplicateFailedOnly, .rejectDuplicate,
                .terminateIfRunning,
            ])
            $0.workflowIDConflictPolicy = rng.pick([.unspecified, .unspecified, .unspecified, .fail, .useExisting, .terminateExisting])
        }
    }

    private mutating func signalWithStartRequest() -> SignalWithStartRequest {
        .with {
            $0.namespace = SimulationWorld.namespace
            $0.workflowID = rng.pick(SimulationWorld.workflowIDs)
            $0.workflowType.name = "Sim"
            $0.taskQueue.name = rng.pick(SimulationWorld.taskQueues)
            $0.requestID = rng.chance(0.1) ? "" : requestID()
            $0.signalName = rng.chance(0.03) ? "" : "sig"
            $0.identity = "client"
            $0.workflowRunTimeout = workflowTimeout(set: 0.3)
            $0.workflowTaskTimeout = timeout(set: 0.3)
            if rng.chance(0.15) { $0.retryPolicy = retryPolicy() }
            $0.workflowIDReusePolicy = rng.pick([.unspecified, .unspecified, .allowDuplicateFailedOnly, .rejectDuplicate])
        }
    }

    /// A workflow execution as a client names one: usually the latest run, sometimes a given (maybe old,
    /// maybe unknown) run.
    private mutating func execution(_ world: SimulationWorld) -> Temporal_Api_Common_V1_WorkflowExecution {
        let workflowID = rng.chance(0.02) ? "" : rng.pick(SimulationWorld.workflowIDs)
        var runID = ""
        if rng.chance(0.3) {
            // A run of this workflow (maybe an old one), of another workflow, or none at all.
            let current = world.core.currentRuns[WorkflowKey(namespace: SimulationWorld.namespace, workflowID: workflowID)]
            runID = rng.weighted([
                (current == nil ? 0 : 5, current ?? ""), (3, "run-\(rng.int(1...max(1, world.core.runs.count)))"), (1, "run-999"),
            ])
        }
        return .with {
            $0.workflowID = workflowID
            $0.runID = runID
        }
    }

    // MARK: Workers

    /// A queue to poll: usually one where some run's workflow task waits.
    private mutating func workflowQueue(_ world: SimulationWorld) -> String {
        if rng.chance(0.6) {
            let busy = world.openRuns.filter { if case .scheduled = $0.workflowTask { true } else { false } }
                .map { $0.stickyQueue ?? $0.taskQueue }.sorted()
            if !busy.isEmpty { return rng.pick(busy) }
        }
        return rng.pick(SimulationWorld.taskQueues + SimulationWorld.stickyQueues)
    }

    private mutating func activityQueue(_ world: SimulationWorld) -> String {
        if rng.chance(0.6) {
            let busy = world.openRuns.flatMap { $0.activities.values }.filter { $0.phase == .scheduled }
                .map(\.taskQueue).sorted()
            if !busy.isEmpty { return rng.pick(busy) }
        }
        return rng.pick(SimulationWorld.taskQueues + [SimulationWorld.activityQueue])
    }

    /// A token that is stale, malformed, or of the wrong kind.
    private mutating func staleToken(_ world: SimulationWorld) -> Data {
        if !world.spentTokens.isEmpty && rng.chance(0.6) { return rng.pick(world.spentTokens) }
        return Data(rng.pick(["", "garbage", "wt/run-999/2/1", "at/run-1/5/1", "qt/run-1/999/1", "wt/run-1/0/1"]).utf8)
    }

    private mutating func workflowToken(_ world: SimulationWorld) -> Data {
        if !world.workflowTasks.isEmpty && rng.chance(0.88) { return rng.pick(world.workflowTasks).token }
        if !world.activityTasks.isEmpty && rng.chance(0.1) { return rng.pick(world.activityTasks).token }
        return staleToken(world)
    }

    private mutating func activityAddress(_ world: SimulationWorld) -> ActivityAddress {
        if !world.activityTasks.isEmpty && rng.chance(0.2) {
            let held = rng.pick(world.activityTasks)
            return .id(
                namespace: SimulationWorld.namespace, workflowID: held.workflowID,
                runID: rng.chance(0.5) ? held.runID : "", activityID: rng.chance(0.05) ? "" : held.activityID)
        }
        if !world.activityTasks.isEmpty && rng.chance(0.88) { return .token(rng.pick(world.activityTasks).token) }
        if rng.chance(0.3) {
            return .id(namespace: SimulationWorld.namespace, workflowID: rng.pick(SimulationWorld.workflowIDs), runID: "",
                       activityID: rng.pick(["a0", "a1"]))
        }
        return .token(staleToken(world))
    }

    private mutating func failure() -> Failure {
        .with {
            $0.message = "simulated failure"
            if rng.chance(0.6) {
                $0.applicationFailureInfo = .with {
                    $0.type = rng.pick(["Boom", "Fatal"])
                    $0.nonRetryable = rng.chance(0.15)
                    if rng.chance(0.1) { $0.nextRetryDelay = Duration.milliseconds(rng.int64(1...2_000)).protobuf }
                }
            }
        }
    }

    // MARK: Workflow task completions

    private mutating func completion(_ world: SimulationWorld) -> CompleteWorkflowTaskRequest {
        let held = world.workflowTasks.isEmpty || rng.chance(0.1) ? nil : rng.pick(world.workflowTasks)
        let run = held.flatMap { world.core.runs[$0.runID] }
        let count = rng.weighted([(2, 0), (4, 1), (3, 2), (2, 3), (1, 5)])
        return .with {
            $0.namespace = rng.chance(0.01) ? "" : SimulationWorld.namespace
            $0.taskToken = held?.token ?? workflowToken(world)
            $0.identity = "worker"
            $0.commands = (0..<count).map { _ in command(run) }
            if rng.chance(0.5) {
                $0.stickyAttributes = .with {
                    $0.workerTaskQueue.name = rng.pick(SimulationWorld.stickyQueues)
                    $0.scheduleToStartTimeout = rng.chance(0.2) ? .init() : rng.duration().protobuf
                }
            }
            for query in held?.queries ?? [] where !rng.chance(0.2) {
                $0.queryResults[query] = .with {
                    $0.resultType = rng.chance(0.85) ? .answered : .failed
                    $0.errorMessage = "no"
                }
            }
            $0.forceCreateNewWorkflowTask = rng.chance(0.05)
        }
    }

    private mutating func command(_ run: WorkflowRun?) -> Command {
        enum Choice { case timer, cancelTimer, activity, cancelActivity, marker, upsert, complete, fail, cancel, continueAsNew, invalid }
        let timers = run?.timers.isEmpty == false
        let activities = run?.activities.isEmpty == false
        let choice: Choice = rng.weighted([
            (20, .timer), (timers ? 12 : 2, .cancelTimer), (22, .activity), (activities ? 12 : 2, .cancelActivity),
            (5, .marker), (4, .upsert), (8, .complete), (6, .fail), (3, .cancel), (4, .continueAsNew), (3, .invalid),
        ])
        return .with {
            switch choice {
            case .timer:
                $0.commandType = .startTimer
                $0.startTimerCommandAttributes = .with {
                    $0.timerID = rng.chance(0.02) ? "" : rng.pick(["t0", "t1", "t2"])
                    $0.startToFireTimeout = rng.chance(0.03) ? .init() : rng.duration().protobuf
                }
            case .cancelTimer:
                $0.commandType = .cancelTimer
                let pending = run?.timers.keys.sorted() ?? []
                $0.cancelTimerCommandAttributes.timerID = pending.isEmpty || rng.chance(0.2) ? "t9" : rng.pick(pending)
            case .activity:
                $0.commandType = .scheduleActivityTask
                $0.scheduleActivityTaskCommandAttributes = activityAttributes()
            case .cancelActivity:
                $0.commandType = .requestCancelActivityTask
                let open = run?.activities.keys.sorted() ?? []
                $0.requestCancelActivityTaskCommandAttributes.scheduledEventID =
                    open.isEmpty || rng.chance(0.15) ? rng.int64(1...40) : rng.pick(open)
            case .marker:
                $0.commandType = .recordMarker
                $0.recordMarkerCommandAttributes.markerName = "version"
            case .upsert:
                $0.commandType = .upsertWorkflowSearchAttributes
                $0.upsertWorkflowSearchAttributesCommandAttributes = .init()
            case .complete:
                $0.commandType = .completeWorkflowExecution
                $0.completeWorkflowExecutionCommandAttributes = .init()
            case .fail:
                $0.commandType = .failWorkflowExecution
                $0.failWorkflowExecutionCommandAttributes.failure = failure()
            case .cancel:
                $0.commandType = .cancelWorkflowExecution
                $0.cancelWorkflowExecutionCommandAttributes = .init()
            case .continueAsNew:
                $0.commandType = .continueAsNewWorkflowExecution
                $0.continueAsNewWorkflowExecutionCommandAttributes = .with {
                    if rng.chance(0.3) { $0.workflowRunTimeout = rng.duration().protobuf }
                    if rng.chance(0.3) { $0.taskQueue.name = rng.pick(SimulationWorld.taskQueues) }
                    if rng.chance(0.2) {
                        $0.backoffStartInterval =
                            (rng.chance(0.15) ? Duration.milliseconds(-rng.int64(1...1_000)) : .milliseconds(rng.int64(1...5_000))).protobuf
                    }
                }
            case .invalid:
                switch rng.below(4) {
                case 0: $0.commandType = .unspecified
                case 1: $0.commandType = rng.pick([.startTimer, .scheduleActivityTask, .completeWorkflowExecution])
                case 2:
                    $0.commandType = .startChildWorkflowExecution
                    $0.startChildWorkflowExecutionCommandAttributes = .init()
                default:
                    $0.commandType = .startTimer
                    $0.completeWorkflowExecutionCommandAttributes = .init()
                }
            }
        }
    }

    private mutating func activityAttributes() -> Temporal_Api_Command_V1_ScheduleActivityTaskCommandAttributes {
        .with {
            $0.activityID = rng.chance(0.02) ? "" : rng.pick(["a0", "a1", "a2", "a3"])
            $0.activityType.name = rng.chance(0.02) ? "" : "Work"
            switch rng.below(10) {
            case 0, 1: $0.taskQueue.name = SimulationWorld.activityQueue
            case 2: $0.taskQueue.name = rng.pick(SimulationWorld.taskQueues)
            default: break
            }
            $0.scheduleToCloseTimeout = timeout(set: 0.4)
            $0.scheduleToStartTimeout = timeout(set: 0.25)
            // Mostly one of the two that make it valid.
            $0.startToCloseTimeout = timeout(set: Duration(protobuf: $0.scheduleToCloseTimeout) > .zero ? 0.5 : 0.92)
            $0.heartbeatTimeout = timeout(set: 0.25)
            if rng.chance(0.5) { $0.retryPolicy = retryPolicy() }
        }
    }
}
