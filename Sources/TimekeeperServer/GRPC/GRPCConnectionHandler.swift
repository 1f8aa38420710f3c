internal import GRPCCore
internal import Logging
internal import NIOCore
internal import NIOHPACK
internal import NIOHTTP2
internal import TimekeeperEngine

/// Serves unary gRPC calls on one HTTP/2 connection straight from NIOHTTP2's frames.
///
/// Why not grpc-swift-2's server and transport: they give every RPC its own HTTP/2 stream channel, an
/// async writer for the response parts and a few tasks, which cost ~240 µs of CPU per call here, more than
/// the Java test server's whole call (profile in Benchmarks/Servers/results/profile-burst-2026-11-25.md). Every
/// method Temporal's SDKs call is unary, so the connection keeps one small record per open stream instead:
/// the request's DATA is gathered until the client ends its side, decoded, and answered with
/// HEADERS + DATA + trailers. Methods that answer at once run right here on the event loop; the ones that
/// wait (long polls, sleeps) run in a task on the same loop, cancelled if the client resets the stream or
/// the connection goes.
///
/// Everything a client sends is untrusted: `ConnectionLimits` bounds what a connection may hold, and the
/// upkeep timer (`GRPCConnectionHandler+Upkeep.swift`) ends silent requests, overdue calls, dead peers and
/// graceful drains.
///
/// Flow control is ours too (NIOHTTP2 only enforces it): the connection window is raised once to
/// `ConnectionLimits.connectionWindow` and topped up from NIOHTTP2's own count of what it has left (which
/// includes DATA it dropped for streams already reset, frames we never see); each stream starts with
/// `ConnectionLimits.streamWindow` and is topped up while a large request is still arriving.
final class GRPCConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private static let responseHeaders: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]
    private static let okTrailers: HPACKHeaders = ["grpc-status": "0"]
    private static let initialConnectionWindow = 65_535

    /// One request in progress.
    final class Call {
        let path: String
        let headers: HPACKHeaders
        let encoding: Inflater.Format?
        /// The client's `grpc-timeout`, and when it runs out (counted from the headers' arrival).
        let timeout: Duration?
        let deadline: NIODeadline?
        var body = ByteBuffer()
        /// Request bytes this call holds against the connection's `bufferedBytes` limit, until it is gone.
        var heldBytes = 0
        /// Whether the client has sent the whole request.
        var complete = false
        /// How long the client has sent nothing on this unfinished request (advanced by the upkeep timer).
        var idle: TimeAmount = .zero
        /// Bytes read since the stream's window was last topped up.
        var unacknowledged = 0
        /// The handler's task, for methods that wait.
        var task: Task<Void, Never>?

        init(path: String, headers: HPACKHeaders, encoding: Inflater.Format?, timeout: Duration?,
             deadline: NIODeadline?) {
            self.path = path
            self.headers = headers
            self.encoding = encoding
            self.timeout = timeout
            self.deadline = deadline
        }
    }

    let router: UnaryRouter
    let logger: Logger
    let limits: ConnectionLimits
    var calls: [HTTP2StreamID: Call] = [:]
    /// The sum of every call's `heldBytes`.
    var bufferedBytes = 0
    /// The newest stream a request arrived on (the last stream id of a drain's GOAWAY).
    var newestStream = HTTP2StreamID(0)
    var inflaters: [Inflater.Format: Inflater] = [:]
    var needsFlush = false
    var windowRaised = false
    var flushScheduled = false
    var context: ChannelHandlerContext?
    var executor: EventLoopTaskExecutor?
    /// Upkeep state (see `GRPCConnectionHandler+Upkeep.swift`).
    var upkeep = Upkeep()

    init(router: UnaryRouter, logger: Logger, limits: ConnectionLimits = .standard) {
        self.router = router
        self.logger = logger
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        executor = EventLoopTaskExecutor(context.eventLoop)
        if context.channel.isActive { connectionStarted(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        connectionStarted(context: context)
    }

    private func connectionStarted(context: ChannelHandlerContext) {
        raiseConnectionWindow(context: context)
        startUpkeep(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopUpkeep()
        dropAllCalls()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopUpkeep()
        dropAllCalls()
        self.context = nil
    }

    /// The connection is gone: stop every waiting handler.
    private func dropAllCalls() {
        for call in calls.values { call.task?.cancel() }
        calls.removeAll()
        bufferedBytes = 0
    }

    /// Forgets a call, giving back the bytes it held. Every removal goes through here.
    @discardableResult
    func removeCall(_ stream: HTTP2StreamID) -> Call? {
        guard let call = calls.removeValue(forKey: stream) else { return nil }
        bufferedBytes -= call.heldBytes
        return call
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        upkeep.heardFromPeer = true
        switch frame.payload {
        case .headers(let headers): receive(headers, on: frame.streamID, context: context)
        case .data(let data): receive(data, on: frame.streamID, context: context)
        case .rstStream: removeCall(frame.streamID)?.task?.cancel()
        // SETTINGS, PING (NIOHTTP2 answers both), WINDOW_UPDATE, GOAWAY, PRIORITY: nothing for us to do.
        default: break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded(context: context)
        closeIfDrained(context: context)
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let window = event as? NIOHTTP2WindowUpdatedEvent {
            if window.streamID == .rootStream, let left = window.inboundWindowSize { topUpConnectionWindow(left, context: context) }
            context.fireUserInboundEventTriggered(event)
            return
        }
        // A stream that closes before we answered was reset or dropped: stop its handler.
        if let closed = event as? StreamClosedEvent { removeCall(closed.streamID)?.task?.cancel() }
        if event is DrainEvent {
            beginDrain(context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIOHTTP2 has already reset the stream (a stream error) or written GOAWAY (a connection error). After
        // a connection error nothing more can be served: close, rather than trust the peer to.
        if error is NIOHTTP2Errors.StreamError {
            logger.debug("HTTP/2 stream error on a client connection", metadata: ["error": "\(error)"])
            return
        }
        logger.debug("HTTP/2 connection error; closing the connection", metadata: ["error": "\(error)"])
        flushIfNeeded(context: context)
        context.close(promise: nil)
    }

    // MARK: Reading requests

    private func receive(_ frame: HTTP2Frame.FramePayload.Headers, on stream: HTTP2StreamID,
                         context: ChannelHandlerContext) {
        if let call = calls[stream] {
            // Trailers from a client: nothing in them for us, but they end its side of the stream.
            if frame.endStream && !call.complete { requestComplete(on: stream, context: context) }
            return
        }
        let fields = frame.headers
        if let refusal = Self.refusal(of: fields) {
            write(stream, .headers(.init(headers: refusal, endStream: true)), context: context)
            resetIfOpen(stream, clientEnded: frame.endStream, context: context)
            return
        }
        var encoding: Inflater.Format?
        if let name = fields.first(name: "grpc-encoding"), name != "identity" {
            guard let format = Inflater.Format(grpcEncoding: name) else {
                var status = GRPCStatus(.unimplemented, "grpc-encoding \(name) is not supported (identity, gzip or deflate)")
                status.trailers.append((name: "grpc-accept-encoding", value: "identity,deflate,gzip"))
                answerEarly(stream, with: status, clientEnded: frame.endStream, context: context)
                return
            }
            encoding = format
        }
        var timeout: Duration?
        var deadline: NIODeadline?
        if let value = fields.first(name: "grpc-timeout") {
            do throws(GRPCStatus) {
                let parsed = try GRPCTimeout.parse(value)
                timeout = parsed
                deadline = context.eventLoop.now + .nanoseconds(parsed.nanoseconds)  // at most ~11,000 years: no overflow
            } catch {
                answerEarly(stream, with: error, clientEnded: frame.endStream, context: context)
                return
            }
        }
        if stream > newestStream { newestStream = stream }
        calls[stream] = Call(path: fields.first(name: ":path") ?? "", headers: fields, encoding: encoding,
                             timeout: timeout, deadline: deadline)
        if frame.endStream { requestComplete(on: stream, context: context) }
    }

    /// HTTP-level refusals, as grpc-go (Temporal's server) answers them: a method other than POST is 405
    /// with grpc-status INTERNAL, a content type that is not gRPC (grpc-web included, whose framing
    /// differs) 415 with INVALID_ARGUMENT.
    private static func refusal(of fields: HPACKHeaders) -> HPACKHeaders? {
        let method = fields.first(name: ":method") ?? ""
        let (status, code, message): (String, String, String)
        if method != "POST" {
            (status, code, message) = ("405", "13", "gRPC requests use the POST method, not \(method.prefix(20))")
        } else if !isGRPC(fields.first(name: "content-type") ?? "") {
            let type = fields.first(name: "content-type")?.prefix(60) ?? "none"
            (status, code, message) = ("415", "3", "invalid gRPC request content-type \"\(type)\"")
        } else {
            return nil
        }
        return [":status": status, "content-type": "application/grpc", "grpc-status": code,
                "grpc-message": GRPCStatus.percentEncoded(message)]
    }

    private func receive(_ frame: HTTP2Frame.FramePayload.Data, on stream: HTTP2StreamID,
                         context: ChannelHandlerContext) {
        guard case .byteBuffer(var bytes) = frame.data else { return }
        let length = bytes.readableBytes + (frame.paddingBytes.map { $0 + 1 } ?? 0)
        // Frames of a stream answered early (or unknown) are dropped.
        guard let call = calls[stream], !call.complete else { return }
        call.idle = .zero
        let arriving = bytes.readableBytes
        if call.body.readableBytes == 0 {
            call.body = bytes
        } else {
            call.body.writeBuffer(&bytes)
        }
        call.heldBytes += arriving
        bufferedBytes += arriving
        if call.body.readableBytes > limits.messageBytes + 5 {
            removeCall(stream)
            answerEarly(stream, with: tooLarge(call.body.readableBytes - 5), clientEnded: frame.endStream,
                        context: context)
            return
        }
        if bufferedBytes > limits.bufferedBytes {
            removeCall(stream)
            let status = GRPCStatus(
                .resourceExhausted,
                "The connection's unfinished requests hold more than \(limits.bufferedBytes) bytes; finish some first")
            answerEarly(stream, with: status, clientEnded: frame.endStream, context: context)
            return
        }
        if frame.endStream {
            requestComplete(on: stream, context: context)
        } else {
            call.unacknowledged += length
            if call.unacknowledged >= ConnectionLimits.streamWindow / 2 {
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
        guard let call = calls[stream], !call.complete else { return }
        call.complete = true
        if let deadline = call.deadline, deadline <= context.eventLoop.now {
            removeCall(stream)
            answer(stream, with: deadlineExceeded(call), context: context)
            return
        }
        guard let method = router.methods[call.path] else {
            removeCall(stream)
            answer(stream, with: GRPCStatus(.unimplemented, "Method \(call.path.dropFirst()) is unimplemented"),
                   context: context)
            return
        }
        let message: ByteBuffer
        do {
            message = try unaryMessage(of: call, allocator: context.channel.allocator)
        } catch {
            removeCall(stream)
            answer(stream, with: error, context: context)
            return
        }
        call.body = ByteBuffer()  // the message is a slice of it, or its inflated copy
        let headers = RequestHeaders(fields: call.headers, timeout: call.timeout)
        switch method.resolved {
        case .gated: return  // `resolved` never gives one
        case .immediate(let handle):
            let outcome = Result { try handle(message, headers) }
            if let barrier = router.durability {
                // Held until the store has committed what the answer was made from (group commit).
                let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
                let loop = context.eventLoop
                if barrier.whenDurable({ loop.execute { handler.value.finish(stream, with: outcome) } }) { return }
            }
            removeCall(stream)
            respond(on: stream, with: outcome, context: context)
        case .suspending(let handle):
            guard let executor else { return }
            if call.encoding != nil {
                // An inflated message is held apart from the body it came from: count it too.
                call.heldBytes += message.readableBytes
                bufferedBytes += message.readableBytes
            }
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            let loop = context.eventLoop
            // The task starts on this loop after this read returns, so `call.task` is set before it runs.
            let barrier = router.durability
            call.task = Task(executorPreference: executor) {
                let outcome: Result<[UInt8], any Error>
                do { outcome = .success(try await handle(message, headers)) } catch { outcome = .failure(error) }
                await barrier?.durableNow()
                if loop.inEventLoop {
                    handler.value.finish(stream, with: outcome)
                } else {
                    loop.execute { handler.value.finish(stream, with: outcome) }
                }
            }
        }
    }

    func deadlineExceeded(_ call: Call) -> GRPCStatus {
        GRPCStatus(.deadlineExceeded, "The client's deadline (grpc-timeout \(call.headers.first(name: "grpc-timeout") ?? "")) passed before \(call.path.dropFirst()) was answered")
    }

    /// The one length-prefixed message of a unary request, inflated if it came compressed.
    private func unaryMessage(of call: Call, allocator: ByteBufferAllocator) throws(GRPCStatus) -> ByteBuffer {
        var body = call.body
        guard let flag = body.readInteger(as: UInt8.self), let length = body.readInteger(as: UInt32.self) else {
            throw GRPCStatus(.internalError, "The request to \(call.path.dropFirst()) carries no message")
        }
        guard Int(length) <= limits.messageBytes else { throw tooLarge(Int(length)) }
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
                var output = allocator.buffer(capacity: min(4 * payload.readableBytes, limits.messageBytes))
                _ = try inflater.inflate(payload, limit: limits.messageBytes, appendingTo: &output)
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
        return GRPCStatus(.resourceExhausted, "\(what) exceeds the limit of \(limits.messageBytes) bytes")
    }

    // MARK: Writing responses

    /// A waiting method's task has an outcome: answer unless the client left meanwhile.
    private func finish(_ stream: HTTP2StreamID, with outcome: Result<[UInt8], any Error>) {
        guard let context, removeCall(stream) != nil else { return }
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
        guard let context else { return }
        flushIfNeeded(context: context)
        closeIfDrained(context: context)
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
    func answer(_ stream: HTTP2StreamID, with error: any Error, context: ChannelHandlerContext) {
        write(stream, .headers(.init(headers: GRPCStatus(error).trailersOnlyHeaders, endStream: true)), context: context)
    }

    /// Answers a request before the client has finished sending it, and tells the client to stop.
    func answerEarly(_ stream: HTTP2StreamID, with error: any Error, clientEnded: Bool,
                     context: ChannelHandlerContext) {
        answer(stream, with: error, context: context)
        resetIfOpen(stream, clientEnded: clientEnded, context: context)
    }

    /// After answering a request the client is still sending, tell it to stop (RST_STREAM NO_ERROR, as
    /// HTTP/2 allows once the response is complete).
    private func resetIfOpen(_ stream: HTTP2StreamID, clientEnded: Bool, context: ChannelHandlerContext) {
        if !clientEnded { write(stream, .rstStream(.noError), context: context) }
    }

    private func raiseConnectionWindow(context: ChannelHandlerContext) {
        guard !windowRaised else { return }
        windowRaised = true
        write(.rootStream,
              .windowUpdate(windowSizeIncrement: ConnectionLimits.connectionWindow - Self.initialConnectionWindow),
              context: context)
        flushIfNeeded(context: context)
    }

    /// NIOHTTP2 reports the connection's inbound window after every DATA frame, counted or dropped (RFC
    /// 9113 §6.9: DATA on a stream already reset still uses the window). Counting only the frames that
    /// reached us let each refused upload shrink the window for good, until the connection stalled.
    private func topUpConnectionWindow(_ left: Int, context: ChannelHandlerContext) {
        let used = ConnectionLimits.connectionWindow - left
        // While the peer reads nothing our control frames queue inside NIOHTTP2 and `left` would not yet show
        // a credit we sent: give none then (a client that does not read should stall anyway).
        guard windowRaised, used >= ConnectionLimits.connectionWindow / 4, context.channel.isWritable else { return }
        write(.rootStream, .windowUpdate(windowSizeIncrement: used), context: context)
    }

    func flushIfNeeded(context: ChannelHandlerContext) {
        guard needsFlush else { return }
        needsFlush = false
        context.flush()
    }

    func write(_ stream: HTTP2StreamID, _ payload: HTTP2Frame.FramePayload, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: payload)), promise: nil)
        needsFlush = true
    }
}
