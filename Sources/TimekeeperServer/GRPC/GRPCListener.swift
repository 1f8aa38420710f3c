internal import Logging
internal import NIOCore
internal import NIOHTTP2
internal import NIOPosix

/// The gRPC listening socket: each accepted connection gets NIOHTTP2's frame handler and a
/// `GRPCConnectionHandler` over the router.
struct GRPCListener {
    private let channel: any Channel

    /// The port actually bound (useful when asked for port 0).
    var port: Int? { channel.localAddress?.port }

    /// Binds `host:port` on `loop`; every connection is served on that loop.
    static func bind(host: String, port: Int, router: UnaryRouter, on loop: any EventLoop, logger: Logger)
        async throws -> GRPCListener
    {
        let channel = try await ServerBootstrap(group: loop)
            // SDKs leave the port they picked in TIME_WAIT when they restart a test server on it.
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        NIOHTTP2Handler(mode: .server, initialSettings: GRPCConnectionHandler.settings),
                        GRPCConnectionHandler(router: router, logger: logger))
                }
            }
            .bind(host: host, port: port)
            .get()
        return GRPCListener(channel: channel)
    }

    /// Serves until the task is cancelled (then stops accepting) or the socket fails.
    func run() async throws {
        try await withTaskCancellationHandler {
            try await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }
}
