internal import Foundation
internal import SwiftProtobuf
package import TemporalAPI

package typealias ListWorkflowsRequest = Temporal_Api_Workflowservice_V1_ListWorkflowExecutionsRequest
package typealias ListWorkflowsResponse = Temporal_Api_Workflowservice_V1_ListWorkflowExecutionsResponse
package typealias CountWorkflowsRequest = Temporal_Api_Workflowservice_V1_CountWorkflowExecutionsRequest
package typealias CountWorkflowsResponse = Temporal_Api_Workflowservice_V1_CountWorkflowExecutionsResponse

/// Visibility: `ListWorkflowExecutions` and `CountWorkflowExecutions` over the runs of a namespace, with
/// Temporal's list-filter language (`ListFilter`). A projection read from run state and history on
/// demand: it never changes anything, and nothing on the correctness path reads it.
///
/// Custom search attributes are typed by what runs carry: the SDKs send each with its type in the
/// payload's `type` metadata, and the test server, like Temporal's Java test server, registers none up
/// front, so a query may name any attribute some run of the namespace carries.
extension EngineCore {
    static let defaultListPageSize = 1000

    package mutating func listWorkflows(_ request: ListWorkflowsRequest) throws(EngineError) -> ListWorkflowsResponse {
        try Self.requireNamespace(request.namespace)
        guard request.pageSize >= 0 else { throw .invalidArgument("page_size must not be negative") }
        let offset = try Self.listOffset(request.nextPageToken)
        let (filter, listed) = try matchingRecords(namespace: request.namespace, query: request.query, forCount: false)
        let ordered = filter.sorted(listed)
        let pageSize = request.pageSize > 0 ? Int(request.pageSize) : Self.defaultListPageSize
        let page = ordered.dropFirst(offset).prefix(pageSize)
        return .with {
            $0.executions = page.compactMap { record in
                guard case .string(let runID)? = record["RunId"], let run = runs[runID] else { return nil }
                return executionInfo(run)
            }
            if offset + page.count < ordered.count {
                $0.nextPageToken = Data("v/\(offset + page.count)".utf8)
            }
        }
    }

    package mutating func countWorkflows(_ request: CountWorkflowsRequest) throws(EngineError) -> CountWorkflowsResponse {
        try Self.requireNamespace(request.namespace)
        let (filter, counted) = try matchingRecords(namespace: request.namespace, query: request.query, forCount: true)
        return .with {
            $0.count = Int64(counted.count)
            guard !filter.groupBy.isEmpty else { return }
            var groups: [[SearchAttributeValue?]: Int64] = [:]
            var order: [[SearchAttributeValue?]] = []
            for record in counted {
                let key = filter.groupBy.map { record[$0.name] }
                if groups[key] == nil { order.append(key) }
                groups[key, default: 0] += 1
            }
            $0.groups = order.map { key in
                .with { group in
                    group.groupValues = key.map { Self.payload($0) }
                    group.count = groups[key] ?? 0
                }
            }
        }
    }

    /// A query parsed against the namespace's attributes.
    func listFilter(namespace: String, query: String) throws(ListFilterError) -> ListFilter {
        let schema = ListFilterSchema(customAttributes: customSearchAttributes(namespace: namespace), allowsOrderBy: true)
        return try ListFilter.parse(query, schema: schema)
    }

    /// The records of a namespace's runs a query matches, and the parsed filter.
    mutating func matchingRecords(namespace: String, query: String, forCount: Bool) throws(EngineError)
        -> (ListFilter, [VisibilityRecord])
    {
        let filter: ListFilter
        do throws(ListFilterError) {
            filter = try listFilter(namespace: namespace, query: query)
        } catch {
            throw .invalidArgument("invalid query: \(error.message)")
        }
        if !forCount && !filter.groupBy.isEmpty {
            throw .invalidArgument("invalid query: 'group by' clause is only supported in count query")
        }
        refreshVisibility()
        let records = visibility.records[namespace] ?? [:]
        guard let candidates = visibility.candidates(namespace: namespace, filter.predicate) else {
            return (filter, records.values.filter { filter.matches($0) })
        }
        return (filter, candidates.compactMap { records[$0] }.filter { filter.matches($0) })
    }

