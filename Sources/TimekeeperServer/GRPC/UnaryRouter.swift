internal import GRPCCore
internal import NIOCore
internal import NIOHPACK
internal import SwiftProtobuf
internal import TimekeeperEngine

/// A service whose methods are all unary: it adds one handler per method to the router.
protocol UnaryService {
    func register(with router: inout UnaryRouter)
}

/// One method's handler, from request bytes to response bytes. Most methods answer at once and run on the
/// event loop inside the read of their request; the ones that wait (long polls, sleeps) get a task.
enum UnaryMethod: Sendable {
    case immediate(@Sendable (ByteBuffer, RequestHeaders) throws -> [UInt8])
    case suspending(@Sendable (ByteBuffer, RequestHeaders) async throws -> [UInt8])
    /// Immediate once the gate is open; until then it waits for it in a task (see `waitForReadiness`).
    case gated(ReadinessGate, @Sendable (ByteBuffer, RequestHeaders) throws -> [UInt8])

    /// What to run now: a gated method is immediate once its gate is open.
    var resolved: UnaryMethod {
        guard case .gated(let gate, let handler) = self else { return self }
        if gate.isOpen { return .immediate(handler) }
        return .suspending { bytes, headers in
            await gate.opened()
            return try handler(bytes, headers)
        }
    }
}

/// The server's method table, keyed by the HTTP/2 `:path` ("/package.Service/Method").
struct UnaryRouter: Sendable {
    private(set) var methods: [String: UnaryMethod] = [:]
    /// Per method, how to find its request's `namespace` field (see `NamespaceGate`); asked only when a
    /// gate is set up, so that the test server's start-up does not pay for it.
    private(set) var namespaceFieldProbes: [String: @Sendable () -> Int?] = [:]
    /// A store that commits behind the engine: every answer waits here until what it was made from is
    /// committed (see `DurabilityBarrier`). `nil` in test mode, whose store commits in place.
    var durability: DurabilityBarrier?

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

    /// Methods that need the engine wait for `gate` (a durable store being read in the background) without
    /// holding the event loop; `GetSystemInfo` and health checks, which need no engine, only wait for the
    /// store's file to be claimed (`storeClaimed`, a system call), so that a server that cannot have its
    /// file never says it is up; each of their answers calls `probeAnswered`.
    mutating func waitForReadiness(_ gate: ReadinessGate, storeClaimed: ReadinessGate,
                                   probeAnswered: @escaping @Sendable () -> Void = {}) {
        let needNoEngine: Set<String> = [
            "/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo", "/grpc.health.v1.Health/Check",
        ]
        for (path, var method) in methods {
            let probe = needNoEngine.contains(path)
            if probe, case .immediate(let handler) = method {
                method = .immediate { bytes, headers in
                    defer { probeAnswered() }
                    return try handler(bytes, headers)
                }
            }
            let gate = probe ? storeClaimed : gate
            switch method {
            case .immediate(let handler): methods[path] = .gated(gate, handler)
            case .suspending(let handler):
                methods[path] = .suspending { bytes, headers in
                    await gate.opened()
                    return try await handler(bytes, headers)
                }
            case .gated: break
            }
        }
    }

    private static func path(_ method: MethodDescriptor) -> String { "/" + method.fullyQualifiedMethod }

    private static func decode<Request: SwiftProtobuf.Message>(_ bytes: ByteBuffer) throws -> Request {
        do {
            return try Request(serializedBytes: Array(bytes.readableBytesView))
        } catch {
            throw RPCError(code: .internalError, message: "Could not decode \(Request.protoMessageName): \(error)")
        }
    }
}
