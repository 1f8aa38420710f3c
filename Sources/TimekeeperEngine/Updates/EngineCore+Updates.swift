internal import Foundation
internal import SwiftProtobuf
package import TemporalAPI

package typealias UpdateWorkflowRequest = Temporal_Api_Workflowservice_V1_UpdateWorkflowExecutionRequest
package typealias PollUpdateRequest = Temporal_Api_Workflowservice_V1_PollWorkflowExecutionUpdateRequest
package typealias UpdateOutcomeValue = Temporal_Api_Update_V1_Outcome
typealias ProtocolMessage = Temporal_Api_Protocol_V1_Message

/// How far an update got, as `UpdateWorkflowExecution` and `PollWorkflowExecutionUpdate` answer it.
package struct UpdateProgress: Sendable, Equatable {
    package var workflowID: String
    package var runID: String
    package var updateID: String
    package var stage: UpdateStage
    /// Set once the update is completed (or rejected).
    package var outcome: UpdateOutcomeValue?
}

/// What an update call gives: an answer now, or "wait for `.answerUpdate`".
package enum UpdateCallOutcome: Sendable {
    case answered(UpdateProgress)
    case pending
}

/// Updates: a client's request is admitted (`UpdateBook`), rides on the run's next workflow task as a
/// protocol message, and the worker's acceptance, rejection and response come back as messages of the
/// task's completion. Accepted and completed updates are history; admitted and rejected ones are not.
extension EngineCore {
    /// Temporal's defaults (`history.maxInFlightUpdates`, `history.maxTotalUpdates`).
    static let maximumInFlightUpdates = 10
    static let maximumTotalUpdates = 2000

