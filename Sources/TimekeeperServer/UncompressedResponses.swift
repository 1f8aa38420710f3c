internal import NIOCore
internal import NIOHPACK
internal import NIOHTTP2

/// Keeps responses uncompressed while requests may be gzip-compressed.
///
/// The transport compresses responses whenever the client advertises an algorithm that is enabled, and
/// enabling gzip is what lets us accept the Python SDK's gzip requests. Temporal's servers answer
/// uncompressed; compressing every response cost us CPU on both sides for responses that are mostly
/// small. This handler, first in each HTTP/2 stream's pipeline, drops the request's
/// `grpc-accept-encoding` so that the transport picks no response compression.
final class UncompressedResponses: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .headers(var headers) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        headers.headers.remove(name: "grpc-accept-encoding")
        context.fireChannelRead(wrapInboundOut(.headers(headers)))
    }

    /// The transport's per-stream callback that installs it.
    static let install: @Sendable (any Channel) -> EventLoopFuture<Void> = { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(UncompressedResponses(), position: .first)
        }
    }
}
