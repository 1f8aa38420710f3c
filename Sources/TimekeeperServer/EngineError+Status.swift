internal import GRPCCore
internal import GRPCProtobuf
internal import SwiftProtobuf
internal import TemporalAPI
internal import TimekeeperEngine

extension EngineError {
    /// The gRPC status for this error, with the `temporal.api.errordetails.v1` detail SDKs decode.
    var status: any Error {
        let code: RPCError.Code =
            switch self.code {
            case .invalidArgument: .invalidArgument
            case .notFound: .notFound
            case .alreadyExists: .alreadyExists
            case .failedPrecondition: .failedPrecondition
            case .unimplemented: .unimplemented
            case .deadlineExceeded: .deadlineExceeded
            case .resourceExhausted: .resourceExhausted
            case .permissionDenied: .permissionDenied
            default: .internalError
            }
        guard let detail else { return RPCError(code: code, message: message) }
        let packed = Self.pack(detail)
        return GoogleRPCStatus(code: code, message: message, details: packed.map { [.any($0)] } ?? [])
    }

    /// The gRPC code's number, as a `google.rpc.Status` inside a detail carries it.
    private var grpcCodeNumber: Int32 {
        switch code {
        case .invalidArgument: 3
        case .deadlineExceeded: 4
        case .notFound: 5
        case .alreadyExists: 6
        case .permissionDenied: 7
        case .resourceExhausted: 8
        case .failedPrecondition: 9
        case .unimplemented: 12
        default: 13
        }
    }

    private static func pack(_ detail: Detail) -> Google_Protobuf_Any? {
        let packed: Google_Protobuf_Any?
        switch detail {
        case .workflowExecutionAlreadyStarted(let startRequestID, let runID):
            packed = try? Google_Protobuf_Any(
                message: Temporal_Api_Errordetails_V1_WorkflowExecutionAlreadyStartedFailure.with {
                    $0.startRequestID = startRequestID
                    $0.runID = runID
                })
        case .notFound(let current, let active):
            packed = try? Google_Protobuf_Any(
                message: Temporal_Api_Errordetails_V1_NotFoundFailure.with {
                    $0.currentCluster = current
                    $0.activeCluster = active
                })
        case .multiOperation(let statuses):
            // The failing operation's own status and detail; the other "aborted", as Temporal reports them.
            packed = try? Google_Protobuf_Any(
                message: Temporal_Api_Errordetails_V1_MultiOperationExecutionFailure.with {
                    $0.statuses = statuses.map { status in
                        switch status {
                        case .failed(let error):
                            .with {
                                $0.code = error.grpcCodeNumber
                                $0.message = error.message
                                if let inner = error.detail.flatMap(pack) { $0.details = [inner] }
                            }
                        case .aborted:
                            .with {
                                $0.code = 10
                                $0.message = "Operation was aborted."
                                if let aborted = try? Google_Protobuf_Any(message: Temporal_Api_Failure_V1_MultiOperationExecutionAborted()) {
                                    $0.details = [aborted]
                                }
                            }
                        }
                    }
                })
        }
        return packed
    }
}
