import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
import TimekeeperEngine
@testable import TimekeeperServer

/// The whole server in-process on a loopback port: stopping it closes the connections it accepted.
@Suite struct TimekeeperServerLifecycleTests {
    @Test func cancellingTheServerClosesItsClientConnections() async throws {
        let bound = Mutex<Int?>(nil)
        let options = ServerOptions(host: "127.0.0.1", port: 0,
                                    engine: .init(skipsTime: true, startsLocked: true))
        let server = Task {
            try await TimekeeperServer.run(options, logger: Logger(label: "test")) { port in
                bound.withLock { $0 = port }
            }
        }
        var port: Int?
        for _ in 0..<5000 where port == nil {
            port = bound.withLock { $0 }
            if port == nil { try await Task.sleep(for: .milliseconds(1)) }
        }
        let listening = try #require(port)

        let firstBytes = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FirstRead(promise: firstBytes))
                }
            }
            .connect(host: "127.0.0.1", port: listening).get()
        // The server's HTTP/2 SETTINGS arrive once it has accepted the connection and set it up.
        try await firstBytes.futureResult.get()
        #expect(client.isActive)
        server.cancel()
        _ = await server.result
        // The server closes its side: the client's channel ends without the client closing it. (After 5 s the
        // test closes it itself, and fails.)
        let gaveUp = Flag()
        let timer = client.eventLoop.scheduleTask(in: .seconds(5)) {
            gaveUp.set()
            client.close(promise: nil)
        }
        try? await client.closeFuture.get()
        timer.cancel()
        #expect(!gaveUp.isSet, "the server left the connection open")
        #expect(!client.isActive)
    }

    private final class Flag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    /// Completes its promise when the first bytes arrive.
    private final class FirstRead: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<Void>
        init(promise: EventLoopPromise<Void>) { self.promise = promise }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { promise.succeed() }
    }
}
