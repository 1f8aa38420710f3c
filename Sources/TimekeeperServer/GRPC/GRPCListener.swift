internal import CMalloc
internal import Logging
internal import NIOCore
internal import NIOHTTP2
internal import NIOPosix
internal import Synchronization

/// The gRPC listening socket: each accepted connection gets NIOHTTP2's frame handler and a
/// `GRPCConnectionHandler` over the router.
struct GRPCListener: Sendable {
    /// Connections open at once; more are closed as soon as they are accepted (each holds a few file
    /// descriptors' worth of kernel buffers and up to `ConnectionLimits.bufferedBytes` of ours).
    static let maximumConnections = 2048

    private let channel: any Channel
    private let connections: Connections

    /// The port actually bound (useful when asked for port 0).
    var port: Int? { channel.localAddress?.port }

    /// Binds `host:port`; connections are spread over `group`'s loops (one loop unless TIMEKEEPER_THREADS
    /// asks for more), each served entirely on its own loop.
    static func bind(host: String, port: Int, router: UnaryRouter, on group: any EventLoopGroup, logger: Logger,
                     limits: ConnectionLimits = .standard) async throws -> GRPCListener
    {
        let connections = Connections()
        let channel = try await ServerBootstrap(group: group)
            // SDKs leave the port they picked in TIME_WAIT when they restart a test server on it.
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard connections.add(channel, limit: maximumConnections) else {
                    logger.warning("refused a connection: \(maximumConnections) are open already")
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    try addConnectionHandlers(to: channel.pipeline.syncOperations, router: router, logger: logger,
                                              limits: limits)
                }
            }
            .bind(host: host, port: port)
            .get()
        return GRPCListener(channel: channel, connections: connections)
    }

    /// A client connection's pipeline: NIOHTTP2's frame handler, then ours (the fuzz targets build theirs
    /// here too).
    static func addConnectionHandlers(to pipeline: ChannelPipeline.SynchronousOperations, router: UnaryRouter,
                                      logger: Logger, limits: ConnectionLimits = .standard) throws {
        try pipeline.addHandlers(
            NIOHTTP2Handler(mode: .server, initialSettings: limits.settings),
            GRPCConnectionHandler(router: router, logger: logger, limits: limits))
    }

    /// Serves until the listening socket closes (after `drain()`, once every connection has closed too),
    /// or until the task is cancelled (then stops listening and closes every connection at once).
    func run() async throws {
        try await withTaskCancellationHandler {
            try await channel.closeFuture.get()
            await connections.waitUntilAllClosed()
        } onCancel: {
            channel.close(promise: nil)
            connections.closeAll()
        }
    }

    /// A graceful stop: no new connections; each open one gets GOAWAY, answers its in-flight calls
    /// (waiting ones at once, empty) and closes. `run()` returns when all are closed.
    func drain() {
        channel.close(promise: nil)
        connections.drainAll()
    }

    /// The open client connections, so that stopping the server closes them too.
    private final class Connections: Sendable {
        private struct State {
            var open: [ObjectIdentifier: any Channel] = [:]
            var draining = false
            var whenEmpty: [CheckedContinuation<Void, Never>] = []
            /// The most connections open at once since memory was last given back.
            var peak = 0
            var trimScheduled = false
        }
        private let state = Mutex(State())

        /// Tracks `channel` unless `limit` are open already (or the server is draining).
        func add(_ channel: any Channel, limit: Int) -> Bool {
            let key = ObjectIdentifier(channel)
            let added = state.withLock { state in
                guard !state.draining, state.open.count < limit else { return false }
                state.open[key] = channel
                state.peak = max(state.peak, state.open.count)
                return true
            }
            guard added else { return false }
            channel.closeFuture.whenComplete { _ in
                let (waiters, trim) = self.state.withLock { state -> ([CheckedContinuation<Void, Never>], Bool) in
                    state.open.removeValue(forKey: key)
                    let trim = !state.trimScheduled && state.peak >= Self.loadPeak && state.open.count <= state.peak / 2
                    if trim { state.trimScheduled = true }
                    guard state.open.isEmpty else { return ([], trim) }
                    defer { state.whenEmpty = [] }
                    return (state.whenEmpty, trim)
                }
                // A second later: a load's connections close in a burst, and each frees its memory only
                // once its pipeline is gone.
                if trim { channel.eventLoop.scheduleTask(in: .seconds(1)) { self.giveBackFreedMemory() } }
                for waiter in waiters { waiter.resume() }
            }
            return true
        }

        /// Connections open at once that count as a load; when half of them have gone, freed memory is
        /// returned to the system. (glibc keeps what a load freed: after 200 connections × 20 streams the
        /// process stayed at its peak RSS, 65 MiB against 28 before, with nothing leaked.) Test suites open
        /// a connection or two at a time and never get here.
        static let loadPeak = 16

        private func giveBackFreedMemory() {
            state.withLock { state in
                state.trimScheduled = false
                state.peak = state.open.count
            }
            timekeeper_give_back_freed_memory()
        }

        func closeAll() {
            for channel in state.withLock({ Array($0.open.values) }) { channel.close(promise: nil) }
        }

        func drainAll() {
            let open = state.withLock { state in
                state.draining = true
                return Array(state.open.values)
            }
            for channel in open { channel.pipeline.fireUserInboundEventTriggered(DrainEvent()) }
        }

        func waitUntilAllClosed() async {
            await withCheckedContinuation { continuation in
                let done = state.withLock { state in
                    if state.open.isEmpty { return true }
                    state.whenEmpty.append(continuation)
                    return false
                }
                if done { continuation.resume() }
            }
        }
    }
}
