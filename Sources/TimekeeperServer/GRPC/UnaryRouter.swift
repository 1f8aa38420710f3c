internal import GRPCCore
internal import NIOCore
internal import NIOHPACK
internal import SwiftProtobuf

/// A service whose methods are all unary: it adds one handler per method to the router.
protocol UnaryService {
    func register(with router: inout UnaryRouter)
}

/// One method's handler, from request bytes to response bytes. Most methods answer at once and run on the
/// event loop inside the read of their request; the ones that wait (long polls, sleeps) get a task.
enum UnaryMethod: Sendable {
    case immediate(@Sendable (ByteBuffer, RequestHeaders) throws -> [UInt8])
    case suspending(@Sendable (ByteBuffer, RequestHeaders) async throws -> [UInt8])
}

/// The server's method table, keyed by the HTTP/2 `:path` ("/package.Service/Method").
struct UnaryRouter: Sendable {
    private(set) var methods: [String: UnaryMethod] = [:]
    /// Per method, how to find its request's `namespace` field (see `NamespaceGate`); asked only when a
    /// gate is set up, so that the test server's start-up does not pay for it.
    private(set) var namespaceFieldProbes: [String: @Sendable () -> Int?] = [:]

    init(_ services: [any UnaryService]) {
        for service in services { service.register(with: &self) }
    }

    /// A handler that answers without waiting.
    mutating func registerUnary<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: MethodDescriptor, _ handler: @escaping @Sendable (Request, RequestHeaders) throws -> Response
    ) {
        methods[Self.path(method)] = .immediate { bytes, headers in
            try handler(try Self.decode(bytes), headers).serializedBytes()
        }
        namespaceFieldProbes[Self.path(method)] = { NamespaceGate.fieldNumber(of: Request.self) }
    }

    /// A handler that may wait (a long poll or a sleep); it runs in a task of its own, cancelled when the
    /// client resets the stream or goes away.
    mutating func registerSuspending<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: MethodDescriptor, _ handler: @escaping @Sendable (Request, RequestHeaders) async throws -> Response
    ) {
        methods[Self.path(method)] = .suspending { bytes, headers in
            try await handler(try Self.decode(bytes), headers).serializedBytes()
        }
        namespaceFieldProbes[Self.path(method)] = { NamespaceGate.fieldNumber(of: Request.self) }
    }

    mutating func setMethod(_ path: String, _ method: UnaryMethod) { methods[path] = method }

    private static func path(_ method: MethodDescriptor) -> String { "/" + method.fullyQualifiedMethod }

    private static func decode<Request: SwiftProtobuf.Message>(_ bytes: ByteBuffer) throws -> Request {
        do {
            return try Request(serializedBytes: Array(bytes.readableBytesView))
        } catch {
            throw RPCError(code: .internalError, message: "Could not decode \(Request.protoMessageName): \(error)")
        }
    }
}
