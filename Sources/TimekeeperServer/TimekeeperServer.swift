internal import GRPCCore
internal import GRPCNIOTransportHTTP2
internal import NIOPosix
package import Logging
internal import TemporalAPI
package import TimekeeperEngine

/// How to run a server: where to listen and how its clock behaves.
package struct ServerOptions: Sendable {
    package var host: String
    package var port: Int
    package var engine: EngineCore.Configuration
    /// Port of the web page, if one is wanted.
    package var uiPort: Int?

    package init(host: String, port: Int, engine: EngineCore.Configuration, uiPort: Int? = nil) {
        self.host = host
        self.port = port
        self.engine = engine
        self.uiPort = uiPort
    }
}

/// Runs the gRPC server (WorkflowService, OperatorService, TestService, Health) on top of one engine.
package enum TimekeeperServer {
    /// Serves until cancelled or the transport fails. `onListening` gets the bound port once it is known.
    package static func run(_ options: ServerOptions, logger: Logger, onListening: @Sendable (Int) -> Void = { _ in })
        async throws
    {
        let engine = Engine(configuration: options.engine, logger: logger)
        let address: GRPCNIOTransportCore.SocketAddress =
            options.host.contains(":") ? .ipv6(host: options.host, port: options.port)
            : .ipv4(host: options.host, port: options.port)
        // SO_REUSEADDR is set by the transport: SDKs leave the port they picked in TIME_WAIT.
        let transport = HTTP2ServerTransport.Posix(
            address: address, transportSecurity: .plaintext,
            config: .defaults {
                // SDK clients ping every 30 s (Temporal's Rust core), long polls or not; the default policy
                // (no pings more often than every 5 minutes) counts those as strikes and closes the connection.
                $0.connection.keepalive.clientBehavior = .init(
                    minPingIntervalWithoutCalls: .seconds(1), allowWithoutCalls: true)
                // A worker plus a client awaiting many results keep hundreds of long polls open on one
                // connection. Left unset, the limit is not advertised but NIO still enforces 100, and the
                // client's 101st stream brings the whole connection down.
                $0.http2.maxConcurrentStreams = 65_536
                // The transport delays each flush by up to 100 µs to batch writes. An SDK's calls are mostly
                // one at a time (long polls, a task completion, the next poll), so the delay only added a
                // timer, a second wake-up and 100 µs to every round trip.
                $0.connection.flushCoalescing = nil
                // Compression stays off in the transport: gzip requests are inflated by our own handler
                // (see RequestDecompression for the leak this avoids), responses go uncompressed.
                $0.channelDebuggingCallbacks.onAcceptHTTP2Stream =
                    RequestDecompression.installer(messageLimit: $0.rpc.maxRequestPayloadSize)
            })
        let services: [any RegistrableRPCService] = [
            WorkflowServiceHandlers(engine: engine),
            OperatorServiceHandlers(),
            TestServiceHandlers(engine: engine),
            InspectionHandlers(engine: engine),
            HealthService(serviceNames: [
                Temporal_Api_Workflowservice_V1_WorkflowService.descriptor.fullyQualifiedService,
                Temporal_Api_Operatorservice_V1_OperatorService.descriptor.fullyQualifiedService,
                Temporal_Api_Testservice_V1_TestService.descriptor.fullyQualifiedService,
                Timekeeper_Inspection_V1_InspectionService.descriptor.fullyQualifiedService,
                Grpc_Health_V1_Health.descriptor.fullyQualifiedService,
            ]),
        ]
        let server = GRPCServer(transport: transport, services: services)

        let executor = EventLoopTaskExecutor(MultiThreadedEventLoopGroup.singleton.next())
        try await withTaskExecutorPreference(executor) {
            try await serve(server: server, transport: transport, engine: engine, options: options, logger: logger,
                            onListening: onListening)
        }
    }

    private static func serve(
        server: GRPCServer<HTTP2ServerTransport.Posix>, transport: HTTP2ServerTransport.Posix, engine: Engine,
        options: ServerOptions, logger: Logger, onListening: @Sendable (Int) -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            group.addTask { await engine.runClock() }
            if let uiPort = options.uiPort {
                group.addTask {
                    try await WebServer.run(host: options.host, port: uiPort, engine: engine) { bound in
                        logger.notice("timekeeper web page at http://\(options.host):\(bound)/")
                    }
                }
            }
            let listening = try await transport.listeningAddress
            if let bound = listening.ipv4?.port ?? listening.ipv6?.port {
                logger.info("timekeeper listening on \(options.host):\(bound)")
                onListening(bound)
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
