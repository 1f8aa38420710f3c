internal import Foundation
internal import SwiftProtobuf
package import TemporalAPI

package typealias QueryWorkflowRequest = Temporal_Api_Workflowservice_V1_QueryWorkflowRequest
package typealias QueryWorkflowResponse = Temporal_Api_Workflowservice_V1_QueryWorkflowResponse
package typealias QueryTaskCompletedRequest = Temporal_Api_Workflowservice_V1_RespondQueryTaskCompletedRequest

/// A client's query until it is answered.
struct PendingQuery: Sendable {
    enum Route: Sendable, Equatable {
        /// Waits for the run's next workflow task (holds the clock: a consistent query).
        case buffered
        /// Queued as a legacy query task, for when no workflow task is in flight (holds nothing).
        case legacyQueued
        /// Handed to a worker as a legacy query task.
        case legacyDispatched
    }

    var runID: String
    var query: Temporal_Api_Query_V1_WorkflowQuery
    var route: Route
}

/// What `queryWorkflow` gives: an answer now, or "wait for `.answerQuery`".
package enum QueryOutcome: Sendable {
    case answered(QueryWorkflowResponse)
    case pending
}

extension EngineCore {
    package mutating func queryWorkflow(_ request: QueryWorkflowRequest, id: QueryID, wallNow: Instant)
        throws(EngineError) -> QueryOutcome
    {
        refresh(wallNow)
        defer { settle(wallNow) }
        guard !request.query.queryType.isEmpty else { throw .invalidArgument("query.query_type is not set") }
        let run = try resolveRun(namespace: request.namespace, request.execution)
        let rejected: Bool =
            switch request.queryRejectCondition {
            case .notOpen: !run.isOpen
            case .notCompletedCleanly: !run.isOpen && run.status != .completed
            default: false
            }
        if rejected {
            return .answered(.with { $0.queryRejected = .with { $0.status = run.status } })
        }
        let runID = run.ref.runID
        if run.isOpen && run.workflowTask != .none {
            queries[id] = PendingQuery(runID: runID, query: request.query, route: .buffered)
            runs[runID]!.bufferedQueries.append(id)
            take(.query(id))
        } else {
            queueLegacyQuery(id, runID: runID, query: request.query)
        }
        return .pending
    }

    private mutating func queueLegacyQuery(_ id: QueryID, runID: String, query: Temporal_Api_Query_V1_WorkflowQuery) {
        queries[id] = PendingQuery(runID: runID, query: query, route: .legacyQueued)
        let run = runs[runID]!
        let key = TaskQueueKey(namespace: run.ref.namespace, name: run.taskQueue)
        if let poller = workflowQueues[key, default: TaskQueue()].offer(.query(id)) {
            let identity = waitingPollers.removeValue(forKey: poller)?.identity ?? ""
            emit(.deliverWorkflowTask(poller, startLegacyQuery(id, identity: identity)))
        }
    }

    /// Buffered queries that will not get a workflow task after all (the run has none coming, or it
    /// closed) become legacy query tasks.
    mutating func redirectBufferedQueries(_ runID: String) {
        guard let run = runs[runID], !run.bufferedQueries.isEmpty, run.workflowTask == .none else { return }
        runs[runID]!.bufferedQueries = []
        for id in run.bufferedQueries {
            guard let query = queries[id] else { continue }
            release(.query(id))
            queueLegacyQuery(id, runID: runID, query: query.query)
        }
    }

    /// The legacy query task for a poller: the run's whole history and the query.
    mutating func startLegacyQuery(_ id: QueryID, identity: String) -> PollWorkflowTaskResponse {
        queries[id]!.route = .legacyDispatched
        let query = queries[id]!
        let run = runs[query.runID]!
        return .with {
            $0.taskToken = TaskToken(kind: .queryTask, runID: run.ref.runID, scheduledEventID: id.rawValue, attempt: 1).data
            $0.workflowExecution = .with { $0.workflowID = run.ref.workflowID; $0.runID = run.ref.runID }
            $0.workflowType = .with { $0.name = run.workflowType }
            $0.previousStartedEventID = run.lastCompletedWorkflowTaskStartedEventID
            $0.startedEventID = run.lastCompletedWorkflowTaskStartedEventID
            $0.attempt = 1
            $0.history = .with { $0.events = run.history }
            $0.query = query.query
            $0.workflowExecutionTaskQueue = .with { $0.name = run.taskQueue; $0.kind = .normal }
            $0.scheduledTime = now.timestamp
            $0.startedTime = now.timestamp
        }
    }

    /// Hands the run's buffered queries to the workflow task being started.
    mutating func attachBufferedQueries(_ runID: String, to response: inout PollWorkflowTaskResponse) {
        let ids = runs[runID]!.bufferedQueries
        guard !ids.isEmpty else { return }
        runs[runID]!.bufferedQueries = []
        runs[runID]!.queriesInFlight += ids
        for id in ids {
            if let query = queries[id] { response.queries[String(id.rawValue)] = query.query }
        }
    }

    /// Answers the queries that rode on a completed workflow task; unanswered ones wait for the next.
    mutating func answerQueries(
        _ runID: String, results: [String: Temporal_Api_Query_V1_WorkflowQueryResult]
    ) {
        let inFlight = runs[runID]!.queriesInFlight
        runs[runID]!.queriesInFlight = []
        for id in inFlight {
            guard let result = results[String(id.rawValue)] else {
                runs[runID]!.bufferedQueries.append(id)
                continue
            }
            queries[id] = nil
            release(.query(id))
            emit(.answerQuery(id, Self.queryAnswer(
                completed: result.resultType == .answered, answer: result.hasAnswer ? result.answer : nil,
                errorMessage: result.errorMessage)))
        }
    }

    /// Queries that rode on a workflow task that failed or timed out wait for the next one.
    mutating func requeueQueriesInFlight(_ runID: String) {
        let inFlight = runs[runID]!.queriesInFlight
        runs[runID]!.queriesInFlight = []
        runs[runID]!.bufferedQueries = inFlight + runs[runID]!.bufferedQueries
    }

    package mutating func completeQueryTask(_ request: QueryTaskCompletedRequest, wallNow: Instant) throws(EngineError) {
        refresh(wallNow)
        defer { settle(wallNow) }
        let token = try TaskToken(request.taskToken)
        guard token.kind == .queryTask else {
            throw .invalidArgument("task_token names a \(token.kind) task, not a query task")
        }
        let id = QueryID(rawValue: token.scheduledEventID)
        guard let query = queries[id], query.route == .legacyDispatched else {
            throw EngineError(.notFound, "query not found: it was already answered or its caller gave up")
        }
        queries[id] = nil
        emit(.answerQuery(id, Self.queryAnswer(
            completed: request.completedType == .answered, answer: request.hasQueryResult ? request.queryResult : nil,
            errorMessage: request.errorMessage)))
    }

    /// The caller stopped waiting: forget the query.
    package mutating func abandonQuery(_ id: QueryID, wallNow: Instant) {
        refresh(wallNow)
        defer { settle(wallNow) }
        guard let query = queries.removeValue(forKey: id) else { return }
        if query.route == .buffered {
            release(.query(id))
            runs[query.runID]?.bufferedQueries.removeAll { $0 == id }
            runs[query.runID]?.queriesInFlight.removeAll { $0 == id }
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
