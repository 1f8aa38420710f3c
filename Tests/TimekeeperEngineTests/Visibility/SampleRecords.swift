@testable import TimekeeperEngine

/// A handful of executions covering every attribute type, for the table tests. The `sched-1` run
/// belongs to a namespace division, so only queries naming TemporalNamespaceDivision see it.
enum Sample {
    /// Custom attributes like the dev server's in the differential, with ORDER BY allowed
    /// (Elasticsearch-style), so ORDER BY entries can be checked.
    static let schema = ListFilterSchema(customAttributes: devServerSchema.customAttributes, allowsOrderBy: true)

    static func time(_ text: String) -> SearchAttributeValue {
        guard let nanos = RFC3339.parse(text) else { fatalError("bad sample time \(text)") }
        return .datetime(nanos)
    }

    static let records: [VisibilityRecord] = [
        VisibilityRecord([
            "WorkflowId": .string("order-1"), "RunId": .string("run-a"), "WorkflowType": .string("OrderWorkflow"),
            "ExecutionStatus": .string("Running"), "StartTime": time("2024-01-01T10:00:00Z"), "TaskQueue": .string("orders"),
            "CustomKeyword": .string("alpha"), "CustomInt": .int(5), "CustomText": .string("the quick brown fox"),
            "CustomKeywordList": .strings(["red", "green"]), "CustomBool": .bool(true),
        ]),
        VisibilityRecord([
            "WorkflowId": .string("order-2"), "RunId": .string("run-b"), "WorkflowType": .string("OrderWorkflow"),
            "ExecutionStatus": .string("Completed"), "StartTime": time("2024-01-02T00:00:00Z"),
            "CloseTime": time("2024-01-02T01:00:00Z"), "ExecutionDuration": .int(3_600_000_000_000), "HistoryLength": .int(11),
            "CustomKeyword": .string("beta"), "CustomDouble": .double(2.5), "CustomDatetime": time("2024-06-01T00:00:00Z"),
        ]),
        VisibilityRecord([
            "WorkflowId": .string("payment-1"), "RunId": .string("run-c"), "WorkflowType": .string("PaymentWorkflow"),
            "ExecutionStatus": .string("Failed"), "StartTime": time("2024-01-03T00:00:00Z"),
            "CloseTime": time("2024-01-03T00:00:30Z"), "ExecutionDuration": .int(30_000_000_000), "HistoryLength": .int(20),
            "CustomKeywordList": .strings(["blue"]), "CustomText": .string("Lazy dog"),
        ]),
        VisibilityRecord([
            "WorkflowId": .string("payment-2"), "RunId": .string("run-d"), "WorkflowType": .string("PaymentWorkflow"),
            "ExecutionStatus": .string("TimedOut"), "StartTime": time("2023-12-31T00:00:00Z"),
            "CloseTime": time("2024-01-05T00:00:00Z"), "ParentWorkflowId": .string("order-1"),
        ]),
        VisibilityRecord([
            "WorkflowId": .string("Order-3"), "RunId": .string("run-f"), "WorkflowType": .string("OrderWorkflow"),
            "ExecutionStatus": .string("Terminated"), "StartTime": time("2024-01-04T00:00:00Z"),
            "CloseTime": time("2024-01-04T00:10:00Z"), "CustomKeyword": .string("alpha"),
        ]),
        VisibilityRecord([
            "WorkflowId": .string("sched-1"), "RunId": .string("run-e"), "WorkflowType": .string("ScheduleWorkflow"),
            "ExecutionStatus": .string("Running"), "StartTime": time("2024-01-01T00:00:00Z"),
            "TemporalNamespaceDivision": .string("TemporalScheduler"),
        ]),
    ]

    /// The workflow ids of the records a filter matches, in the filter's order.
    static func matches(_ filter: ListFilter) -> [String] {
        filter.sorted(records.filter(filter.matches)).map { record in
            if case .string(let id) = record["WorkflowId"] { return id }
            return "?"
        }
    }
}
