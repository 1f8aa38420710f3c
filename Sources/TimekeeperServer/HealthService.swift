internal import SwiftProtobuf
internal import GRPCCore
internal import TemporalAPI

/// `grpc.health.v1.Health`: SERVING for the whole server and for each service it hosts. Only `Check`:
/// `Watch` streams, and SDKs never call it (it answers UNIMPLEMENTED).
struct HealthService: UnaryService {
    let serviceNames: Set<String>

    private func status(for service: String) throws -> Grpc_Health_V1_HealthCheckResponse {
        guard service.isEmpty || serviceNames.contains(service) else {
            throw RPCError(code: .notFound, message: "service \(service) is not served here")
        }
        return .with { $0.status = .serving }
    }

    func register(with router: inout UnaryRouter) {
        let health = self
        router.registerUnary(Grpc_Health_V1_Health.Method.Check.descriptor) {
            (request: Grpc_Health_V1_HealthCheckRequest, _) in
            try health.status(for: request.service)
        }
    }
}
