internal import Logging
internal import NIOCore
internal import NIOHTTP2
internal import NIOPosix
internal import Synchronization

/// The gRPC listening socket: each accepted connection gets NIOHTTP2's frame handler and a
/// `GRPCConnectionHandler` over the router.
struct GRPCListener {
    private let channel: any Channel
    private let connections: Connections

    /// The port actually bound (useful when asked for port 0).
    var port: Int? { channel.localAddress?.port }

    /// Binds `host:port`; connections are spread over `group`'s loops (one loop unless TIMEKEEPER_THREADS
    /// asks for more), each served entirely on its own loop.
    static func bind(host: String, port: Int, router: UnaryRouter, on group: any EventLoopGroup, logger: Logger)
        async throws -> GRPCListener
    {
        let connections = Connections()
        let channel = try await ServerBootstrap(group: group)
            // SDKs leave the port they picked in TIME_WAIT when they restart a test server on it.
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        NIOHTTP2Handler(mode: .server, initialSettings: GRPCConnectionHandler.settings),
                        GRPCConnectionHandler(router: router, logger: logger))
                }
            }
            .bind(host: host, port: port)
            .get()
        return GRPCListener(channel: channel, connections: connections)
    }

    /// Serves until the task is cancelled (then stops listening and closes every connection) or the socket
    /// fails.
    func run() async throws {
        try await withTaskCancellationHandler {
            try await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
            connections.closeAll()
        }
    }

    /// The open client connections, so that stopping the server closes them too.
    private final class Connections: Sendable {
        private let open = Mutex<[ObjectIdentifier: any Channel]>([:])

        func add(_ channel: any Channel) {
            let key = ObjectIdentifier(channel)
            open.withLock { $0[key] = channel }
            channel.closeFuture.whenComplete { _ in _ = self.open.withLock { $0.removeValue(forKey: key) } }
        }

        func closeAll() {
            for channel in open.withLock({ Array($0.values) }) { channel.close(promise: nil) }
        }
    }
}