    /// What visibility knows of a run, by the attribute names queries use (`customValues` from
    /// `searchAttributes(of:)`).
    func visibilityRecord(_ run: WorkflowRun, customValues: [String: SearchAttributeValue]) -> VisibilityRecord {
        var record = VisibilityRecord([
            "WorkflowId": .string(run.ref.workflowID),
            "RunId": .string(run.ref.runID),
            "WorkflowType": .string(run.workflowType),
            "ExecutionStatus": .string((ExecutionStatusName(run.status) ?? .unspecified).name),
            "StartTime": .datetime(run.startedAt.nanosecondsSinceEpoch),
            "ExecutionTime": .datetime((run.startedAt + run.backoff).nanosecondsSinceEpoch),
            "TaskQueue": .string(run.taskQueue),
            "HistoryLength": .int(run.lastEventID),
            "RootWorkflowId": .string(run.ref.workflowID),
            "RootRunId": .string(run.ref.runID),
        ])
        if let closedAt = run.closedAt {
            record["CloseTime"] = .datetime(closedAt.nanosecondsSinceEpoch)
            record["ExecutionDuration"] = .int((closedAt - (run.startedAt + run.backoff)).nanoseconds)
        }
        for (name, value) in customValues { record[name] = value }
        return record
    }

    /// The run's custom search attributes as its start and its upserts left them, each with its registered
    /// type, else the type its payload names (`type` metadata); values of neither, or that do not decode as
    /// their type, are left out.
    func searchAttributes(of runID: String) -> (types: [String: SearchAttributeType], values: [String: SearchAttributeValue]) {
        let fields = memoAndSearchAttributes(runID).searchAttributes  // one fold of start and upserts, as Describe's
        // A registered attribute is read as its type, as Temporal's servers read it; others as the payload says.
        let registered = runs[runID].flatMap { registeredSearchAttributes[$0.ref.namespace] } ?? [:]
        let types = Self.declaredTypes(fields).merging(registered.filter { fields[$0.key] != nil }) { _, registered in registered }
        var values: [String: SearchAttributeValue] = [:]
        for (name, type) in types {
            if let data = fields[name]?.data, let value = Self.decode(data, as: type) { values[name] = value }  // an empty upsert removes it
        }
        return (types, values)
    }

    static func decode(_ data: Data, as type: SearchAttributeType) -> SearchAttributeValue? {
        guard let json = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else { return nil }
        // SDKs' older untyped API sends every value as a list ([true], [5]); Temporal's server reads a list of
        // a scalar type's values (`DecodeValue` with lists allowed), and so does this one: every element
        // must be of the type, and the first is the value.
        if type != .keywordList, let list = json as? [Any] {
            let values = list.map { value($0, as: type) }
            guard let first = values.first, values.allSatisfy({ $0 != nil }) else { return nil }
            return first
        }
        return value(json, as: type)
    }

    private static func value(_ json: Any, as type: SearchAttributeType) -> SearchAttributeValue? {
        switch (type, json) {
        case (.keyword, let text as String), (.text, let text as String): return .string(text)
        case (.keywordList, let list as [Any]): return .strings(list.compactMap { $0 as? String })
        case (.keywordList, let text as String): return .strings([text])
        case (.bool, let number as NSNumber): return .bool(number.boolValue)
        case (.int, let number as NSNumber): return .int(number.int64Value)
        case (.double, let number as NSNumber): return .double(number.doubleValue)
        case (.datetime, let text as String): return RFC3339.parse(text).map { .datetime($0) }
        default: return nil
        }
    }

    /// A group value as the server sends it: a JSON payload.
    private static func payload(_ value: SearchAttributeValue?) -> Temporal_Api_Common_V1_Payload {
        let json: String
        switch value {
        case .string(let text)?: json = Self.jsonString(text)
        case .strings(let list)?: json = "[" + list.map(Self.jsonString).joined(separator: ",") + "]"
        case .int(let number)?: json = String(number)
        case .double(let number)?: json = String(number)
        case .bool(let flag)?: json = String(flag)
        case .datetime(let nanos)?: json = Self.jsonString(RFC3339.format(nanosecondsSinceEpoch: nanos))
        case nil: json = "null"
        }
        return .with {
            $0.metadata["encoding"] = Data("json/plain".utf8)
            $0.data = Data(json.utf8)
        }
    }

    static func jsonString(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed])) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private static func listOffset(_ token: Data) throws(EngineError) -> Int {
        guard !token.isEmpty else { return 0 }
        let text = String(decoding: token, as: UTF8.self)
        guard text.hasPrefix("v/"), let offset = Int(text.dropFirst(2)), offset >= 0 else {
            throw .invalidArgument("next_page_token is malformed: it is not a token this server issued")
        }
        return offset
    }
}

extension ExecutionStatusName {
    /// The name of a run's status (nil for a number the proto does not know). Here rather than beside the
    /// enum, which needs nothing but the standard library.
    package init?(_ status: ExecutionStatus) { self.init(rawValue: Int64(status.rawValue)) }
}
