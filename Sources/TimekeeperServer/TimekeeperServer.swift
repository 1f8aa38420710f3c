internal import GRPCCore
internal import NIOPosix
package import Logging
internal import ServiceLifecycle
internal import SwiftProtobuf
internal import TemporalAPI
package import TimekeeperEngine

/// How to run a server: where to listen and how its clock behaves.
package struct ServerOptions: Sendable {
    package var host: String
    package var port: Int
    package var engine: EngineCore.Configuration
    /// Port of the web page, if one is wanted.
    package var uiPort: Int?
    /// Namespaces registered before the first call (the dev server's `--namespace`).
    package var namespaces: [String] = []
    /// Search attributes registered in "default" and those namespaces (the dev server's `--search-attribute`).
    package var searchAttributes: [String: SearchAttributeType] = [:]
    /// Claims the file of the store transitions are committed to and the engine goes on from (the dev
    /// server's `--db-filename`), given the barrier answers wait at (`ExecutionStore.durability`); called on
    /// the recovery thread while the server starts listening, which then opens it. `nil`: in memory.
    package var claimStore: (@Sendable (DurabilityBarrier) throws -> StoreClaim)?
    /// Whether a namespace must be registered (or named at start) to be served: NOT_FOUND otherwise, as
    /// on Temporal's servers. The test server serves any namespace, as Temporal's Java test server does.
    package var requiresRegisteredNamespaces = false

    package init(host: String, port: Int, engine: EngineCore.Configuration, uiPort: Int? = nil) {
        self.host = host
        self.port = port
        self.engine = engine
        self.uiPort = uiPort
    }
}

/// Runs the gRPC server (WorkflowService, OperatorService, TestService, Health) on top of one engine.
package enum TimekeeperServer {
    /// Serves until cancelled (a hard stop: connections are closed at once), until a graceful shutdown (run
    /// in a ServiceLifecycle `ServiceGroup`: every connection drains, see `GRPCListener.drain()`), or until
    /// the transport fails. `onListening` gets the bound port once it is known.
    package static func run(_ options: ServerOptions, logger: Logger, onListening: @Sendable (Int) -> Void = { _ in })
        async throws
    {
        // The server's own tasks (the clock task, the web page) and the engine's timers run on one event
        // loop; each connection is read, run and answered on its own loop, which is that same one unless
        // TIMEKEEPER_THREADS asks for more (see main.swift).
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let engine = Engine(configuration: options.engine, wall: EventLoopWallClock(loop: loop), logger: logger)
        let prepare: @Sendable (inout EngineCore, Instant) throws(EngineError) -> Void = { core, now throws(EngineError) in
            try register(options, in: &core, now: now)
        }
        let durability = options.claimStore.map { _ in DurabilityBarrier() }
        if let claimStore = options.claimStore, let durability {
            // Claimed, opened, read and rebuilt while the server starts listening; calls wait for what they need.
            engine.recoverInBackground(claiming: { try claimStore(durability) }, prepare: prepare) { error in
                logger.critical("the durable store cannot be served: \(error)")
                exit(1)
            }
        } else {
            try engine.prepare(prepare)
        }
        var router = UnaryRouter.allServices(engine: engine)
        if options.requiresRegisteredNamespaces {
            router.requireKnownNamespaces { engine.namespaceRecord($0).registered }
        }
        if let durability {
            router.waitForReadiness(engine.ready, storeClaimed: engine.storeClaimed,
                                   probeAnswered: engine.letRecoveryRead)
            router.durability = durability
        }
        let listener = try await GRPCListener.bind(
            host: options.host, port: options.port, router: router, on: MultiThreadedEventLoopGroup.singleton,
            logger: logger)
        try await withTaskExecutorPreference(EventLoopTaskExecutor(loop)) {
            try await withGracefulShutdownHandler {
                try await serve(listener: listener, engine: engine, options: options, logger: logger,
                                onListening: onListening)
            } onGracefulShutdown: {
                logger.notice("draining: no new connections; answering the calls in flight, then stopping")
                listener.drain()
            }
        }
    }

    /// What the command line asks to exist before the first call: namespaces and their search attributes.
    private static func register(_ options: ServerOptions, in core: inout EngineCore, now: Instant) throws(EngineError) {
        for namespace in options.namespaces where namespace != "default" && !core.namespaceRecord(namespace).registered {
            try core.registerNamespace(.with { $0.namespace = namespace }, wallNow: now)
        }
        guard !options.searchAttributes.isEmpty else { return }
        for namespace in Set(["default"] + options.namespaces) {
            try core.addSearchAttributes(.with {
                $0.namespace = namespace
                $0.searchAttributes = options.searchAttributes.mapValues(\.indexedValueType)
            }, wallNow: now)
        }
    }

    private static func serve(
        listener: GRPCListener, engine: Engine, options: ServerOptions, logger: Logger,
        onListening: @Sendable (Int) -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await listener.run() }
            group.addTask { await engine.runClock() }
            if let uiPort = options.uiPort {
                group.addTask {
                    try await WebServer.run(host: options.host, port: uiPort, engine: engine) { bound in
                        logger.notice("timekeeper web page at http://\(options.host):\(bound)/")
                    }
                }
            }
            if let bound = listener.port {
                logger.info("timekeeper listening on \(options.host):\(bound)")
                onListening(bound)
            }
            try await group.next()
            group.cancelAll()
        }
    }
}

/// The server as a ServiceLifecycle service, for a `ServiceGroup` that turns SIGTERM/SIGINT into a
/// graceful drain.
package struct TimekeeperService: Service {
    package let options: ServerOptions
    package let logger: Logger

    package init(options: ServerOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    package func run() async throws { try await TimekeeperServer.run(options, logger: logger) }
}

extension UnaryRouter {
    /// Every service the server serves over one engine (the server and the fuzz targets both build theirs
    /// here, so the two cannot drift apart).
    static func allServices(engine: Engine) -> UnaryRouter {
        UnaryRouter([
            WorkflowServiceHandlers(engine: engine),
            OperatorServiceHandlers(engine: engine),
            TestServiceHandlers(engine: engine),
            InspectionHandlers(engine: engine),
            HealthService(serviceNames: [
                Temporal_Api_Workflowservice_V1_WorkflowService.descriptor.fullyQualifiedService,
                Temporal_Api_Operatorservice_V1_OperatorService.descriptor.fullyQualifiedService,
                Temporal_Api_Testservice_V1_TestService.descriptor.fullyQualifiedService,
                Timekeeper_Inspection_V1_InspectionService.descriptor.fullyQualifiedService,
                Grpc_Health_V1_Health.descriptor.fullyQualifiedService,
            ]),
        ])
    }
}
