package import TemporalAPI

/// A client's query until it is answered.
package struct PendingQuery: Sendable {
    package enum Route: Sendable, Equatable {
        /// Waits for the run's next workflow task (holds the clock: a consistent query).
        case buffered
        /// Queued as a legacy query task, for when no workflow task is in flight (holds nothing).
        case legacyQueued
        /// Handed to a worker as a legacy query task.
        case legacyDispatched
    }

    package var runID: String
    package var query: Temporal_Api_Query_V1_WorkflowQuery
    package var route: Route
}

/// Every query from a client until it is answered: the route each takes, and for each run the queries
/// waiting for its next workflow task and those riding on the one now running. Queries are not history:
/// they live as long as their callers wait, and a restarted server has none.
package struct QueryBook: Sendable {
    package private(set) var pending: [QueryID: PendingQuery] = [:]
    /// Consistent queries waiting for the run's next workflow task.
    package private(set) var buffered: [String: [QueryID]] = [:]
    /// Queries handed out with the run's workflow task now running, answered by its completion.
    package private(set) var inFlight: [String: [QueryID]] = [:]

    package init() {}

    package subscript(id: QueryID) -> PendingQuery? { pending[id] }

    package func buffered(for runID: String) -> [QueryID] { buffered[runID] ?? [] }
    package func inFlight(for runID: String) -> [QueryID] { inFlight[runID] ?? [] }

    mutating func buffer(_ id: QueryID, runID: String, query: Temporal_Api_Query_V1_WorkflowQuery) {
        pending[id] = PendingQuery(runID: runID, query: query, route: .buffered)
        buffered[runID, default: []].append(id)
    }

    mutating func queueLegacy(_ id: QueryID, runID: String, query: Temporal_Api_Query_V1_WorkflowQuery) {
        pending[id] = PendingQuery(runID: runID, query: query, route: .legacyQueued)
    }

    /// Whether a legacy query task of the run is with a worker, unanswered.
    package func hasLegacyQueryWithWorker(_ runID: String) -> Bool {
        pending.values.contains { $0.runID == runID && $0.route == .legacyDispatched }
    }

    /// A legacy query task goes to a worker.
    mutating func dispatchLegacy(_ id: QueryID) -> PendingQuery {
        pending[id]!.route = .legacyDispatched
        return pending[id]!
    }

    /// The run's buffered queries ride on the workflow task being started.
    mutating func attach(to runID: String) -> [(QueryID, Temporal_Api_Query_V1_WorkflowQuery)] {
        guard let ids = buffered.removeValue(forKey: runID) else { return [] }
        inFlight[runID, default: []] += ids
        return ids.compactMap { id in pending[id].map { (id, $0.query) } }
    }

    /// The workflow task the queries rode on completed: those it answered are done (returned with their
    /// answers), the others wait for the next task.
    mutating func settle(_ runID: String, results: [String: Temporal_Api_Query_V1_WorkflowQueryResult])
        -> [(QueryID, Temporal_Api_Query_V1_WorkflowQueryResult)]
    {
        var answered: [(QueryID, Temporal_Api_Query_V1_WorkflowQueryResult)] = []
        for id in inFlight.removeValue(forKey: runID) ?? [] {
            guard let result = results[String(id.rawValue)] else {
                buffered[runID, default: []].append(id)
                continue
            }
            pending[id] = nil
            answered.append((id, result))
        }
        return answered
    }

    /// The workflow task they rode on failed or timed out: they wait for the next one, first in line.
    mutating func requeueInFlight(_ runID: String) {
        guard let ids = inFlight.removeValue(forKey: runID) else { return }
        buffered[runID] = ids + (buffered[runID] ?? [])
    }

    /// The run's buffered queries, taken to be routed another way.
    mutating func takeBuffered(_ runID: String) -> [QueryID] {
        buffered.removeValue(forKey: runID) ?? []
    }

    /// The query is over (answered by a legacy task or abandoned by its caller).
    @discardableResult
    mutating func remove(_ id: QueryID) -> PendingQuery? {
        guard let query = pending.removeValue(forKey: id) else { return nil }
        if query.route == .buffered {
            buffered[query.runID]?.removeAll { $0 == id }
            if buffered[query.runID]?.isEmpty == true { buffered[query.runID] = nil }
            inFlight[query.runID]?.removeAll { $0 == id }
            if inFlight[query.runID]?.isEmpty == true { inFlight[query.runID] = nil }
        }
        return query
    }
}
