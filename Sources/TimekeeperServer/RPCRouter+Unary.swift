internal import GRPCCore
internal import GRPCProtobuf
internal import SwiftProtobuf
internal import TimekeeperEngine

extension RPCRouter {
    /// Registers a unary handler that speaks protobuf messages and turns `EngineError`s into gRPC statuses.
    mutating func registerUnary<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: MethodDescriptor,
        _ handler: @escaping @Sendable (Request, ServerContext, Metadata) async throws -> Response
    ) {
        registerHandler(
            forMethod: method,
            deserializer: ProtobufDeserializer<Request>(),
            serializer: ProtobufSerializer<Response>()
        ) { request, context in
            let single = try await ServerRequest(stream: request)
            do {
                let response = try await handler(single.message, context, single.metadata)
                return StreamingServerResponse(single: ServerResponse(message: response))
            } catch let error as EngineError {
                throw error.status
            }
        }
    }

    /// Registers every method of `service` that has no handler yet with one that answers UNIMPLEMENTED
    /// and names the method (the router's own default does not), without reading the request.
    mutating func registerUnimplemented(_ methods: [MethodDescriptor]) {
        for method in methods where !hasHandler(forMethod: method) {
            registerHandler(forMethod: method, deserializer: IgnoredMessage(), serializer: IgnoredMessage()) { _, _ in
                throw RPCError(code: .unimplemented, message: "Method \(method.fullyQualifiedMethod) is unimplemented")
            }
        }
    }
}

/// A placeholder message for methods whose requests are never read.
struct IgnoredMessage: MessageSerializer, MessageDeserializer {
    typealias Message = [UInt8]
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}

/// The client's deadline from the `grpc-timeout` header ("<digits><unit>"), if it sent one.
func clientTimeout(_ metadata: Metadata) -> Duration? {
    guard let value = metadata[stringValues: "grpc-timeout"].first(where: { _ in true }),
        let unit = value.last, let amount = Int64(value.dropLast())
    else { return nil }
    switch unit {
    case "H": return .seconds(amount * 3600)
    case "M": return .seconds(amount * 60)
    case "S": return .seconds(amount)
    case "m": return .milliseconds(amount)
    case "u": return .microseconds(amount)
    case "n": return .nanoseconds(amount)
    default: return nil
    }
}

/// How long a long poll may wait: the server's bound, or a little less than the client's deadline so that
/// the client gets an empty answer rather than DEADLINE_EXCEEDED.
func longPollTimeout(bound: Duration, metadata: Metadata) -> Duration {
    guard let client = clientTimeout(metadata) else { return bound }
    return max(.zero, min(bound, client - .milliseconds(500)))
}