    package mutating func updateWorkflow(_ request: UpdateWorkflowRequest, wait: UpdateWaitID, wallNow: Instant)
        throws(EngineError) -> UpdateCallOutcome
    {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let (updateRequest, stage) = try Self.checkUpdate(request)
            let run = try core.resolveRun(namespace: request.namespace, request.workflowExecution, field: "workflow_execution")
            if !request.firstExecutionRunID.isEmpty && request.firstExecutionRunID != run.firstRunID {
                throw EngineError(
                    .notFound,
                    "workflow execution not found: first_execution_run_id \(request.firstExecutionRunID) is not the first run of workflow \(run.ref.workflowID)'s current chain")
            }
            return try core.decideUpdate(updateRequest, stage: stage, run: run, wait: wait)
        }
    }

    /// Checks an update call's own fields: answers the update request (an id filled in if it had none, as
    /// Temporal's frontend fills it) and the stage the call waits for.
    static func checkUpdate(_ request: UpdateWorkflowRequest) throws(EngineError) -> (UpdateRequest, UpdateStage) {
        var updateRequest = request.request
        if updateRequest.meta.updateID.isEmpty { updateRequest.meta.updateID = UUIDs.random() }
        guard request.request.hasMeta else { throw .invalidArgument("request.meta is not set") }
        guard updateRequest.meta.updateID.utf8.count <= 1000 else {
            throw .invalidArgument("request.meta.update_id is longer than 1000 bytes")
        }
        guard request.request.hasInput else { throw .invalidArgument("request.input is not set") }
        guard !request.request.input.name.isEmpty else { throw .invalidArgument("request.input.name is not set") }
        switch request.waitPolicy.lifecycleStage {
        case .unspecified: return (updateRequest, .completed)  // Temporal's default
        case .admitted:
            throw EngineError(
                .permissionDenied,
                "wait_policy.lifecycle_stage ADMITTED: UpdateWorkflowExecution issued asynchronously and waiting on update admitted is not supported")
        case .accepted, .completed: return (updateRequest, request.waitPolicy.lifecycleStage)
        case .UNRECOGNIZED(let value):
            throw .invalidArgument("wait_policy.lifecycle_stage \(value) is not a known lifecycle stage")
        }
    }

    /// An update of `run`: the stored answer, a wait on the update with that id, or a new update admitted
    /// (within the limits on updates in flight and in total).
    func decideUpdate(_ updateRequest: UpdateRequest, stage: UpdateStage, run: WorkflowRun, wait: UpdateWaitID)
        throws(EngineError) -> (inout EngineCore) -> UpdateCallOutcome
    {
        let updateID = updateRequest.meta.updateID
        let runID = run.ref.runID
        // The same update id again (a client retry, or a second caller): it joins the first.
        if let progress = updateProgress(run, updateID) {
            if progress.stage.rawValue >= stage.rawValue { return { _ in .answered(progress) } }
            return { core in
                core.updateBook.addWait(wait, UpdateWait(runID: runID, updateID: updateID, stage: stage))
                return .pending
            }
        }
        guard run.isOpen else { throw EngineError(.notFound, "workflow execution already completed") }
        guard updateBook.count(runID) + run.updates.inProgress < Self.maximumInFlightUpdates else {
            throw EngineError(
                .resourceExhausted,
                "limit on number of concurrent in-flight updates has been reached (\(Self.maximumInFlightUpdates))")
        }
        guard updateBook.count(runID) + run.updates.count < Self.maximumTotalUpdates else {
            throw EngineError(
                .failedPrecondition,
                "The limit on the total number of distinct updates in this workflow has been reached (\(Self.maximumTotalUpdates)). Make sure any duplicate updates share an Update ID so the server can deduplicate them, and consider rejecting updates that you aren't going to process. You can also Continue-as-New to avoid this; we recommend you check Continue-as-New Suggested in your Workflow.")
        }
        return { core in core.admitUpdate(updateRequest, runID: runID, stage: stage, wait: wait) }
    }

    /// Admits a new update to an open run and, unless the caller waits for nothing more, registers its wait.
    mutating func admitUpdate(_ request: UpdateRequest, runID: String, stage: UpdateStage, wait: UpdateWaitID) -> UpdateCallOutcome {
        let run = runs[runID]!
        updateBook.admit(request, runID: runID)
        // A run still in its first task's backoff gets the update with that task.
        if run.firstTaskScheduled { workflowNeedsTask(runID) }
        let updateID = request.meta.updateID
        guard stage.rawValue > UpdateStage.admitted.rawValue else {
            return .answered(UpdateProgress(workflowID: run.ref.workflowID, runID: runID, updateID: updateID, stage: .admitted))
        }
        updateBook.addWait(wait, UpdateWait(runID: runID, updateID: updateID, stage: stage))
        return .pending
    }

    package mutating func pollUpdate(_ request: PollUpdateRequest, wait: UpdateWaitID, wallNow: Instant)
        throws(EngineError) -> UpdateCallOutcome
    {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let updateID = request.updateRef.updateID
            guard request.hasUpdateRef else { throw .invalidArgument("update_ref is not set") }
            guard !updateID.isEmpty else { throw .invalidArgument("update_ref.update_id is not set") }
            // Not defaulted, unlike the update call's: an unset stage answers at once.
            let stage: UpdateStage
            switch request.waitPolicy.lifecycleStage {
            case .unspecified, .admitted: stage = .admitted
            case .accepted, .completed: stage = request.waitPolicy.lifecycleStage
            case .UNRECOGNIZED(let value):
                throw .invalidArgument("wait_policy.lifecycle_stage \(value) is not a known lifecycle stage")
            }
            let run = try core.resolveRun(
                namespace: request.namespace, request.updateRef.workflowExecution, field: "update_ref.workflow_execution")
            guard let progress = core.updateProgress(run, updateID) else {
                throw EngineError(.notFound, "update \"\(updateID)\" not found")
            }
            if progress.stage.rawValue >= stage.rawValue { return { _ in .answered(progress) } }
            let runID = run.ref.runID
            return { core in
                core.updateBook.addWait(wait, UpdateWait(runID: runID, updateID: updateID, stage: stage))
                return .pending
            }
        }
    }

    /// The caller stopped waiting (its deadline is near, or it went away): how far the update got, which
    /// Temporal answers with no outcome so that the client asks again; nil if the update is gone.
    @discardableResult
    package mutating func abandonUpdateWait(_ id: UpdateWaitID, wallNow: Instant) -> UpdateProgress? {
        commit(wallNow) { core in
            guard let wait = core.updateBook.removeWait(id), let run = core.runs[wait.runID] else { return nil }
            return core.updateProgress(run, wait.updateID)
        }
    }

    /// Where an update of `run` stands, or nil if the run has no update with that id.
    func updateProgress(_ run: WorkflowRun, _ updateID: String) -> UpdateProgress? {
        var progress = UpdateProgress(workflowID: run.ref.workflowID, runID: run.ref.runID, updateID: updateID, stage: .admitted)
        if updateBook.admitted(run.ref.runID, updateID) != nil { return progress }
        switch run.updates[updateID] {
        case nil: return nil
        case .accepted:
            progress.stage = .accepted
            if !run.isOpen {
                progress.stage = .completed
                progress.outcome = Self.closedBeforeCompletion
            }
        case .completed(_, let completedEventID):
            progress.stage = .completed
            let events = history(run.ref.runID)
            if completedEventID >= 1 && completedEventID <= events.count {
                progress.outcome = events[Int(completedEventID) - 1].workflowExecutionUpdateCompletedEventAttributes.outcome
            }
        }
        return progress
    }

    // MARK: Delivery to workers

    /// Hands the run's waiting updates to the workflow task being started, as protocol messages
    /// sequenced after the event before the task's started event (as Temporal's history service does).
    mutating func attachUpdates(_ runID: String, startedEventID: Int64, to response: inout PollWorkflowTaskResponse) {
        for request in updateBook.attach(to: runID, startedEventID: startedEventID) {
            let updateID = request.meta.updateID
            guard let body = try? Google_Protobuf_Any(message: request) else { continue }
            response.messages.append(.with {
                $0.id = "\(updateID)/request"
                $0.protocolInstanceID = updateID
                $0.eventID = startedEventID - 1
                $0.body = body
            })
        }
    }

    // MARK: Answers from workers

    /// A worker's message about an update, decoded and checked against the run before anything changes.
    enum UpdateMessage {
        case acceptance(Temporal_Api_Update_V1_Acceptance)
        case rejection(Temporal_Api_Update_V1_Rejection)
        case response(Temporal_Api_Update_V1_Response)
    }

    /// Decodes and checks a completion's messages in order: an acceptance or rejection must answer an
    /// update the run has admitted, a response must finish one that is accepted (before, or by a message
    /// before it). A message that does not fit refuses the whole completion.
    func validateUpdateMessages(_ messages: [ProtocolMessage], run: WorkflowRun) throws(EngineError) -> [String: UpdateMessage] {
        var decoded: [String: UpdateMessage] = [:]
        var admitted = Set((updateBook.admitted[run.ref.runID] ?? []).map(\.request.meta.updateID))
        var accepted = Set(run.updates.filter { !$0.value.isCompleted }.keys)
        for (index, message) in messages.enumerated() {
            let field = "messages[\(index)]"
            guard !message.id.isEmpty else { throw .invalidArgument("\(field).id is not set") }
            guard decoded[message.id] == nil else { throw .invalidArgument("\(field).id \(message.id) is used twice") }
            let updateID = message.protocolInstanceID
            let body: UpdateMessage
            do {
                if message.body.isA(Temporal_Api_Update_V1_Acceptance.self) {
                    body = .acceptance(try Temporal_Api_Update_V1_Acceptance(unpackingAny: message.body))
                } else if message.body.isA(Temporal_Api_Update_V1_Rejection.self) {
                    body = .rejection(try Temporal_Api_Update_V1_Rejection(unpackingAny: message.body))
                } else if message.body.isA(Temporal_Api_Update_V1_Response.self) {
                    body = .response(try Temporal_Api_Update_V1_Response(unpackingAny: message.body))
                } else {
                    throw EngineError.invalidArgument(
                        "\(field).body has type \(message.body.typeURL), not an update Acceptance, Rejection or Response")
                }
            } catch let error as EngineError {
                throw error
            } catch {
                throw .invalidArgument("\(field).body does not decode: \(error)")
            }
            switch body {
            case .acceptance, .rejection:
                guard admitted.remove(updateID) != nil else {
                    throw .invalidArgument("\(field) answers update \(updateID), which is not waiting for a worker's answer")
                }
                if case .acceptance = body { accepted.insert(updateID) }
            case .response(let response):
                guard response.meta.updateID == updateID else {
                    throw .invalidArgument("\(field) is for update \(updateID) but its meta.update_id is \(response.meta.updateID)")
                }
                guard accepted.remove(updateID) != nil else {
                    throw .invalidArgument("\(field) completes update \(updateID), which is not accepted and open")
                }
                guard response.hasOutcome, response.outcome.value != nil else {
                    throw .invalidArgument("\(field).body.outcome is not set")
                }
            }
            decoded[message.id] = body
        }
        return decoded
    }

    /// Applies one validated update message of a completion.
    mutating func applyUpdateMessage(_ message: ProtocolMessage, _ body: UpdateMessage, runID: String) {
        let updateID = message.protocolInstanceID
        let ref = runs[runID]!.ref
        switch body {
        case .acceptance(let acceptance):
            guard let admitted = updateBook.remove(runID, updateID) else { return }
            record(runID, .workflowExecutionUpdateAccepted) { event in
                event.workflowExecutionUpdateAcceptedEventAttributes = .with {
                    $0.protocolInstanceID = updateID
                    $0.acceptedRequestMessageID = "\(updateID)/request"  // the server's id, whatever the worker says
                    $0.acceptedRequestSequencingEventID = acceptance.acceptedRequestSequencingEventID
                    $0.acceptedRequest = admitted.request
                }
            }
            let progress = UpdateProgress(workflowID: ref.workflowID, runID: runID, updateID: updateID, stage: .accepted)
            for wait in updateBook.takeWaits(runID, updateID, reached: .accepted) {
                emit(.answerUpdate(wait, .success(progress)))
            }
        case .rejection(let rejection):
            guard updateBook.remove(runID, updateID) != nil else { return }
            let outcome = UpdateOutcomeValue.with { $0.failure = rejection.failure }
            finishUpdate(runID, updateID, outcome: outcome)
        case .response(let response):
            guard case .accepted(let acceptedEventID)? = runs[runID]!.updates[updateID] else { return }
            record(runID, .workflowExecutionUpdateCompleted) { event in
                event.workflowExecutionUpdateCompletedEventAttributes = .with {
                    $0.meta = .with {
                        $0.updateID = updateID
                        $0.identity = response.meta.identity
                    }
                    $0.acceptedEventID = acceptedEventID
                    $0.outcome = response.outcome
                }
            }
            finishUpdate(runID, updateID, outcome: response.outcome)
        }
    }

    /// Every client waiting on the update gets its outcome.
    private mutating func finishUpdate(_ runID: String, _ updateID: String, outcome: UpdateOutcomeValue) {
        let ref = runs[runID]!.ref
        let progress = UpdateProgress(
            workflowID: ref.workflowID, runID: runID, updateID: updateID, stage: .completed, outcome: outcome)
        for wait in updateBook.takeWaits(runID, updateID) { emit(.answerUpdate(wait, .success(progress))) }
    }

    /// Updates that rode on a workflow task that failed, timed out or was refused wait for the next one.
    mutating func requeueUpdatesInFlight(_ runID: String) { updateBook.requeueInFlight(runID) }

    /// A completed workflow task carried updates its worker neither accepted nor rejected: Temporal rejects
    /// them for the worker (a worker that does not know updates), unless the completion was a heartbeat.
    mutating func rejectUnprocessedUpdates(_ runID: String) {
        for update in updateBook.admitted[runID] ?? [] {
            guard case .inFlight = update.route else { continue }
            let updateID = update.request.meta.updateID
            updateBook.remove(runID, updateID)
            finishUpdate(runID, updateID, outcome: Self.unprocessed)
        }
    }

    /// Temporal's rejection of an update the worker did not process.
    static let unprocessed = UpdateOutcomeValue.with {
        $0.failure = .with {
            $0.message = "Workflow Update is rejected because it wasn't processed by worker. Probably, Workflow Update is not supported by the worker."
            $0.source = "Server"
            $0.applicationFailureInfo = .with { $0.type = "UnprocessedUpdate"; $0.nonRetryable = true }
        }
    }

    // MARK: Closing

    /// The run closed. Updates no worker accepted fail as Temporal fails them, unless the run continued as
    /// new: then they go to the new run. (Temporal answers those callers RESOURCE_EXHAUSTED "workflow is
    /// closing" and the SDK's retry reaches the new run; moving them gives the same outcome in one call.)
    /// Accepted updates that never completed get a failed outcome.
    mutating func closeUpdates(_ runID: String, continuedIn newRunID: String?) {
        let admitted = updateBook.takeAll(runID)
        if let newRunID, runs[newRunID]?.isOpen == true {
            // The new run's first workflow task (scheduled, or after its backoff) carries them.
            for update in admitted { updateBook.admit(update.request, runID: newRunID) }
            updateBook.moveWaits(from: runID, to: newRunID, updateIDs: Set(admitted.map(\.request.meta.updateID)))
        } else {
            for update in admitted {
                for wait in updateBook.takeWaits(runID, update.request.meta.updateID) {
                    emit(.answerUpdate(wait, .failure(EngineError(.notFound, "workflow update was aborted by closing workflow"))))
                }
            }
        }
        guard let run = runs[runID] else { return }
        for (updateID, state) in run.updates.sorted(by: { $0.key < $1.key }) where !state.isCompleted {
            finishUpdate(runID, updateID, outcome: Self.closedBeforeCompletion)
        }
    }

    /// The outcome of an accepted update whose run closed before its handler finished (Temporal's text).
    static let closedBeforeCompletion = UpdateOutcomeValue.with {
        $0.failure = .with {
            $0.message = "Workflow Update failed because the Workflow completed before the Update completed."
            $0.source = "Server"
            $0.applicationFailureInfo = .with { $0.type = "AcceptedUpdateCompletedWorkflow"; $0.nonRetryable = true }
        }
    }
}
