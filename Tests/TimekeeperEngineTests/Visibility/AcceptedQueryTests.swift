import Testing

@testable import TimekeeperEngine

/// A query the server accepts: the filter we make of it, and which sample records it matches, in order.
struct AcceptedQuery: CustomTestStringConvertible, Sendable {
    var query: String
    var filter: String
    var matches: [String]

    init(_ query: String, _ filter: String, _ matches: [String]) {
        self.query = query
        self.filter = filter
        self.matches = matches
    }

    var testDescription: String { query.isEmpty ? "(empty query)" : query }
}

/// Every visible sample in the default order: open first, then by CloseTime, newest first.
private let all = ["order-1", "payment-2", "Order-3", "payment-1", "order-2"]

let acceptedQueries: [AcceptedQuery] = [
    .init("", "true", all),
    .init("WorkflowType = 'OrderWorkflow' AND ExecutionStatus = 'Running'",
          "(and (= WorkflowType 'OrderWorkflow') (= ExecutionStatus 'Running'))", ["order-1"]),
    .init("WorkflowType = 'x' AND ExecutionStatus = 'Running' ORDER BY StartTime DESC",
          "(and (= WorkflowType 'x') (= ExecutionStatus 'Running')) order by StartTime desc", []),
    // AND binds tighter than OR; parentheses and NOT as in SQL.
    .init("WorkflowType = 'OrderWorkflow' OR WorkflowType = 'PaymentWorkflow' AND ExecutionStatus = 'Failed'",
          "(or (= WorkflowType 'OrderWorkflow') (and (= WorkflowType 'PaymentWorkflow') (= ExecutionStatus 'Failed')))",
          ["order-1", "Order-3", "payment-1", "order-2"]),
    .init("(WorkflowType = 'OrderWorkflow' OR WorkflowType = 'PaymentWorkflow') AND ExecutionStatus = 'Failed'",
          "(and (or (= WorkflowType 'OrderWorkflow') (= WorkflowType 'PaymentWorkflow')) (= ExecutionStatus 'Failed'))", ["payment-1"]),
    .init("NOT WorkflowType = 'OrderWorkflow' AND ExecutionStatus != 'Running'",
          "(and (not (= WorkflowType 'OrderWorkflow')) (!= ExecutionStatus 'Running'))", ["payment-2", "payment-1"]),
    .init("NOT NOT WorkflowId = 'order-1'", "(not (not (= WorkflowId 'order-1')))", ["order-1"]),
    .init("WorkflowType = 'OrderWorkflow' aNd ExecutionStatus = 'Running'",
          "(and (= WorkflowType 'OrderWorkflow') (= ExecutionStatus 'Running'))", ["order-1"]),
    .init("WorkflowId = 'order-1' && RunId = 'run-a' || WorkflowId = 'payment-1'",
          "(or (and (= WorkflowId 'order-1') (= RunId 'run-a')) (= WorkflowId 'payment-1'))", ["order-1", "payment-1"]),
    // ExecutionStatus: names, proto names and numbers; ordered by the enum's number.
    .init("ExecutionStatus IN ('Running', 'Completed')", "(in ExecutionStatus ('Running' 'Completed'))", ["order-1", "order-2"]),
    .init("ExecutionStatus NOT IN (1, 2)", "(not-in ExecutionStatus ('Running' 'Completed'))", ["payment-2", "Order-3", "payment-1"]),
    .init("ExecutionStatus = 'WORKFLOW_EXECUTION_STATUS_FAILED'", "(= ExecutionStatus 'Failed')", ["payment-1"]),
    .init("ExecutionStatus > 'Completed'", "(> ExecutionStatus 'Completed')", ["payment-2", "Order-3", "payment-1"]),
    .init("ExecutionStatus BETWEEN 'Failed' AND 'Terminated'", "(between ExecutionStatus 'Failed' 'Terminated')", ["Order-3", "payment-1"]),
    // Datetimes: RFC 3339 with offsets and fractions, or nanoseconds; BETWEEN is inclusive.
    .init("StartTime BETWEEN '2024-01-01T00:00:00Z' AND '2024-01-02T00:00:00Z'",
          "(between StartTime 2024-01-01T00:00:00Z 2024-01-02T00:00:00Z)", ["order-1", "order-2"]),
    .init("StartTime NOT BETWEEN '2024-01-01T00:00:00Z' AND '2024-01-02T00:00:00Z'",
          "(not-between StartTime 2024-01-01T00:00:00Z 2024-01-02T00:00:00Z)", ["payment-2", "Order-3", "payment-1"]),
    .init("StartTime >= '2024-01-03T00:00:00+01:00'", "(>= StartTime 2024-01-02T23:00:00Z)", ["Order-3", "payment-1"]),
    .init("StartTime < 1704067200000000000", "(< StartTime 2024-01-01T00:00:00Z)", ["payment-2"]),
    .init("StartTime > '2024-01-01T00:00:00.5Z'", "(> StartTime 2024-01-01T00:00:00.5Z)", ["order-1", "Order-3", "payment-1", "order-2"]),
    .init("CloseTime > '2024-01-03T00:00:00Z'", "(> CloseTime 2024-01-03T00:00:00Z)", ["payment-2", "Order-3", "payment-1"]),
    .init("CloseTime IS NULL", "(is-null CloseTime)", ["order-1"]),
    .init("CloseTime IS NOT NULL", "(is-not-null CloseTime)", ["payment-2", "Order-3", "payment-1", "order-2"]),
    // STARTS_WITH: a literal prefix (no LIKE wildcards), ASCII case ignored as on the dev server.
    .init("WorkflowId STARTS_WITH 'order'", "(starts_with WorkflowId 'order')", ["order-1", "Order-3", "order-2"]),
    .init("WorkflowId NOT STARTS_WITH 'order'", "(not-starts_with WorkflowId 'order')", ["payment-2", "payment-1"]),
    .init("WorkflowId STARTS_WITH 'order_'", "(starts_with WorkflowId 'order_')", []),
    // ExecutionDuration: Go durations, hh:mm:ss, or nanoseconds.
    .init("ExecutionDuration > '10m'", "(> ExecutionDuration 600000000000)", ["order-2"]),
    .init("ExecutionDuration <= '00:00:30'", "(<= ExecutionDuration 30000000000)", ["payment-1"]),
    .init("HistoryLength >= 11 AND HistoryLength < 20.5", "(and (>= HistoryLength 11) (< HistoryLength 20.5))", ["payment-1", "order-2"]),
    .init("HistoryLength > 1e1", "(> HistoryLength 10.0)", ["payment-1", "order-2"]),
    // Missing attributes are NULL: neither = nor != nor NOT matches them ...
    .init("CustomKeyword = 'alpha'", "(= CustomKeyword 'alpha')", ["order-1", "Order-3"]),
    .init("CustomKeyword != 'alpha'", "(!= CustomKeyword 'alpha')", ["order-2"]),
    .init("NOT (CustomKeyword = 'alpha')", "(not (= CustomKeyword 'alpha'))", ["order-2"]),
    .init("CustomKeyword IS NULL", "(is-null CustomKeyword)", ["payment-2", "payment-1"]),
    // ... except KeywordList and Text, which the server tests by full-text membership.
    .init("CustomKeywordList = 'RED'", "(= CustomKeywordList 'RED')", ["order-1"]),
    .init("CustomKeywordList != 'red'", "(!= CustomKeywordList 'red')", ["payment-2", "Order-3", "payment-1", "order-2"]),
    .init("CustomKeywordList IN ('blue', 'green')", "(in CustomKeywordList ('blue' 'green'))", ["order-1", "payment-1"]),
    .init("CustomText = 'fox'", "(= CustomText 'fox')", ["order-1"]),
    .init("CustomText = 'DOG cat'", "(= CustomText 'DOG cat')", ["payment-1"]),
    .init("CustomText = 'fox brown'", "(= CustomText 'fox brown')", ["order-1"]),
    .init("CustomText != 'fox'", "(!= CustomText 'fox')", ["payment-2", "Order-3", "payment-1", "order-2"]),
    .init("CustomBool = true", "(= CustomBool true)", ["order-1"]),
    .init("CustomBool != true", "(!= CustomBool true)", []),
    .init("CustomDouble > 2", "(> CustomDouble 2)", ["order-2"]),
    .init("CustomDouble > -1.5 AND HistoryLength > -1", "(and (> CustomDouble -1.5) (> HistoryLength -1))", ["order-2"]),
    .init("CustomDatetime = '2024-06-01T00:00:00Z'", "(= CustomDatetime 2024-06-01T00:00:00Z)", ["order-2"]),
    .init("ParentWorkflowId IS NOT NULL", "(is-not-null ParentWorkflowId)", ["payment-2"]),
    .init("TaskQueue = 'orders'", "(= TaskQueue 'orders')", ["order-1"]),
    // Executions in a namespace division show only when the query names TemporalNamespaceDivision.
    .init("TemporalNamespaceDivision = 'TemporalScheduler'", "(= TemporalNamespaceDivision 'TemporalScheduler')", ["sched-1"]),
    .init("TemporalNamespaceDivision IS NULL OR TemporalNamespaceDivision IS NOT NULL",
          "(or (is-null TemporalNamespaceDivision) (is-not-null TemporalNamespaceDivision))",
          ["order-1", "sched-1", "payment-2", "Order-3", "payment-1", "order-2"]),
    // Names: aliases, the Temporal prefix either way, backquotes; strings in either quote.
    .init("ScheduleId = 'order-1'", "(= WorkflowId 'order-1')", ["order-1"]),
    .init("TemporalWorkflowId = 'order-1'", "(= WorkflowId 'order-1')", ["order-1"]),
    .init("`WorkflowId` = 'order-1'", "(= WorkflowId 'order-1')", ["order-1"]),
    .init("ChangeVersion IS NULL", "(is-null TemporalChangeVersion)", all),
    .init("WorkflowId = \"payment-1\"", "(= WorkflowId 'payment-1')", ["payment-1"]),
    .init("WorkflowId = '''order-1'''", "(= WorkflowId 'order-1')", ["order-1"]),
    .init("WorkflowId IN ('order-1')", "(in WorkflowId ('order-1'))", ["order-1"]),
    .init("WorkflowId IS NULL", "(is-null WorkflowId)", []),
    .init("   WorkflowId = 'order-1' -- a comment", "(= WorkflowId 'order-1')", ["order-1"]),
    .init("WorkflowId = 'order-1' HAVING 1", "(= WorkflowId 'order-1')", ["order-1"]),
    // ORDER BY (Elasticsearch-style schema): missing values last, RunId breaks ties.
    .init("ORDER BY StartTime", "true order by StartTime asc", ["payment-2", "order-1", "order-2", "payment-1", "Order-3"]),
    .init("ORDER BY HistoryLength DESC, WorkflowId", "true order by HistoryLength desc, WorkflowId asc",
          ["payment-1", "order-2", "Order-3", "order-1", "payment-2"]),
    .init("CustomKeyword = 'alpha' ORDER BY WorkflowId DESC", "(= CustomKeyword 'alpha') order by WorkflowId desc", ["order-1", "Order-3"]),
    .init("ExecutionStatus = 'Running' GROUP BY ExecutionStatus", "(= ExecutionStatus 'Running') group by ExecutionStatus", ["order-1"]),
]

@Suite("Accepted queries")
struct AcceptedQueryTests {
    @Test("parses to the expected filter and matches the expected records", arguments: acceptedQueries)
    func accepted(_ entry: AcceptedQuery) throws {
        let filter = try ListFilter.parse(entry.query, schema: Sample.schema)
        #expect(filter.description == entry.filter)
        #expect(Sample.matches(filter) == entry.matches)
    }
}
