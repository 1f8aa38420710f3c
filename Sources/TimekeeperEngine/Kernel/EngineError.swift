/// An error the engine reports to a caller: a code that maps onto a gRPC status, a message that names
/// the field and the rule, and, where Temporal defines one, the structured detail SDKs decode.
package struct EngineError: Error, Sendable, CustomStringConvertible {
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        package static let invalidArgument = Code("invalid argument")
        package static let notFound = Code("not found")
        package static let alreadyExists = Code("already exists")
        package static let failedPrecondition = Code("failed precondition")
        package static let unimplemented = Code("unimplemented")
        package static let resourceExhausted = Code("resource exhausted")
        package static let permissionDenied = Code("permission denied")
        package static let deadlineExceeded = Code("deadline exceeded")
        package static let internalError = Code("internal")
        package var description: String { name }
    }

    /// Structured details Temporal attaches to some errors (`temporal.api.errordetails.v1`).
    package enum Detail: Sendable {
        case workflowExecutionAlreadyStarted(startRequestID: String, runID: String)
        case notFound(currentCluster: String, activeCluster: String)
        /// A refused multi-operation (update-with-start): each operation's status, in request order.
        case multiOperation([MultiOperationStatus])
    }

    package var code: Code
    package var message: String
    package var detail: Detail?

    package init(_ code: Code, _ message: String, detail: Detail? = nil) {
        self.code = code
        self.message = message
        self.detail = detail
    }

    package var description: String { "\(code): \(message)" }

    package static func invalidArgument(_ message: String) -> EngineError { EngineError(.invalidArgument, message) }
}
