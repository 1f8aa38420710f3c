internal import SwiftProtobuf
package import Logging
internal import Dispatch
internal import Foundation
internal import Synchronization
package import TemporalAPI

/// The one owner of the engine's state: serialises every transition of `EngineCore`, keeps the callers
/// that are waiting (long polls, history waits, test-client sleeps), resumes them as the core's effects
/// say, and runs the clock (`runClock`) so that timetable entries fire when wall time reaches them.
package final class Engine: Sendable {
    struct State {
        var core: EngineCore
        /// Where every transition is committed before anyone hears of it (see `ExecutionStore.durability`).
        var store: any ExecutionStore
        /// Task-queue long polls waiting for a task.
        var workflowPollers = Waiters<PollerID, PollWorkflowTaskResponse?>()
        var activityPollers = Waiters<PollerID, PollActivityTaskResponse?>()
        /// Long polls waiting for a run to change (history, fast-forwards): resumed with `.changed` ("read
        /// again") or `.gaveUp` (deadline or cancellation).
        var historyWaiters = Waiters<UInt64, RunWaitOutcome>()
        /// The history waiters of each run, to wake when it changes.
        var historyWaitersByRun: [String: Set<UInt64>] = [:]
        /// Each history waiter's run, so that giving up finds it without a scan, and whether it is a client
        /// awaiting the run's close event (`result()`).
        var historyWaits: [UInt64: HistoryWait] = [:]
        var sleepers = Waiters<SleepID, Void>()
        var queryWaiters = Waiters<QueryID, QueryWorkflowResponse>()
        var updateWaiters = Waiters<UpdateWaitID, UpdateProgress>()
        var nextID: UInt64 = 1
        /// Wall time the clock task sleeps until (`nil`: until signalled).
        var clockTarget: Instant?
        var clockWaiter: CheckedContinuation<Void, Never>?
        var clockSignalled = false

        mutating func makeID() -> UInt64 {
            defer { nextID += 1 }
            return nextID
        }
    }

    struct HistoryWait {
        var runID: String
        var awaitsResult: Bool
    }

    enum RunWaitOutcome: Sendable { case changed, gaveUp }

    /// What a long poll's read gives: its answer, or the run to wait on and the answer if nothing changes.
    enum RunRead<Answer> {
        case answer(Answer)
        case waitForChange(runID: String, answerIfUnchanged: Answer)
    }

    /// Continuations to resume once the lock is released.
    struct Wakeups {
        var actions: [@Sendable () -> Void] = []
        var jumps: [ClockJump] = []
        var skips: [WorkflowClockSkip] = []
        /// Run shortly after the caller's answer has gone out (see `.deliverWorkflowTask`).
        var afterAnswers: [@Sendable () -> Void] = []
        var traps: [TimeSkippingTrap] = []
    }

    let state: Mutex<State>
    let wall: any WallClock
    /// Closed while the engine recovers from a store in the background (`recoverInBackground`).
    package let ready = ReadinessGate()
    /// Closed until that store's file is claimed for this process, which comes long before `ready`.
    package let storeClaimed = ReadinessGate()
    /// Signalled when a readiness probe (`GetSystemInfo`, a health check) has been answered or a call waits
    /// for the engine; the recovery waits for it, or a moment, before it reads (see `recoverInBackground`).
    private let recoveryMayRead = DispatchSemaphore(value: 0)
    private let recoveryLetRead = Atomic<Bool>(false)
    private let logger: Logger

    /// An empty engine on an in-memory store; a durable server then recovers into it from its store
    /// (`recoverInBackground`).
    package init(configuration: EngineCore.Configuration, wall: any WallClock = SystemWallClock(),
                 logger: Logger = Logger(label: "timekeeper.engine"),
                 makeRunID: (@Sendable () -> String)? = nil) {
        self.wall = wall
        self.logger = logger
        // Run ids are version 7 UUIDs stamped with wall time, as Temporal's server makes them.
        let makeRunID = makeRunID ?? { [wall] in UUIDs.version7(at: wall.now()) }
        state = Mutex(State(
            core: EngineCore(configuration: configuration, wallNow: wall.now(), makeRunID: makeRunID),
            store: InMemoryExecutionStore()))
    }

    /// How long after its caller's answer a legacy query task goes to a waiting poller.
    static let legacyQueryTaskDelay: Duration = .milliseconds(20)

    /// Claims a store's file (`claim`), then opens and reads it and rebuilds the engine from it on a thread
    /// of its own, holding the engine's lock from before this returns until it is done: the server can
    /// listen meanwhile, answer `GetSystemInfo` (which needs no engine) once the file is its own
    /// (`storeClaimed`: a file another server holds is refused before anyone is told this one is up), and
    /// every call that needs the engine waits for the recovery (`ready`) instead of seeing an empty one.
    /// Once the file is claimed the reading waits for the first readiness probe to be answered or the first
    /// call to wait for `ready` (`letRecoveryRead`), at most `waitingForAProbe`. `prepare` then runs on the
    /// recovered core, still under the lock (the dev server's `--namespace` and `--search-attribute`), and
    /// what it changed is committed. A store that is not claimed, or does not open, read or rebuild, goes
    /// to `onFailure` (the server cannot serve it).
    package func recoverInBackground(
        claiming claim: @escaping @Sendable () throws -> StoreClaim,
        prepare: @escaping @Sendable (inout EngineCore, Instant) throws(EngineError) -> Void,
        waitingForAProbe: Duration = .milliseconds(20),
        onFailure: @escaping @Sendable (any Error) -> Void
    ) {
        let holding = DispatchSemaphore(value: 0)
        ready.close()
        storeClaimed.close()
        ready.onWait { [weak self] in self?.letRecoveryRead() }  // someone waits: nothing to put first
        // A thread of its own, which opens and reads at a lower priority than the event loop once the file
        // is claimed: on a small machine the listener answers its first calls (an SDK's readiness probe)
        // first, and the recovery has every cycle they leave. (Not a pool thread: an unprivileged process
        // cannot raise a thread's priority back.)
        let recovery = Thread { [self] in
            let recovered: (wakeups: Wakeups, batches: [BatchKey])? = state.withLock { state in
                holding.signal()
                do {
                    let claimed = try claim()
                    storeClaimed.openGate()
                    // An SDK launching the server waits for its first GetSystemInfo answer: on a small
                    // machine, reading 10,000 runs beside it made that answer ~4 ms later (at nice 10 too),
                    // so the reading waits for that answer, or a moment if nobody asks.
                    _ = recoveryMayRead.wait(timeout: .now() + .nanoseconds(Int(waitingForAProbe.nanoseconds)))
                    lowerCurrentThreadPriority()
                    var store = try claimed.open()
                    let began = ContinuousClock.now
                    try store.load()
                    let now = wall.now()
                    state.core = try EngineCore(recovering: store, configuration: state.core.configuration,
                                                wallNow: now, makeRunID: state.core.newRunID)
                    logger.info("recovered \(store.runs.count) runs from the durable store in \(ContinuousClock.now - began)")
                    store.didRecover()
                    state.store = store
                    try prepare(&state.core, now)
                    return (Self.collectWakeups(&state, wallNow: now), state.core.runningBatches)
                } catch {
                    onFailure(error)
                    return nil
                }
            }
            ready.openGate()
            guard let recovered else { return }
            perform(recovered.wakeups)
            for key in recovered.batches { Task { await self.continueBatch(key) } }  // batches go on where they were
        }
        recovery.name = "timekeeper.recovery"
        recovery.start()
        holding.wait()
    }

    /// A readiness probe was answered, or a call waits for the engine: a recovery waiting for either reads
    /// now (once; later calls do nothing).
    @Sendable package func letRecoveryRead() {
        if !recoveryLetRead.exchange(true, ordering: .relaxed) { recoveryMayRead.signal() }
    }

    /// Runs `body` on the core as one transition (what a server sets up before its first call).
    package func prepare(_ body: (inout EngineCore, Instant) throws(EngineError) -> Void) throws(EngineError) {
        try transact(body)
    }

    // MARK: Transitions

    /// Runs one transition under the lock, then resumes whoever its effects name.
    func transact<T>(_ body: (inout State, Instant) throws(EngineError) -> T) throws(EngineError) -> T {
        let wallNow = wall.now()
        let (result, wakeups): (Result<T, EngineError>, Wakeups) = state.withLock { state in
            let result: Result<T, EngineError>
            do throws(EngineError) { result = .success(try body(&state, wallNow)) } catch { result = .failure(error) }
            return (result, Self.collectWakeups(&state, wallNow: wallNow))
        }
        perform(wakeups)
        return try result.get()
    }

    func transact<T>(_ body: (inout EngineCore, Instant) throws(EngineError) -> T) throws(EngineError) -> T {
        try transact { (state: inout State, wallNow: Instant) throws(EngineError) -> T in try body(&state.core, wallNow) }
    }

    private static func collectWakeups(_ state: inout State, wallNow: Instant) -> Wakeups {
        var wakeups = Wakeups()
        // Committed first, in the engine's order. A store that commits later (group commit) holds every
        // answer at its barrier instead, the answers of the callers woken here among them.
        let transition = state.core.takeTransition()
        state.store.commit(transition)
        for effect in transition.effects {
            switch effect {
            case .deliverWorkflowTask(let poller, let task):
                if let waiter = state.workflowPollers.take(poller) {
                    let deliver: @Sendable () -> Void = { waiter.resume(returning: .success(task)) }
                    // A legacy query task goes out a moment after the call that made it is answered: a query
                    // buffered during a workflow task becomes one when that task completes, and sdk-core
                    // (with no workflow cache) drops a query task for a run whose completion it has not yet
                    // heard back about. Temporal's servers send it through matching after the completion,
                    // which gives the same order.
                    if task.hasQuery { wakeups.afterAnswers.append(deliver) } else { wakeups.actions.append(deliver) }
                }
            case .deliverActivityTask(let poller, let task):
                if let waiter = state.activityPollers.take(poller) { wakeups.actions.append { waiter.resume(returning: .success(task)) } }
            case .answerQuery(let id, let answer):
                if let waiter = state.queryWaiters.take(id) { wakeups.actions.append { waiter.resume(returning: answer) } }
            case .answerUpdate(let id, let answer):
                if let waiter = state.updateWaiters.take(id) { wakeups.actions.append { waiter.resume(returning: answer) } }
            case .historyChanged(let runID):
                for waiterID in state.historyWaitersByRun.removeValue(forKey: runID) ?? [] {
                    if state.historyWaits.removeValue(forKey: waiterID)?.awaitsResult == true {
                        state.core.noteResultWaiter(runID, -1)
                    }
                    if let waiter = state.historyWaiters.take(waiterID) { wakeups.actions.append { waiter.resume(returning: .success(.changed)) } }
                }
            case .finishSleep(let id):
                if let waiter = state.sleepers.take(id) { wakeups.actions.append { waiter.resume(returning: .success(())) } }
            case .clockJumped(let jump):
                wakeups.jumps.append(jump)
            case .workflowClockSkipped(let skip):
                wakeups.skips.append(skip)
            case .trapDetected(let trap):
                wakeups.traps.append(trap)
            }
        }
        // Wake the clock task if the next entry is now due sooner than it planned to look.
        if let wake = state.core.nextWake(after: wallNow), state.clockTarget.map({ wake < $0 }) ?? true {
            state.clockSignalled = true
            if let waiter = state.clockWaiter {
                state.clockWaiter = nil
                wakeups.actions.append { waiter.resume() }
            }
        }
        return wakeups
    }

    private func perform(_ wakeups: Wakeups) {
        for jump in wakeups.jumps { logger.info("\(jump)") }
        for skip in wakeups.skips { logger.info("\(skip)") }
        for trap in wakeups.traps { logger.warning("time-skipping trap: \(trap)") }
        for action in wakeups.actions { action() }
        if !wakeups.afterAnswers.isEmpty {
            let actions = wakeups.afterAnswers
            // Armed from this thread, not from a task of its own: a task runs on Swift's global executor,
            // and the fuzz targets' loop may only be touched from its own thread (a fuzz input found it).
            wall.after(Self.legacyQueryTaskDelay) { for action in actions { action() } }
        }
    }

    // MARK: Workflow service

    package func startWorkflow(_ request: StartWorkflowRequest) throws(EngineError) -> StartOutcome {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.startWorkflow(request, wallNow: now) }
    }

    /// Long-polls a workflow task queue for at most `timeout`; `nil` when nothing came.
    package func pollWorkflowTask(namespace: String, taskQueue: String, identity: String, timeout: Duration)
        async throws(EngineError) -> PollWorkflowTaskResponse?
    {
        try await longPoll(timeout: timeout, waiting: \.workflowPollers) { core, poller, now throws(EngineError) in
            try core.pollWorkflowTask(
                namespace: namespace, taskQueue: taskQueue, identity: identity, poller: poller, wallNow: now)
        }
    }

    /// Long-polls an activity task queue for at most `timeout`; `nil` when nothing came.
    package func pollActivityTask(namespace: String, taskQueue: String, identity: String, timeout: Duration)
        async throws(EngineError) -> PollActivityTaskResponse?
    {
        try await longPoll(timeout: timeout, waiting: \.activityPollers) { core, poller, now throws(EngineError) in
            try core.pollActivityTask(
                namespace: namespace, taskQueue: taskQueue, identity: identity, poller: poller, wallNow: now)
        }
    }

    /// A task-queue long poll: `poll` either hands over a task at once or registers `poller` in the core,
    /// in which case the caller waits (in `waiting`) for the core's delivery effect, the deadline, or
    /// cancellation, whichever comes first.
    private func longPoll<Task: Sendable>(
        timeout: Duration,
        waiting pollers: any WritableKeyPath<State, Waiters<PollerID, Task?>> & Sendable,
        _ poll: @escaping @Sendable (inout EngineCore, PollerID, Instant) throws(EngineError) -> Task?
    ) async throws(EngineError) -> Task? {
        let poller = PollerID(rawValue: state.withLock { $0.makeID() })
        let outcome: Result<Task?, EngineError> = await withTimeout(timeout, clock: wall) {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    do throws(EngineError) {
                        try self.transact { (state: inout State, now: Instant) throws(EngineError) in
                            if let task = try poll(&state.core, poller, now) {
                                continuation.resume(returning: .success(task))
                            } else if _Concurrency.Task.isCancelled {
                                state.core.cancelPoll(poller)
                                continuation.resume(returning: .success(nil))
                            } else {
                                state[keyPath: pollers].add(poller, continuation)
                            }
                        }
                    } catch {
                        continuation.resume(returning: .failure(error))
                    }
                }
            } onCancel: {
                self.abandonPoll(poller)
            }
        }
        return try outcome.get()
    }

    private func abandonPoll(_ poller: PollerID) {
        let (workflow, activity) = state.withLock { state in
            state.core.cancelPoll(poller)
            return (state.workflowPollers.take(poller), state.activityPollers.take(poller))
        }
        workflow?.resume(returning: .success(nil))
        activity?.resume(returning: .success(nil))
    }

    package func completeActivity(_ address: ActivityAddress, result: Payloads?, identity: String) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in
            try core.completeActivity(address, result: result, identity: identity, wallNow: now)
        }
    }

    package func failActivity(_ address: ActivityAddress, failure: Failure, lastHeartbeatDetails: Payloads?,
                              identity: String) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in
            try core.failActivity(address, failure: failure, lastHeartbeatDetails: lastHeartbeatDetails,
                                  identity: identity, wallNow: now)
        }
    }

    package func cancelActivity(_ address: ActivityAddress, details: Payloads?, identity: String) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in
            try core.cancelActivity(address, details: details, identity: identity, wallNow: now)
        }
    }

    /// Records a heartbeat; answers whether the activity's cancellation was requested or it is paused.
    package func heartbeatActivity(_ address: ActivityAddress, details: Payloads?) throws(EngineError)
        -> EngineCore.HeartbeatAnswer
    {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in
            try core.heartbeatActivity(address, details: details, wallNow: now)
        }
    }

    package func pauseActivity(_ request: PauseActivityRequest) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.pauseActivity(request, wallNow: now) }
    }

    package func unpauseActivity(_ request: UnpauseActivityRequest) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.unpauseActivity(request, wallNow: now) }
    }

    package func signalWorkflow(_ request: SignalWorkflowRequest) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.signalWorkflow(request, wallNow: now) }
    }

    package func signalWithStart(_ request: SignalWithStartRequest) throws(EngineError) -> StartOutcome {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.signalWithStart(request, wallNow: now) }
    }

    package func requestCancelWorkflow(_ request: CancelWorkflowRequest) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.requestCancelWorkflow(request, wallNow: now) }
    }

    package func completeQueryTask(_ request: QueryTaskCompletedRequest) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.completeQueryTask(request, wallNow: now) }
    }

    /// Asks a worker to answer a query and waits at most `timeout` for the answer.
    package func queryWorkflow(_ request: QueryWorkflowRequest, timeout: Duration) async throws(EngineError)
        -> QueryWorkflowResponse
    {
        let id = QueryID(rawValue: Int64(state.withLock { $0.makeID() }))
        let outcome: Result<QueryWorkflowResponse, EngineError> = await withTimeout(timeout, clock: wall) {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    do throws(EngineError) {
                        try self.transact { (state: inout State, now: Instant) throws(EngineError) in
                            switch try state.core.queryWorkflow(request, id: id, wallNow: now) {
                            case .answered(let response): continuation.resume(returning: .success(response))
                            case .pending: state.queryWaiters.add(id, continuation)
                            }
                        }
                    } catch {
                        continuation.resume(returning: .failure(error))
                    }
                    if Task.isCancelled { self.abandonQuery(id) }
                }
            } onCancel: {
                self.abandonQuery(id)
            }
        }
        return try outcome.get()
    }

    private func abandonQuery(_ id: QueryID) {
        let continuation = try? transact { (state: inout State, now: Instant) in
            state.core.abandonQuery(id, wallNow: now)
            return state.queryWaiters.take(id)
        }
        continuation?.resume(
            returning: .failure(EngineError(.deadlineExceeded, "query timed out before a worker answered it")))
    }


    /// Completes a workflow task; answers the activity tasks started for the completing worker (eager).
    package func completeWorkflowTask(_ request: CompleteWorkflowTaskRequest) throws(EngineError) -> [PollActivityTaskResponse] {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.completeWorkflowTask(request, wallNow: now) }
    }

    package func failWorkflowTask(_ request: FailWorkflowTaskRequest) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.failWorkflowTask(request, wallNow: now) }
    }

    package func shutdownWorker(namespace: String, stickyQueue: String) {
        try? transact { (core: inout EngineCore, now: Instant) in
            core.shutdownWorker(namespace: namespace, stickyQueue: stickyQueue, wallNow: now)
        }
    }

    package func resetStickyQueue(namespace: String, _ execution: Temporal_Api_Common_V1_WorkflowExecution)
        throws(EngineError)
    {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in
            try core.resetStickyQueue(namespace: namespace, execution, wallNow: now)
        }
    }

    package func describeWorkflow(_ request: DescribeWorkflowRequest) throws(EngineError) -> DescribeWorkflowResponse {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in try core.describeWorkflow(request) }
    }

    package func listWorkflows(_ request: ListWorkflowsRequest) throws(EngineError) -> ListWorkflowsResponse {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in try core.listWorkflows(request) }
    }

    package func countWorkflows(_ request: CountWorkflowsRequest) throws(EngineError) -> CountWorkflowsResponse {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in try core.countWorkflows(request) }
    }

    /// The custom search attributes a namespace's runs carry (a read: no transition).
    package func customSearchAttributes(namespace: String) -> [String: SearchAttributeType] {
        state.withLock { $0.core.customSearchAttributes(namespace: namespace) }
    }

    /// The namespaces runs were started in (a read: no transition).
    /// Resets a workflow to a workflow task; answers the new run's id.
    package func resetWorkflow(_ request: ResetWorkflowRequest) throws(EngineError) -> String {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.resetWorkflow(request, wallNow: now) }
    }

    package func deleteWorkflow(_ request: DeleteWorkflowRequest) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.deleteWorkflow(request, wallNow: now) }
    }

    package func readHistoryReverse(_ request: GetHistoryReverseRequest) throws(EngineError) -> GetHistoryReverseResponse {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in try core.readHistoryReverse(request) }
    }

    package func terminateWorkflow(_ request: TerminateWorkflowRequest) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.terminateWorkflow(request, wallNow: now) }
    }

    /// Reads history; a long poll (`wait_new_event`) waits at most `timeout` for something to return and
    /// then answers an empty page so that the client polls again, as Temporal's servers do.
    package func readHistory(_ request: GetHistoryRequest, timeout: Duration) async throws(EngineError)
        -> GetHistoryResponse
    {
        try await longPoll(timeout: timeout, awaitsResult: request.historyEventFilterType == .closeEvent) {
            (core: inout EngineCore) throws(EngineError) -> RunRead<GetHistoryResponse> in
            switch try core.readHistory(request) {
            case .page(let page): .answer(page)
            case .waitForChange(let runID, let emptyPage): .waitForChange(runID: runID, answerIfUnchanged: emptyPage)
            }
        }
    }

    /// Reads with `read` until it answers, waiting between reads for the run it names to change; at most
    /// `timeout` in all, then the answer for "nothing changed". `awaitsResult`: the wait is a client
    /// awaiting the run's close (`result()`), which the clock explains.
    func longPoll<Answer: Sendable>(
        timeout: Duration, awaitsResult: Bool,
        _ read: @escaping @Sendable (inout EngineCore) throws(EngineError) -> RunRead<Answer>
    ) async throws(EngineError) -> Answer {
        let outcome: Result<Answer, EngineError> = await withTimeout(timeout, clock: wall) {
            while true {
                let waiterID = self.state.withLock { $0.makeID() }
                var ifUnchanged: Answer?
                let step: Result<RunWaitOutcome, EngineError> = await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        do throws(EngineError) {
                            try self.transact { (state: inout State, _: Instant) throws(EngineError) in
                                switch try read(&state.core) {
                                case .answer(let answer):
                                    ifUnchanged = answer
                                    continuation.resume(returning: .success(.gaveUp))
                                case .waitForChange(let runID, let answer):
                                    ifUnchanged = answer
                                    if Task.isCancelled {
                                        continuation.resume(returning: .success(.gaveUp))
                                    } else {
                                        state.historyWaiters.add(waiterID, continuation)
                                        state.historyWaitersByRun[runID, default: []].insert(waiterID)
                                        state.historyWaits[waiterID] = HistoryWait(runID: runID, awaitsResult: awaitsResult)
                                        if awaitsResult { state.core.noteResultWaiter(runID, 1) }
                                    }
                                }
                            }
                        } catch {
                            continuation.resume(returning: .failure(error))
                        }
                    }
                } onCancel: {
                    self.abandonHistoryWait(waiterID)
                }
                switch step {
                case .success(.gaveUp): return .success(ifUnchanged!)
                case .failure(let error): return .failure(error)
                case .success(.changed): continue  // the run changed: read again
                }
            }
        }
        return try outcome.get()
    }

    private func abandonHistoryWait(_ waiterID: UInt64) {
        let found: CheckedContinuation<Result<RunWaitOutcome, EngineError>, Never>? = state.withLock { state in
            guard let wait = state.historyWaits.removeValue(forKey: waiterID),
                let continuation = state.historyWaiters.take(waiterID)
            else { return nil }
            state.historyWaitersByRun[wait.runID]?.remove(waiterID)
            if state.historyWaitersByRun[wait.runID]?.isEmpty == true { state.historyWaitersByRun[wait.runID] = nil }
            if wait.awaitsResult { state.core.noteResultWaiter(wait.runID, -1) }
            return continuation
        }
        found?.resume(returning: .success(.gaveUp))
    }

    // MARK: Test service

    package func lockTimeSkipping() {
        try? transact { (core: inout EngineCore, now: Instant) in core.lockTimeSkipping(wallNow: now) }
    }

    package func unlockTimeSkipping() throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.unlockTimeSkipping(wallNow: now) }
    }

    package func currentTime() -> Instant {
        (try? transact { (core: inout EngineCore, now: Instant) in core.currentTime(wallNow: now) }) ?? wall.now()
    }

    /// Blocks until the virtual clock reaches the deadline (see `EngineCore.sleep`), or for at most
    /// `timeout` of wall time (the client's deadline): then DEADLINE_EXCEEDED, with the sleep's entry gone
    /// and an unlocking sleep's lock given back.
    package func sleep(until deadline: SleepDeadline, unlocking: Bool, timeout: Duration? = nil)
        async throws(EngineError)
    {
        guard let timeout else { return try await sleepOnce(until: deadline, unlocking: unlocking).get() }
        try await withTimeout(timeout, clock: wall) { await self.sleepOnce(until: deadline, unlocking: unlocking) }.get()
    }

    private func sleepOnce(until deadline: SleepDeadline, unlocking: Bool) async -> Result<Void, EngineError> {
        let id = SleepID(rawValue: state.withLock { $0.makeID() })
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                do throws(EngineError) {
                    try transact { (state: inout State, now: Instant) throws(EngineError) in
                        state.sleepers.add(id, continuation)
                        do throws(EngineError) {
                            try state.core.sleep(id, until: deadline, unlocking: unlocking, wallNow: now)
                        } catch {
                            _ = state.sleepers.take(id)
                            throw error
                        }
                    }
                } catch {
                    continuation.resume(returning: .failure(error))
                }
                // Cancelled before the sleep was registered: the cancellation handler found nothing to end.
                if Task.isCancelled { self.endSleep(id) }
            }
        } onCancel: {
            self.endSleep(id)
        }
    }

    /// A sleep's call went away or ran out of time: drop its entry (an unlocking sleep gives its lock back).
    private func endSleep(_ id: SleepID) {
        let continuation = state.withLock { $0.sleepers.take(id) }
        guard let continuation else { return }
        try? transact { (core: inout EngineCore, now: Instant) in core.cancelSleep(id, wallNow: now) }
        continuation.resume(
            returning: .failure(EngineError(.deadlineExceeded, "the sleep was cut short by the client's deadline")))
    }

    // MARK: Inspection

    /// Reads the engine's state after bringing the clock up to now; changes nothing else.
    package func inspect<T: Sendable>(_ body: (EngineCore, Instant) -> T) -> T {
        try! transact { (core: inout EngineCore, now: Instant) in
            core.settle(now)
            return body(core, now)
        }
    }

    // MARK: The clock task

    /// Fires timetable entries as wall time reaches them, until cancelled.
    package func runClock() async {
        // Not on the engine's lock: that would hold the event loop while recovering. (Only awaited when
        // closed: a call into the gate's nonisolated async method would leave the loop's executor.)
        if !ready.isOpen { await ready.opened() }
        while !Task.isCancelled {
            let wake: Instant? = try? transact { (state: inout State, now: Instant) in
                state.core.settle(now)
                let wake = state.core.nextWake(after: now)
                state.clockTarget = wake
                return wake
            }
            let delay = wake.map { $0 - wall.now() }
            if let delay, delay <= .zero { continue }
            await waitForSignal(atMost: delay)
        }
    }

    private func waitForSignal(atMost delay: Duration?) async {
        let work: @Sendable () async -> Void = {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = self.state.withLock { state in
                        if state.clockSignalled || Task.isCancelled {
                            state.clockSignalled = false
                            return true
                        }
                        state.clockWaiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                let waiter = self.state.withLock { state in
                    defer { state.clockWaiter = nil }
                    return state.clockWaiter
                }
                waiter?.resume()
            }
            self.state.withLock { $0.clockSignalled = false }
        }
        if let delay { await withTimeout(delay, clock: wall, work) } else { await work() }
    }
}

/// A value a waiting call's body hands back to it from inside the engine's lock.
final class Carried<Value: Sendable>: Sendable {
    let value = Mutex<Value?>(nil)
}
