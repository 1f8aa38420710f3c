internal import Foundation
internal import SwiftProtobuf
package import TemporalAPI

package typealias DeleteWorkflowRequest = Temporal_Api_Workflowservice_V1_DeleteWorkflowExecutionRequest
package typealias GetHistoryReverseRequest = Temporal_Api_Workflowservice_V1_GetWorkflowExecutionHistoryReverseRequest
package typealias GetHistoryReverseResponse = Temporal_Api_Workflowservice_V1_GetWorkflowExecutionHistoryReverseResponse

extension EngineCore {
    /// `DeleteWorkflowExecution`: a running run is terminated first (as Temporal does), then the run, its
    /// history and everything it owns are gone: Describe, history reads and lists no longer find it.
    package mutating func deleteWorkflow(_ request: DeleteWorkflowRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let run = try core.resolveRun(namespace: request.namespace, request.workflowExecution, field: "workflow_execution")
            let runID = run.ref.runID
            return { core in
                if core.runs[runID]?.isOpen == true {
                    core.terminate(runID, reason: "Delete workflow execution", identity: "history-service")
                }
                core.forget(runID)
            }
        }
    }

    /// Removes a closed run from the engine and the store (the run's close let go of its entries and holds).
    mutating func forget(_ runID: String) {
        guard let run = runs[runID] else { return }
        refreshTouchedRuns()
        timetable.sync(owner: run.ref, desired: [])
        runs[runID] = nil
        removeHistory(runID)
        visibility.markStale(runID)
        let key = WorkflowKey(namespace: run.ref.namespace, workflowID: run.ref.workflowID)
        if currentRuns[key] == runID { clearCurrentRun(key) }
        for id in queryBook.pending.filter({ $0.value.runID == runID }).map(\.key) {
            if queryBook.remove(id)?.route == .buffered { release(.query(id)) }
            emit(.answerQuery(id, .failure(EngineError(.notFound, "workflow execution was deleted"))))
        }
        noteDeleted(runID)
        emit(.historyChanged(runID: runID))
    }

    /// `GetWorkflowExecutionHistoryReverse`: the newest events first, a page at a time.
    package func readHistoryReverse(_ request: GetHistoryReverseRequest) throws(EngineError) -> GetHistoryReverseResponse {
        let run = try resolveRun(namespace: request.namespace, request.execution)
        guard request.maximumPageSize >= 0 else { throw .invalidArgument("maximum_page_size must not be negative") }
        let last = try ReverseHistoryPageToken.decode(request.nextPageToken, runID: run.ref.runID) ?? run.lastEventID
        let pageSize = Int64(request.maximumPageSize > 0 ? Int(request.maximumPageSize) : Self.defaultHistoryPageSize)
        let newest = min(last, run.lastEventID)
        let oldest = max(1, newest - pageSize + 1)
        let events = history(run.ref.runID)
        guard newest >= 1, Int(newest) <= events.count else { return .init() }
        return .with {
            $0.history.events = Array(events[Int(oldest - 1)..<Int(newest)].reversed())
            if oldest > 1 { $0.nextPageToken = ReverseHistoryPageToken.encode(lastEventID: oldest - 1, runID: run.ref.runID) }
        }
    }
}

/// `next_page_token` of a reverse history read: the run and the newest event id still to read.
enum ReverseHistoryPageToken {
    static func encode(lastEventID: Int64, runID: String) -> Data { Data("r/\(runID)/\(lastEventID)".utf8) }

    static func decode(_ data: Data, runID: String) throws(EngineError) -> Int64? {
        guard !data.isEmpty else { return nil }
        let parts = String(decoding: data, as: UTF8.self).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "r", let last = Int64(parts[2]), last > 0 else {
            throw .invalidArgument("next_page_token is malformed: it is not a token this server issued")
        }
        guard parts[1] == runID else {
            throw .invalidArgument("next_page_token belongs to a different run than execution.run_id")
        }
        return last
    }
}
