internal import SwiftProtobuf
package import Logging
internal import Synchronization
package import TemporalAPI

/// Update calls: each makes its transition, then waits (bounded) for the stage it asked for.
extension Engine {
    /// Asks for an update and waits at most `timeout` for it to reach the stage the request waits for. If
    /// time runs out first, the answer is how far it got, with no outcome, so that the client asks again
    /// (as Temporal's frontend answers near the caller's deadline).
    package func updateWorkflow(_ request: UpdateWorkflowRequest, wait: UpdateWaitBound) async throws(EngineError)
        -> UpdateProgress
    {
        try await awaitUpdate(wait) { core, id, now throws(EngineError) in
            ((), try core.updateWorkflow(request, wait: id, wallNow: now))
        }.1
    }

    /// Update-with-start: starts the workflow or uses its running run, as the start's conflict policy says,
    /// and waits for the update as `updateWorkflow` does.
    package func updateWithStart(_ request: MultiOperationRequest, wait: UpdateWaitBound) async throws(EngineError)
        -> (StartOutcome, UpdateProgress)
    {
        try await awaitUpdate(wait) { core, id, now throws(EngineError) in
            let outcome = try core.updateWithStart(request, wait: id, wallNow: now)
            return (outcome.start, outcome.update)
        }
    }

    /// Waits at most `timeout` for an update to reach the stage the request waits for (see `updateWorkflow`).
    package func pollUpdate(_ request: PollUpdateRequest, wait: UpdateWaitBound) async throws(EngineError) -> UpdateProgress {
        try await awaitUpdate(wait) { core, id, now throws(EngineError) in
            ((), try core.pollUpdate(request, wait: id, wallNow: now))
        }.1
    }

    /// Makes an update call (which may give something else too, `Extra`: a start's outcome) and waits for
    /// the update as the call says.
    private func awaitUpdate<Extra: Sendable>(
        _ wait: UpdateWaitBound,
        _ call: @escaping @Sendable (inout EngineCore, UpdateWaitID, Instant) throws(EngineError) -> (Extra, UpdateCallOutcome)
    ) async throws(EngineError) -> (Extra, UpdateProgress) {
        let id = UpdateWaitID(rawValue: state.withLock { $0.makeID() })
        // What the call gave besides the update, set under the engine's lock before the wait can end.
        let extra = Carried<Extra>()
        let outcome: Result<UpdateProgress, EngineError> = await withTimeout(wait.timeout, clock: wall) {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    do throws(EngineError) {
                        try self.transact { (state: inout State, now: Instant) throws(EngineError) in
                            let (other, outcome) = try call(&state.core, id, now)
                            extra.value.withLock { $0 = other }
                            switch outcome {
                            case .answered(let progress): continuation.resume(returning: .success(progress))
                            case .pending: state.updateWaiters.add(id, continuation)
                            }
                        }
                    } catch {
                        continuation.resume(returning: .failure(error))
                    }
                    if Task.isCancelled { self.abandonUpdateWait(id, wait) }
                }
            } onCancel: {
                self.abandonUpdateWait(id, wait)
            }
        }
        let progress = try outcome.get()
        guard let other = extra.value.withLock({ $0 }) else { preconditionFailure("an answered update call gave its other result") }
        return (other, progress)
    }

    /// The wait's time is up (or its caller went away): the caller gets how far the update got, or
    /// DEADLINE_EXCEEDED if it was its own deadline that ran out.
    private func abandonUpdateWait(_ id: UpdateWaitID, _ wait: UpdateWaitBound) {
        let found = try? transact { (state: inout State, now: Instant) in
            let progress = state.core.abandonUpdateWait(id, wallNow: now)
            return (state.updateWaiters.take(id), progress)
        }
        guard let (continuation, progress) = found, let continuation else { return }
        guard wait.answersProgress else {
            return continuation.resume(returning: .failure(
                EngineError(.deadlineExceeded, "the client's deadline passed before the update reached the stage it waits for")))
        }
        continuation.resume(returning: progress.map { .success($0) }
            ?? .failure(EngineError(.notFound, "workflow update was aborted by closing workflow")))
    }

    /// How long an update call waits for its stage, and what it answers when that time is up.
    package struct UpdateWaitBound: Sendable {
        package var timeout: Duration
        /// The server's own bound ran out (answer how far the update got, for the client to ask again), not
        /// the client's deadline (DEADLINE_EXCEEDED, as Temporal's server answers).
        package var answersProgress: Bool

        /// Temporal's history service waits 20 s (`history.longPollExpirationInterval`) whatever the
        /// client's deadline; a client whose deadline comes first gets DEADLINE_EXCEEDED, which the Python
        /// SDK raises as WorkflowUpdateRPCTimeoutOrCancelledError.
        package init(clientTimeout: Duration?, serverBound: Duration = .seconds(20)) {
            if let clientTimeout, clientTimeout < serverBound {
                timeout = clientTimeout
                answersProgress = false
            } else {
                timeout = serverBound
                answersProgress = true
            }
        }
    }
}
