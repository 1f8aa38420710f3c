internal import GRPCCore
internal import Logging
internal import NIOCore
internal import NIOHPACK
internal import NIOHTTP2

/// Serves unary gRPC calls on one HTTP/2 connection straight from NIOHTTP2's frames.
///
/// Why not grpc-swift-2's server and transport: they give every RPC its own HTTP/2 stream channel, an
/// async writer for the response parts and a few tasks, which cost ~240 µs of CPU per call here, more than
/// the Java test server's whole call (profile in benchmarks/results/profile-burst-2026-11-25.md). Every
/// method Temporal's SDKs call is unary, so the connection keeps one small record per open stream instead:
/// the request's DATA is gathered until the client ends its side, decoded, and answered with
/// HEADERS + DATA + trailers. Methods that answer at once run right here on the event loop; the ones that
/// wait (long polls, sleeps) run in a task on the same loop, cancelled if the client resets the stream or
/// the connection goes.
///
/// Flow control is ours too (NIOHTTP2 only enforces it): the connection window is raised once to
/// `connectionWindow` and topped up as requests are read; each stream starts with `streamWindow` and is
/// topped up while a large request is still arriving.
final class GRPCConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// The largest request message we take by default, after inflating (gRPC's customary 4 MiB).
    static let defaultMessageLimit = 4 * 1024 * 1024
    static let streamWindow = 1024 * 1024
    static let connectionWindow = 16 * 1024 * 1024
    /// The settings the server announces. Hundreds of long polls share one SDK connection, so the stream
    /// limit is far above NIO's default of 100 (whose 101st stream would bring the connection down).
    static let settings: HTTP2Settings = [
        HTTP2Setting(parameter: .maxConcurrentStreams, value: 65_536),
        HTTP2Setting(parameter: .initialWindowSize, value: streamWindow),
        HTTP2Setting(parameter: .maxHeaderListSize, value: HPACKDecoder.defaultMaxHeaderListSize),
    ]

    private static let responseHeaders: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]
    private static let okTrailers: HPACKHeaders = ["grpc-status": "0"]
    private static let initialConnectionWindow = 65_535

    /// One request in progress.
    private final class Call {
        let path: String
        let headers: HPACKHeaders
        let encoding: Inflater.Format?
        var body = ByteBuffer()
        /// Bytes read since the stream's window was last topped up.
        var unacknowledged = 0
        /// The handler's task, for methods that wait.
        var task: Task<Void, Never>?

        init(path: String, headers: HPACKHeaders, encoding: Inflater.Format?) {
            self.path = path
            self.headers = headers
            self.encoding = encoding
        }
    }

    private let router: UnaryRouter
    private let logger: Logger
    private let messageLimit: Int
    private var calls: [HTTP2StreamID: Call] = [:]
    private var inflaters: [Inflater.Format: Inflater] = [:]
    private var connectionUnacknowledged = 0
    private var needsFlush = false
    private var windowRaised = false
    private var flushScheduled = false
    private var context: ChannelHandlerContext?
    private var executor: EventLoopTaskExecutor?

    init(router: UnaryRouter, logger: Logger, messageLimit: Int = defaultMessageLimit) {
        self.router = router
        self.logger = logger
        self.messageLimit = messageLimit
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        executor = EventLoopTaskExecutor(context.eventLoop)
        if context.channel.isActive { raiseConnectionWindow(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        raiseConnectionWindow(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        dropAllCalls()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        dropAllCalls()
        self.context = nil
    }

    /// The connection is gone: stop every waiting handler.
    private func dropAllCalls() {
        for call in calls.values { call.task?.cancel() }
        calls.removeAll()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let headers): receive(headers, on: frame.streamID, context: context)
        case .data(let data): receive(data, on: frame.streamID, context: context)
        case .rstStream: calls.removeValue(forKey: frame.streamID)?.task?.cancel()
        // SETTINGS, PING (NIOHTTP2 answers both), WINDOW_UPDATE, GOAWAY, PRIORITY: nothing for us to do.
        default: break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A stream that closes before we answered was reset or dropped: stop its handler.
        if let closed = event as? StreamClosedEvent { calls.removeValue(forKey: closed.streamID)?.task?.cancel() }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIOHTTP2 has already reset the stream or sent GOAWAY; the peer closes the connection after a GOAWAY.
        logger.debug("HTTP/2 error on a client connection", metadata: ["error": "\(error)"])
    }

    // MARK: Reading requests

    private func receive(_ frame: HTTP2Frame.FramePayload.Headers, on stream: HTTP2StreamID,
                         context: ChannelHandlerContext) {
        if calls[stream] != nil {
            // Trailers from a client: nothing in them for us, but they end its side of the stream.
            if frame.endStream { requestComplete(on: stream, context: context) }
            return
        }
        let fields = frame.headers
        guard let contentType = fields.first(name: "content-type"), Self.isGRPC(contentType) else {
            // Not a gRPC request (grpc-web included, whose framing differs): gRPC over HTTP/2 answers 415.
            write(stream, .headers(.init(headers: [":status": "415"], endStream: true)), context: context)
            resetIfOpen(stream, clientEnded: frame.endStream, context: context)
            return
        }
        var encoding: Inflater.Format?
        if let name = fields.first(name: "grpc-encoding"), name != "identity" {
            guard let format = Inflater.Format(grpcEncoding: name) else {
                var status = GRPCStatus(.unimplemented, "grpc-encoding \(name) is not supported (identity, gzip or deflate)")
                status.trailers.append((name: "grpc-accept-encoding", value: "identity,deflate,gzip"))
                answer(stream, with: status, context: context)
                resetIfOpen(stream, clientEnded: frame.endStream, context: context)
                return
            }
            encoding = format
        }
        calls[stream] = Call(path: fields.first(name: ":path") ?? "", headers: fields, encoding: encoding)
        if frame.endStream { requestComplete(on: stream, context: context) }
    }

    private func receive(_ frame: HTTP2Frame.FramePayload.Data, on stream: HTTP2StreamID,
                         context: ChannelHandlerContext) {
        guard case .byteBuffer(var bytes) = frame.data else { return }
        let length = bytes.readableBytes + (frame.paddingBytes.map { $0 + 1 } ?? 0)
        connectionUnacknowledged += length
        if connectionUnacknowledged >= Self.connectionWindow / 4 {
            write(.rootStream, .windowUpdate(windowSizeIncrement: connectionUnacknowledged), context: context)
            connectionUnacknowledged = 0
        }
        // Frames of a stream answered early (or unknown) are dropped.
        guard let call = calls[stream], call.task == nil else { return }
        if call.body.readableBytes == 0 {
            call.body = bytes
        } else {
            call.body.writeBuffer(&bytes)
        }
        guard call.body.readableBytes <= messageLimit + 5 else {
            calls[stream] = nil
            answer(stream, with: tooLarge(call.body.readableBytes - 5), context: context)
            resetIfOpen(stream, clientEnded: frame.endStream, context: context)
            return
        }
        if frame.endStream {
            requestComplete(on: stream, context: context)
        } else {
            call.unacknowledged += length
            if call.unacknowledged >= Self.streamWindow / 2 {
                write(stream, .windowUpdate(windowSizeIncrement: call.unacknowledged), context: context)
                call.unacknowledged = 0
            }
        }
    }

    /// "application/grpc", optionally with a message format ("+proto") or parameters (";…").
    private static func isGRPC(_ contentType: String) -> Bool {
        let base = "application/grpc"
        guard contentType.hasPrefix(base) else { return false }
        let rest = contentType.dropFirst(base.count)
        return rest.isEmpty || rest.hasPrefix("+") || rest.hasPrefix(";")
    }

    /// The client has sent its whole request: decode it and run the method.
    private func requestComplete(on stream: HTTP2StreamID, context: ChannelHandlerContext) {
        guard let call = calls[stream], call.task == nil else { return }
        guard let method = router.methods[call.path] else {
            calls[stream] = nil
            answer(stream, with: GRPCStatus(.unimplemented, "Method \(call.path.dropFirst()) is unimplemented"),
                   context: context)
            return
        }
        let message: ByteBuffer
        do {
            message = try unaryMessage(of: call, allocator: context.channel.allocator)
        } catch {
            calls[stream] = nil
            answer(stream, with: error, context: context)
            return
        }
        let headers = RequestHeaders(fields: call.headers)
        switch method {
        case .immediate(let handle):
            calls[stream] = nil
            respond(on: stream, with: Result { try handle(message, headers) }, context: context)
        case .suspending(let handle):
            guard let executor else { return }
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            let loop = context.eventLoop
            // The task starts on this loop after this read returns, so `call.task` is set before it runs.
            call.task = Task(executorPreference: executor) {
                let outcome: Result<[UInt8], any Error>
                do { outcome = .success(try await handle(message, headers)) } catch { outcome = .failure(error) }
                if loop.inEventLoop {
                    handler.value.finish(stream, with: outcome)
                } else {
                    loop.execute { handler.value.finish(stream, with: outcome) }
                }
            }
        }
    }

    /// The one length-prefixed message of a unary request, inflated if it came compressed.
    private func unaryMessage(of call: Call, allocator: ByteBufferAllocator) throws(GRPCStatus) -> ByteBuffer {
        var body = call.body
        guard let flag = body.readInteger(as: UInt8.self), let length = body.readInteger(as: UInt32.self) else {
            throw GRPCStatus(.internalError, "The request to \(call.path.dropFirst()) carries no message")
        }
        guard Int(length) <= messageLimit else { throw tooLarge(Int(length)) }
        guard let payload = body.readSlice(length: Int(length)) else {
            throw GRPCStatus(.internalError, "The request ends inside its message (\(length) bytes announced)")
        }
        guard body.readableBytes == 0 else {
            throw GRPCStatus(.internalError, "A unary request must carry one message; this one carries more")
        }
        switch flag {
        case 0:
            return payload
        case 1:
            guard let encoding = call.encoding else {
                throw GRPCStatus(.internalError, "A compressed message came without a grpc-encoding header")
            }
            do throws(Inflater.Failure) {
                // One inflate stream per encoding for the connection's life, reset for each message.
                let inflater: Inflater
                if let existing = inflaters[encoding] {
                    inflater = existing
                } else {
                    inflater = try Inflater(encoding)
                    inflaters[encoding] = inflater
                }
                var output = allocator.buffer(capacity: 4 * payload.readableBytes)
                _ = try inflater.inflate(payload, limit: messageLimit, appendingTo: &output)
                return output
            } catch {
                switch error {
                case .tooLarge: throw tooLarge(nil)
                case .corrupt(let reason): throw GRPCStatus(.internalError, "Could not decompress the request: \(reason)")
                }
            }
        default:
            throw GRPCStatus(.internalError, "Unknown message flag \(flag) (0 or 1 expected)")
        }
    }

    private func tooLarge(_ size: Int?) -> GRPCStatus {
        let what = size.map { "The request message (\($0) bytes)" } ?? "The inflated request message"
        return GRPCStatus(.resourceExhausted, "\(what) exceeds the limit of \(messageLimit) bytes")
    }

    // MARK: Writing responses

    /// A waiting method's task has an outcome: answer unless the client left meanwhile.
    private func finish(_ stream: HTTP2StreamID, with outcome: Result<[UInt8], any Error>) {
        guard let context, calls.removeValue(forKey: stream) != nil else { return }
        respond(on: stream, with: outcome, context: context)
        // One transaction often wakes several waiting calls (a burst's pollers), whose tasks then run one
        // after another on this loop: one flush after all of them, not a write system call each.
        guard !flushScheduled else { return }
        flushScheduled = true
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute { handler.value.flushScheduledWrites() }
    }

    private func flushScheduledWrites() {
        flushScheduled = false
        if let context { flushIfNeeded(context: context) }
    }

    private func respond(on stream: HTTP2StreamID, with outcome: Result<[UInt8], any Error>,
                         context: ChannelHandlerContext) {
        switch outcome {
        case .success(let message):
            var framed = context.channel.allocator.buffer(capacity: 5 + message.count)
            framed.writeInteger(UInt8(0))
            framed.writeInteger(UInt32(message.count))
            framed.writeBytes(message)
            write(stream, .headers(.init(headers: Self.responseHeaders)), context: context)
            write(stream, .data(.init(data: .byteBuffer(framed))), context: context)
            write(stream, .headers(.init(headers: Self.okTrailers, endStream: true)), context: context)
        case .failure(let error):
            answer(stream, with: error, context: context)
        }
    }

    /// Ends the stream with a status and no message (gRPC's trailers-only response).
    private func answer(_ stream: HTTP2StreamID, with error: any Error, context: ChannelHandlerContext) {
        write(stream, .headers(.init(headers: GRPCStatus(error).trailersOnlyHeaders, endStream: true)), context: context)
    }

    /// After answering a request the client is still sending, tell it to stop (RST_STREAM NO_ERROR, as
    /// HTTP/2 allows once the response is complete).
    private func resetIfOpen(_ stream: HTTP2StreamID, clientEnded: Bool, context: ChannelHandlerContext) {
        if !clientEnded { write(stream, .rstStream(.noError), context: context) }
    }

    private func raiseConnectionWindow(context: ChannelHandlerContext) {
        guard !windowRaised else { return }
        windowRaised = true
        write(.rootStream, .windowUpdate(windowSizeIncrement: Self.connectionWindow - Self.initialConnectionWindow),
              context: context)
        flushIfNeeded(context: context)
    }

    private func flushIfNeeded(context: ChannelHandlerContext) {
        guard needsFlush else { return }
        needsFlush = false
        context.flush()
    }

    private func write(_ stream: HTTP2StreamID, _ payload: HTTP2Frame.FramePayload, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: payload)), promise: nil)
        needsFlush = true
    }
}
