internal import SwiftProtobuf
internal import GRPCCore
internal import GRPCProtobuf
internal import TemporalAPI

/// `grpc.health.v1.Health`: SERVING for the whole server and for each service it hosts.
struct HealthService: RegistrableRPCService {
    let serviceNames: Set<String>

    private func status(for service: String) throws -> Grpc_Health_V1_HealthCheckResponse {
        guard service.isEmpty || serviceNames.contains(service) else {
            throw RPCError(code: .notFound, message: "service \(service) is not served here")
        }
        return .with { $0.status = .serving }
    }

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let health = self
        router.registerUnary(Grpc_Health_V1_Health.Method.Check.descriptor) {
            (request: Grpc_Health_V1_HealthCheckRequest, _, _) in
            try health.status(for: request.service)
        }
        router.registerHandler(
            forMethod: Grpc_Health_V1_Health.Method.Watch.descriptor,
            deserializer: ProtobufDeserializer<Grpc_Health_V1_HealthCheckRequest>(),
            serializer: ProtobufSerializer<Grpc_Health_V1_HealthCheckResponse>()
        ) { request, _ in
            let single = try await ServerRequest(stream: request)
            let status: Grpc_Health_V1_HealthCheckResponse =
                (try? health.status(for: single.message.service)) ?? .with { $0.status = .serviceUnknown }
            return StreamingServerResponse { writer in
                try await writer.write(status)
                // The status never changes while we run: hold the stream open until the client leaves.
                while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
                return [:]
            }
        }
    }
}
