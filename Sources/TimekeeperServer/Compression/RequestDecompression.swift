internal import NIOCore
internal import NIOHPACK
internal import NIOHTTP2

/// Inflates gzip/deflate request messages before the gRPC transport sees them, and keeps responses
/// uncompressed.
///
/// Why not the transport's own gzip: grpc-swift-nio-transport 2.9.2 drops a stream's decompressor without
/// `inflateEnd` when the stream reaches "client closed, server closed" (`ClientClosedServerClosedState`
/// keeps only the compressor), which is how every unary RPC ends. Each gzip request — the Python SDK sends
/// them all gzipped — leaked zlib's ~7 KiB inflate state: 28 KiB per one-activity workflow, most of the
/// server's growth (heaptrack: 57 MiB of 78 MiB left after 2,000 workflows). Here each stream owns an
/// `Inflater` that is ended when the handler goes, and the transport runs with compression off.
///
/// With compression off the transport also never compresses responses, which is what Temporal's servers
/// do; compressing our mostly small responses cost CPU on both sides.
///
/// The handler sits first in each HTTP/2 stream's pipeline. When the request headers name gzip or deflate
/// it removes `grpc-encoding` and rewrites every length-prefixed message of the DATA frames as an
/// uncompressed one. A message that does not inflate, or inflates past the request limit, ends the stream
/// with a gRPC status (INTERNAL / RESOURCE_EXHAUSTED) naming the problem; other encodings pass through for
/// the transport to refuse.
final class RequestDecompression: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private enum State {
        case awaitingHeaders
        case passingThrough
        case inflating(Inflater, pending: ByteBuffer)
        case failed
    }

    /// The largest request message, after inflating, that we accept: the transport's own limit.
    let messageLimit: Int
    private var state = State.awaitingHeaders

    init(messageLimit: Int) {
        self.messageLimit = messageLimit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch (state, frame) {
        case (.awaitingHeaders, .headers(var headers)):
            headers.headers.remove(name: "grpc-accept-encoding")
            state = .passingThrough
            if let encoding = headers.headers.first(name: "grpc-encoding"),
                let format = Inflater.Format(grpcEncoding: encoding)
            {
                do {
                    state = .inflating(try Inflater(format), pending: context.channel.allocator.buffer(capacity: 0))
                    headers.headers.remove(name: "grpc-encoding")
                } catch {
                    fail(context: context, status: 13, message: "Could not decompress the request: \(error)")
                    return
                }
            }
            context.fireChannelRead(wrapInboundOut(.headers(headers)))

        case (.inflating(let inflater, var pending), .data(var data)):
            guard case .byteBuffer(var bytes) = data.data else {
                context.fireChannelRead(data: data)
                return
            }
            state = .failed  // while `pending` is borrowed; restored below
            if pending.readableBytes == 0 {
                pending = bytes  // the usual case: whole messages in one frame, nothing to copy
            } else {
                pending.writeBuffer(&bytes)
            }
            var messages = context.channel.allocator.buffer(capacity: pending.readableBytes)
            do throws(Inflater.Failure) {
                try rewrite(&pending, with: inflater, into: &messages)
            } catch {
                switch error {
                case .tooLarge(let limit):
                    fail(context: context, status: 8,
                         message: "Request message larger than the limit of \(limit) bytes once decompressed")
                case .corrupt(let reason):
                    fail(context: context, status: 13, message: "Could not decompress the request: \(reason)")
                }
                return
            }
            if data.endStream {
                // A truncated last message goes on as it came, for the transport to report.
                messages.writeBuffer(&pending)
            }
            if pending.readableBytes > 0 { pending.discardReadBytes() }  // part of a message waits
            state = .inflating(inflater, pending: pending)
            data.data = .byteBuffer(messages)
            context.fireChannelRead(data: data)

        case (.failed, _):
            return  // the stream has been answered; drop the rest of the request

        default:
            context.fireChannelRead(data)
        }
    }

    /// Moves every complete length-prefixed message out of `pending` into `output`, inflating the
    /// compressed ones; an incomplete message stays in `pending` for the next DATA frame.
    private func rewrite(_ pending: inout ByteBuffer, with inflater: Inflater, into output: inout ByteBuffer)
        throws(Inflater.Failure)
    {
        while let flag = pending.getInteger(at: pending.readerIndex, as: UInt8.self),
            let length = pending.getInteger(at: pending.readerIndex + 1, as: UInt32.self)
        {
            guard Int(length) <= messageLimit else { throw .tooLarge(limit: messageLimit) }
            guard pending.readableBytes >= 5 + Int(length) else { return }
            pending.moveReaderIndex(forwardBy: 5)
            let message = pending.readSlice(length: Int(length))!
            guard flag == 1 else {
                // Uncompressed (or a flag the transport will reject): forwarded as it came.
                output.writeInteger(flag)
                output.writeInteger(length)
                output.writeImmutableBuffer(message)
                continue
            }
            output.writeInteger(UInt8(0))
            let lengthIndex = output.writerIndex
            output.writeInteger(UInt32(0))
            let inflated = try inflater.inflate(message, limit: messageLimit, appendingTo: &output)
            output.setInteger(UInt32(inflated), at: lengthIndex)
        }
    }

    /// Answers the stream with a trailers-only gRPC status (8 RESOURCE_EXHAUSTED, 13 INTERNAL) and stops
    /// reading it.
    private func fail(context: ChannelHandlerContext, status: Int, message: String) {
        state = .failed
        let trailers: HPACKHeaders = [
            ":status": "200", "content-type": "application/grpc", "grpc-status": "\(status)",
            "grpc-message": Self.percentEncoded(message),
        ]
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: trailers, endStream: true))), promise: nil)
        context.close(promise: nil)
    }

    /// gRPC's grpc-message encoding: printable ASCII except '%' as is, every other byte as %XX.
    static func percentEncoded(_ message: String) -> String {
        var encoded = ""
        for byte in message.utf8 {
            if (0x20...0x7E).contains(byte) && byte != UInt8(ascii: "%") {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                encoded += byte < 0x10 ? "%0\(hex)" : "%\(hex)"
            }
        }
        return encoded
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .failed = state {
            promise?.fail(ChannelError.ioOnClosedChannel)  // the transport's late answer to a failed stream
            return
        }
        context.write(data, promise: promise)
    }

    /// The transport's per-stream callback that installs it.
    static func installer(messageLimit: Int) -> @Sendable (any Channel) -> EventLoopFuture<Void> {
        { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    RequestDecompression(messageLimit: messageLimit), position: .first)
            }
        }
    }
}

extension ChannelHandlerContext {
    fileprivate func fireChannelRead(data: HTTP2Frame.FramePayload.Data) {
        fireChannelRead(NIOAny(HTTP2Frame.FramePayload.data(data)))
    }
}
