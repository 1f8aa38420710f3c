/// Why a list filter was refused: a code callers can switch on, the message Temporal's server sends
/// for the same query, and where in the caller's query the offending token starts.
///
/// `message` reproduces the server's text (what `temporal workflow list --query` prints after
/// "invalid query: "), so SDK tests that assert on it see the same words. Its "at position N" is the
/// server's number: a 1-based byte offset just past the offending token inside the statement the
/// server really parses (`select * from table1 where ` + the trimmed query). `column` is the
/// friendlier number: the 1-based byte column of the offending token's first byte in the query as the
/// caller passed it.
package struct ListFilterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure; new codes can be added without breaking callers.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The text is not in the grammar (the server's "malformed SQL query").
        package static let malformedQuery = Code("malformed query")
        /// Well-formed, but names an unknown attribute or a value the attribute's type cannot hold.
        package static let invalidExpression = Code("invalid expression")
        /// Well-formed and meaningful SQL that the visibility store does not support (LIKE, LIMIT, ...).
        package static let notSupported = Code("not supported")
        package var description: String { name }
    }

    package var code: Code
    /// The server's message, without the "invalid query: " prefix the gRPC status adds.
    package var message: String
    /// 1-based byte column in the caller's query where the offending token starts, when known.
    package var column: Int?
    /// The offending token as the server names it (keywords lower-cased, strings unquoted), or nil at
    /// the end of the input and for operators, which the server does not name either.
    package var token: String?

    package init(_ code: Code, _ message: String, column: Int? = nil, token: String? = nil) {
        self.code = code
        self.message = message
        self.column = column
        self.token = token
    }

    /// The text of the gRPC INVALID_ARGUMENT status the server answers with.
    package var statusMessage: String { "invalid query: \(message)" }

    package var description: String { "\(code): \(message)" }

    static func invalid(_ message: String, at column: Int? = nil) -> ListFilterError {
        ListFilterError(.invalidExpression, "invalid expression: \(message)", column: column)
    }

    static func notSupported(_ message: String, at column: Int? = nil) -> ListFilterError {
        ListFilterError(.notSupported, "operation is not supported: \(message)", column: column)
    }
}
