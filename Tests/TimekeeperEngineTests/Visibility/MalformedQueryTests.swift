import Testing

@testable import TimekeeperEngine

/// A query the server refuses: the code, the server's message, and where we say the offending token starts.
struct MalformedQuery: CustomTestStringConvertible, Sendable {
    var query: String
    var code: ListFilterError.Code
    var message: String
    var column: Int?
    var token: String?

    init(_ query: String, _ code: ListFilterError.Code, _ message: String, column: Int? = nil, token: String? = nil) {
        self.query = query
        self.code = code
        self.message = message
        self.column = column
        self.token = token
    }

    var testDescription: String { query }
}

private func syntax(_ query: String, _ position: Int, near token: String? = nil, column: Int) -> MalformedQuery {
    let message = "malformed SQL query: syntax error at position \(position)" + (token.map { " near '\($0)'" } ?? "")
    return MalformedQuery(query, .malformedQuery, message, column: column, token: token)
}

/// Every message below is the dev server's text (checked by the differential), except where marked.
/// Syntax positions are the server's: byte offset just past the token in "select * from table1 where <query>".
let malformedQueries: [MalformedQuery] = [
    syntax("WorkflowId = 'a' 'b'", 48, near: "b", column: 18),
    syntax("WorkflowId = 'a' AND", 48, column: 21),
    syntax("(WorkflowId = 'a'", 45, column: 18),
    syntax("WorkflowId IN ()", 44, column: 16),
    syntax("WorkflowId = 'unterminated", 54, near: "unterminated", column: 14),
    syntax("WorkflowId = 1abc", 42, near: "1", column: 14),
    syntax("WorkflowId = $", 42, near: "$", column: 14),
    syntax("NOT", 31, column: 4),
    syntax("   WorkflowId = 'a' AND", 48, column: 24),
    syntax("WorkflowId = 'é' AND", 49, column: 22),
    syntax("order by", 30, column: 9),
    syntax("WorkflowId = 'a'; x", 47, near: "x", column: 19),
    syntax("HistoryLength > 12.5.3", 50, near: ".3", column: 21),
    syntax("HistoryLength > --1", 47, column: 20),
    syntax("WorkflowId == 'a'", 41, column: 13),
    syntax("WorkflowId BETWEEN 'a' OR 'b'", 53, near: "or", column: 24),
    syntax("WorkflowId IS NOT", 45, column: 18),
    syntax("WorkflowId = 'a' ORDER StartTime", 60, near: "StartTime", column: 24),
    syntax("= 'a'", 29, column: 1),
    syntax("WorkflowId = 'a' AND OR RunId = 'b'", 51, near: "or", column: 22),
    syntax("WorkflowId = x'0'", 45, near: "0", column: 14),
    syntax("``= 'a'", 30, column: 1),
    syntax("group = 'a'", 33, near: "group", column: 1),
    syntax("WorkflowId = 'a' ORDER BY StartTime ASC DESC", 72, near: "desc", column: 41),
    syntax("WorkflowId = 'a' XOR RunId = 'b'", 48, near: "xor", column: 18),
    syntax("key = 'a'", 31, near: "key", column: 1),
    .init("Foo = 'a'", .invalidExpression, "invalid search attribute: Foo", column: 1, token: "Foo"),
    .init("WorkflowId = 'a' AND workflowType = 'c'", .invalidExpression, "invalid search attribute: workflowType", column: 22, token: "workflowType"),
    .init("a.b = 'x'", .invalidExpression, "invalid search attribute: a.b", column: 1, token: "a.b"),
    // MySQL's non-reserved words (status, text, date, mode, ...) are lower-cased unless backquoted.
    .init("Status = 'a'", .invalidExpression, "invalid search attribute: status", column: 1, token: "status"),
    .init("`Status` = 'a'", .invalidExpression, "invalid search attribute: Status", column: 1, token: "Status"),
    .init("WorkflowId", .invalidExpression, "invalid expression: incomplete expression", column: 1),
    .init("WorkflowId LIKE 'a%'", .notSupported, "operation is not supported: operator 'LIKE' not supported for Keyword type search attribute 'WorkflowId'"),
    .init("WorkflowId = abc", .notSupported, "operation is not supported: column name on the right side of comparison expression (did you forget to quote \"abc\"?)"),
    .init("WorkflowId = NULL", .invalidExpression, "invalid expression: unexpected value type *sqlparser.NullVal"),
    .init("lower(WorkflowId) = 'a'", .invalidExpression, "invalid expression: must be a column name but was *sqlparser.FuncExpr"),
    .init("HistoryLength = 1 + 2", .invalidExpression, "invalid expression: unexpected value type *sqlparser.BinaryExpr"),
    .init("HistoryLength > -(1)", .invalidExpression, "invalid expression: unary operator not supported in \"-(1)\""),
    .init("HistoryLength > ~1", .notSupported, "operation is not supported: unary operator \"~\""),
    .init("WorkflowId = true", .invalidExpression, "invalid expression: invalid value type for search attribute WorkflowId of type Keyword: true (type: bool)"),
    .init("CustomBool = 'true'", .invalidExpression, "invalid expression: invalid value type for search attribute CustomBool of type Bool: \"true\" (type: string)"),
    .init("StartTime > '2024-01-01'", .invalidExpression, "invalid expression: unable to parse datetime '2024-01-01'"),
    .init("CustomText BETWEEN 'a' AND 'b'", .invalidExpression, "invalid expression: cannot do range condition on search attribute 'CustomText' of type Text"),
    .init("WorkflowId IS TRUE", .invalidExpression, "invalid expression: 'IS' operator can only be used as 'IS NULL' or 'IS NOT NULL'"),
    .init("ExecutionStatus = 'running'", .invalidExpression, "invalid expression: invalid ExecutionStatus value 'running'"),
    .init("ExecutionStatus STARTS_WITH 'Running'", .invalidExpression,
          "invalid expression: right-hand side of \"starts_with\" operator must be a literal string (got: Running)"),
    .init("ExecutionDuration > 'PT1H'", .invalidExpression, "invalid expression: invalid duration value for search attribute ExecutionDuration: PT1H"),
    .init("HistoryLength STARTS_WITH 5", .notSupported, "operation is not supported: operator 'STARTS_WITH' not supported for Int type search attribute 'HistoryLength'"),
    .init("CustomText = '   '", .invalidExpression, "invalid expression: no tokens found filtering on Text type search attribute CustomText"),
    .init("CustomKeywordList > 'a'", .notSupported, "operation is not supported: operator '>' not supported for KeywordList type search attribute 'CustomKeywordList'"),
    .init("HistoryLength = 0x1F", .invalidExpression, "invalid expression: unable to parse value \"0x1F\"", column: 17),
    .init("WorkflowId = 'a' LIMIT 10", .notSupported, "operation is not supported: 'LIMIT' clause"),
    .init("WorkflowId = 'a' ORDER BY CustomText", .notSupported, "operation is not supported: unable to sort by search attribute type Text"),
    .init("WorkflowType = 'x' AND ExecutionStatus = 'Running' ORDER BY StartTime DESC", .notSupported, "operation is not supported: 'ORDER BY' clause"),
    .init("GROUP BY WorkflowType", .notSupported, "operation is not supported: 'GROUP BY' clause is not supported for search attribute WorkflowType"),
    .init("GROUP BY ExecutionStatus, WorkflowType", .notSupported, "operation is not supported: 'GROUP BY' clause supports only a single field"),
    // Ours: the dev server hands a tuple to SQLite here and the request times out.
    .init("WorkflowId = ('a', 'b')", .invalidExpression, "invalid expression: unexpected value type sqlparser.ValTuple"),
]

@Suite("Malformed queries")
struct MalformedQueryTests {
    @Test("is refused with the server's message, naming the position and token", arguments: malformedQueries)
    func refused(_ entry: MalformedQuery) {
        #expect(throws: ListFilterError(entry.code, entry.message, column: entry.column, token: entry.token)) {
            try ListFilter.parse(entry.query, schema: devServerSchema)
        }
    }

    @Test("the status message carries the server's prefix")
    func statusMessage() {
        let error = ListFilterError(.invalidExpression, "invalid search attribute: Foo")
        #expect(error.statusMessage == "invalid query: invalid search attribute: Foo")
    }
}
