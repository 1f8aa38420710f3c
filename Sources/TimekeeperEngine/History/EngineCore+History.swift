internal import SwiftProtobuf
package import TemporalAPI
internal import Foundation

package typealias GetHistoryRequest = Temporal_Api_Workflowservice_V1_GetWorkflowExecutionHistoryRequest
package typealias GetHistoryResponse = Temporal_Api_Workflowservice_V1_GetWorkflowExecutionHistoryResponse

/// What a history read gives: a page now, or "nothing yet" for a long poll that must wait for the run
/// to change (the shell re-reads on `.historyChanged` or answers `emptyPage` at its deadline).
package enum HistoryRead: Sendable {
    case page(GetHistoryResponse)
    /// `emptyPage` is the answer for a wait that ends with nothing new: an empty history (present, not
    /// absent: the Go SDK inside the Temporal CLI dereferences it) and a token to poll again from the same
    /// place, as Temporal's server answers.
    case waitForChange(runID: String, emptyPage: GetHistoryResponse)
}

extension EngineCore {
    /// Default page size when the client sets none.
    static let defaultHistoryPageSize = 1000

    /// Resolves a workflow execution named by a client: an empty run id means the latest run.
    package func resolveRun(namespace: String, _ execution: Temporal_Api_Common_V1_WorkflowExecution,
                            field: String = "execution") throws(EngineError) -> WorkflowRun {
        try Self.requireNamespace(namespace)
        guard !execution.workflowID.isEmpty else { throw .invalidArgument("\(field).workflow_id is not set") }
        let runID: String
        if execution.runID.isEmpty {
            guard let current = currentRuns[WorkflowKey(namespace: namespace, workflowID: execution.workflowID)] else {
                throw Self.executionNotFound(execution)
            }
            runID = current
        } else {
            runID = execution.runID
        }
        guard let run = runs[runID], run.ref.namespace == namespace, run.ref.workflowID == execution.workflowID else {
            throw Self.executionNotFound(execution)
        }
        return run
    }

    /// Temporal's server's words (its persistence layer's), which the CLI prints as they are.
    static func executionNotFound(_ execution: Temporal_Api_Common_V1_WorkflowExecution) -> EngineError {
        guard !execution.runID.isEmpty else {
            return EngineError(.notFound, "workflow not found for ID: \(execution.workflowID)")
        }
        return EngineError(.notFound,
            "workflow execution not found for workflow ID \(jsonString(execution.workflowID)) and run ID \(jsonString(execution.runID))")
    }

    package mutating func readHistory(_ request: GetHistoryRequest) throws(EngineError) -> HistoryRead {
        let run = try resolveRun(namespace: request.namespace, request.execution)
        guard request.maximumPageSize >= 0 else { throw .invalidArgument("maximum_page_size must not be negative") }
        let firstEventID = try HistoryPageToken.decode(request.nextPageToken, runID: run.ref.runID) ?? 1

        if request.historyEventFilterType == .closeEvent {
            if let close = closeEvent(run.ref.runID) {
                noteResultRead(run.ref.runID)
                return .page(.with { $0.history.events = [close] })
            }
            return request.waitNewEvent
                ? .waitForChange(runID: run.ref.runID, emptyPage: Self.emptyHistoryPage(from: firstEventID, of: run))
                : .page(GetHistoryResponse())
        }

        let available = max(0, Int(run.lastEventID - firstEventID + 1))
        if available == 0 && request.waitNewEvent && run.isOpen {
            return .waitForChange(runID: run.ref.runID, emptyPage: Self.emptyHistoryPage(from: firstEventID, of: run))
        }
        let pageSize = request.maximumPageSize > 0 ? Int(request.maximumPageSize) : Self.defaultHistoryPageSize
        let events = Array(self.events(run.ref.runID, from: firstEventID).prefix(pageSize))
        let nextEventID = firstEventID + Int64(events.count)
        // A long-polling reader of an open run always gets a token to wait on from.
        let more = nextEventID <= run.lastEventID || (request.waitNewEvent && run.isOpen)
        return .page(.with {
            $0.history.events = events
            if more { $0.nextPageToken = HistoryPageToken.encode(nextEventID: nextEventID, runID: run.ref.runID) }
        })
    }
}

extension EngineCore {
    /// A long poll's answer when nothing new came: no events, and a token to poll again from `nextEventID`.
    static func emptyHistoryPage(from nextEventID: Int64, of run: WorkflowRun) -> GetHistoryResponse {
        .with {
            $0.history = .init()
            $0.nextPageToken = HistoryPageToken.encode(nextEventID: nextEventID, runID: run.ref.runID)
        }
    }
}

/// `next_page_token` of a history read: the run and the next event id, as text.
enum HistoryPageToken {
    static func encode(nextEventID: Int64, runID: String) -> Data { Data("h/\(runID)/\(nextEventID)".utf8) }

    static func decode(_ data: Data, runID: String) throws(EngineError) -> Int64? {
        guard !data.isEmpty else { return nil }
        let parts = String(decoding: data, as: UTF8.self).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "h", let next = Int64(parts[2]), next > 0 else {
            throw .invalidArgument("next_page_token is malformed: it is not a token this server issued")
        }
        guard parts[1] == runID else {
            throw .invalidArgument("next_page_token belongs to a different run than execution.run_id")
        }
        return next
    }
}
