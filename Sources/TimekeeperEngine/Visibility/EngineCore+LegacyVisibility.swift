package import Foundation
internal import SwiftProtobuf
package import TemporalAPI

package typealias ListOpenRequest = Temporal_Api_Workflowservice_V1_ListOpenWorkflowExecutionsRequest
package typealias ListClosedRequest = Temporal_Api_Workflowservice_V1_ListClosedWorkflowExecutionsRequest

/// The older visibility calls, `ListOpenWorkflowExecutions` and `ListClosedWorkflowExecutions` (filters
/// instead of a query) and `ScanWorkflowExecutions` (a list in no particular order), answered by the list
/// query they stand for.
extension EngineCore {
    package mutating func listOpenWorkflows(_ request: ListOpenRequest) throws(EngineError) -> ListWorkflowsResponse {
        let filter: Filter? =
            switch request.filters {
            case .executionFilter(let execution)?: .execution(execution)
            case .typeFilter(let type)?: .type(type.name)
            case nil: nil
            }
        return try list(request.namespace, open: true, request.hasStartTimeFilter ? request.startTimeFilter : nil, filter,
                        pageSize: request.maximumPageSize, token: request.nextPageToken)
    }

    package mutating func listClosedWorkflows(_ request: ListClosedRequest) throws(EngineError) -> ListWorkflowsResponse {
        let filter: Filter? =
            switch request.filters {
            case .executionFilter(let execution)?: .execution(execution)
            case .typeFilter(let type)?: .type(type.name)
            case .statusFilter(let status)?: .status(status.status)
            case nil: nil
            }
        return try list(request.namespace, open: false, request.hasStartTimeFilter ? request.startTimeFilter : nil, filter,
                        pageSize: request.maximumPageSize, token: request.nextPageToken)
    }

    /// The one filter the older calls take besides the start time.
    private enum Filter {
        case execution(Temporal_Api_Filter_V1_WorkflowExecutionFilter)
        case type(String)
        case status(ExecutionStatus)
    }

    private mutating func list(
        _ namespace: String, open: Bool, _ startTime: Temporal_Api_Filter_V1_StartTimeFilter?, _ filter: Filter?,
        pageSize: Int32, token: Data
    ) throws(EngineError) -> ListWorkflowsResponse {
        var conditions = [open ? "ExecutionStatus = 'Running'" : "ExecutionStatus != 'Running'"]
        conditions += Self.conditions(startTime)
        switch filter {
        case .execution(let execution)?: conditions += Self.conditions(execution)
        case .type(let name)?: conditions.append("WorkflowType = \(Self.quoted(name))")
        case .status(let status)?:
            guard let name = ExecutionStatusName(rawValue: Int64(status.rawValue)), name != .unspecified else {
                throw .invalidArgument("status_filter.status \(status.rawValue) is not a workflow execution status")
            }
            conditions.append("ExecutionStatus = '\(name.name)'")
        case nil: break
        }
        return try listWorkflows(.with {
            $0.namespace = namespace
            $0.pageSize = pageSize
            $0.nextPageToken = token
            $0.query = conditions.joined(separator: " AND ")
        })
    }

    private static func conditions(_ filter: Temporal_Api_Filter_V1_StartTimeFilter?) -> [String] {
        guard let filter else { return [] }
        var conditions: [String] = []
        if filter.hasEarliestTime {
            conditions.append("StartTime >= '\(RFC3339.format(nanosecondsSinceEpoch: Instant(filter.earliestTime).nanosecondsSinceEpoch))'")
        }
        if filter.hasLatestTime {
            conditions.append("StartTime <= '\(RFC3339.format(nanosecondsSinceEpoch: Instant(filter.latestTime).nanosecondsSinceEpoch))'")
        }
        return conditions
    }

    private static func conditions(_ filter: Temporal_Api_Filter_V1_WorkflowExecutionFilter) -> [String] {
        var conditions = ["WorkflowId = \(quoted(filter.workflowID))"]
        if !filter.runID.isEmpty { conditions.append("RunId = \(quoted(filter.runID))") }
        return conditions
    }

    /// A string literal of the list-filter language (a quote inside is escaped).
    private static func quoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    /// `GetSearchAttributes`: the system attributes and those the namespace's runs carry, by type.
    package func searchAttributeTypes(namespace: String) -> [String: SearchAttributeType] {
        ListFilterSchema.systemAttributes.merging(customSearchAttributes(namespace: namespace)) { system, _ in system }
    }
}

extension SearchAttributeType {
    /// The API's name for the type.
    package var indexedValueType: Temporal_Api_Enums_V1_IndexedValueType {
        switch self {
        case .keyword: .keyword
        case .text: .text
        case .int: .int
        case .double: .double
        case .bool: .bool
        case .datetime: .datetime
        case .keywordList: .keywordList
        }
    }
}
