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
        }
        return GoogleRPCStatus(code: code, message: message, details: packed.map { [.any($0)] } ?? [])
    }
}
