internal import Foundation
internal import SwiftProtobuf
package import TemporalAPI

package typealias QueryWorkflowRequest = Temporal_Api_Workflowservice_V1_QueryWorkflowRequest
package typealias QueryWorkflowResponse = Temporal_Api_Workflowservice_V1_QueryWorkflowResponse
package typealias QueryTaskCompletedRequest = Temporal_Api_Workflowservice_V1_RespondQueryTaskCompletedRequest

/// What `queryWorkflow` gives: an answer now, or "wait for `.answerQuery`".
package enum QueryOutcome: Sendable {
    case answered(QueryWorkflowResponse)
    case pending
}

extension EngineCore {
    package mutating func queryWorkflow(_ request: QueryWorkflowRequest, id: QueryID, wallNow: Instant)
        throws(EngineError) -> QueryOutcome
    {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            guard !request.query.queryType.isEmpty else { throw .invalidArgument("query.query_type is not set") }
            let run = try core.resolveRun(namespace: request.namespace, request.execution)
            let rejected: Bool =
                switch request.queryRejectCondition {
                case .notOpen: !run.isOpen
                case .notCompletedCleanly: !run.isOpen && run.status != .completed
                default: false
                }
            if rejected {
                return { _ in .answered(.with { $0.queryRejected = .with { $0.status = run.status } }) }
            }
            let (runID, buffers) = (run.ref.runID, run.isOpen && run.workflowTask != .none)
            return { core in
                if buffers {
                    core.queryBook.buffer(id, runID: runID, query: request.query)
                    core.take(.query(id))
                } else {
                    core.queueLegacyQuery(id, runID: runID, query: request.query)
                }
                return .pending
            }
        }
    }

    private mutating func queueLegacyQuery(_ id: QueryID, runID: String, query: Temporal_Api_Query_V1_WorkflowQuery) {
        queryBook.queueLegacy(id, runID: runID, query: query)
        let run = runs[runID]!
        let key = TaskQueueKey(namespace: run.ref.namespace, name: run.taskQueue)
        if let (poller, identity) = matching.offer(.query(id), to: key) {
            emit(.deliverWorkflowTask(poller, startLegacyQuery(id, identity: identity)))
        }
    }

    /// Buffered queries that will not get a workflow task after all (the run has none coming, or it
    /// closed) become legacy query tasks.
    mutating func redirectBufferedQueries(_ runID: String) {
        guard let run = runs[runID], run.workflowTask == .none else { return }
        for id in queryBook.takeBuffered(runID) {
            guard let query = queryBook[id] else { continue }
            release(.query(id))
            queueLegacyQuery(id, runID: runID, query: query.query)
        }
    }

    /// The legacy query task for a poller: the run's whole history and the query.
    mutating func startLegacyQuery(_ id: QueryID, identity: String) -> PollWorkflowTaskResponse {
        let query = queryBook.dispatchLegacy(id)
        let run = runs[query.runID]!
        return .with {
            $0.taskToken = TaskToken(kind: .queryTask, runID: run.ref.runID, scheduledEventID: id.rawValue, attempt: 1).data
            $0.workflowExecution = .with { $0.workflowID = run.ref.workflowID; $0.runID = run.ref.runID }
            $0.workflowType = .with { $0.name = run.workflowType }
            $0.previousStartedEventID = run.lastCompletedWorkflowTaskStartedEventID
            $0.startedEventID = run.lastCompletedWorkflowTaskStartedEventID
            $0.attempt = 1
            $0.history = .with { $0.events = history(run.ref.runID) }
            $0.query = query.query
            $0.workflowExecutionTaskQueue = .with { $0.name = run.taskQueue; $0.kind = .normal }
            $0.scheduledTime = now.timestamp
            $0.startedTime = now.timestamp
        }
    }

    /// Hands the run's buffered queries to the workflow task being started.
    mutating func attachBufferedQueries(_ runID: String, to response: inout PollWorkflowTaskResponse) {
        for (id, query) in queryBook.attach(to: runID) { response.queries[String(id.rawValue)] = query }
    }

    /// Answers the queries that rode on a completed workflow task; unanswered ones wait for the next.
    mutating func answerQueries(_ runID: String, results: [String: Temporal_Api_Query_V1_WorkflowQueryResult]) {
        for (id, result) in queryBook.settle(runID, results: results) {
            release(.query(id))
            emit(.answerQuery(id, Self.queryAnswer(
                completed: result.resultType == .answered, answer: result.hasAnswer ? result.answer : nil,
                errorMessage: result.errorMessage)))
        }
    }

    /// Queries that rode on a workflow task that failed or timed out wait for the next one.
    mutating func requeueQueriesInFlight(_ runID: String) { queryBook.requeueInFlight(runID) }

    package mutating func completeQueryTask(_ request: QueryTaskCompletedRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let token = try TaskToken(request.taskToken)
            guard token.kind == .queryTask else {
                throw .invalidArgument("task_token names a \(token.kind) task, not a query task")
            }
            let id = QueryID(rawValue: token.scheduledEventID)
            guard let query = core.queryBook[id], query.route == .legacyDispatched else {
                throw EngineError(.notFound, "query not found: it was already answered or its caller gave up")
            }
            return { core in
                core.queryBook.remove(id)
                core.releaseWorkflowTaskHeldForQuery(query.runID)
                core.emit(.answerQuery(id, Self.queryAnswer(
                    completed: request.completedType == .answered, answer: request.hasQueryResult ? request.queryResult : nil,
                    errorMessage: request.errorMessage)))
            }
        }
    }

    /// The caller stopped waiting: forget the query.
    package mutating func abandonQuery(_ id: QueryID, wallNow: Instant) {
        commit(wallNow) { core in
            guard let query = core.queryBook.remove(id) else { return }
            if query.route == .buffered { core.release(.query(id)) }
            core.releaseWorkflowTaskHeldForQuery(query.runID)
        }
    }

    private static func queryAnswer(completed: Bool, answer: Payloads?, errorMessage: String)
        -> Result<QueryWorkflowResponse, EngineError>
    {
        // A failed query is INVALID_ARGUMENT carrying the worker's message, which SDKs raise as a
        // query-failed error.
        guard completed else { return .failure(EngineError(.invalidArgument, errorMessage)) }
        return .success(.with { if let answer { $0.queryResult = answer } })
    }
}
