import CZlib
import Foundation
import GRPCCore
import Logging
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import SwiftProtobuf
import Synchronization
import TemporalAPI
import Testing
import TimekeeperEngine
@testable import TimekeeperServer

/// The gRPC connection handler on NIO's EmbeddedChannel: HTTP/2 frames in, HTTP/2 frames out, with a small
/// router of test methods. Serialized: `Inflater.live` counts every inflate stream in the process.
@Suite(.serialized) struct GRPCConnectionHandlerTests {
    static let echoPath = "/timekeeper.test.Echo/Echo"

    // MARK: Answering

    @Test func aUnaryCallIsAnsweredWithHeadersOneMessageAndOkTrailers() throws {
        let channel = try connection()
        try send(channel, stream: 1, path: Self.echoPath, message: echoRequest("hello"))
        let frames = try written(channel)
        #expect(frames.count == 3)
        guard frames.count == 3, case .headers(let head) = frames[0], case .data(let data) = frames[1],
            case .headers(let trailers) = frames[2]
        else { return }
        #expect(head.headers.first(name: ":status") == "200")
        #expect(head.headers.first(name: "content-type") == "application/grpc")
        #expect(!head.endStream && !data.endStream && trailers.endStream)
        #expect(trailers.headers.first(name: "grpc-status") == "0")
        #expect(try responseMessage(data).service == "echo: hello")
    }

    @Test func gzipMessagesSplitAcrossDataFramesArriveInflated() throws {
        let channel = try connection()
        let text = "a request " + String(repeating: "a", count: 3000)
        let wire = framed(gzip(echoRequest(text)), compressed: true)
        try channel.writeInbound(frame(1, .headers(.init(headers: requestHeaders(Self.echoPath, encoding: "gzip")))))
        try channel.writeInbound(frame(1, dataPayload(Array(wire[..<3]), endStream: false)))  // mid-prefix split
        try channel.writeInbound(frame(1, dataPayload(Array(wire[3...]), endStream: true)))
        let frames = try written(channel)
        guard frames.count == 3, case .data(let data) = frames[1] else {
            Issue.record("expected a whole response, got \(frames)")
            return
        }
        #expect(try responseMessage(data).service == "echo: " + text)
    }

    @Test func anUnknownMethodIsUnimplementedAndNamed() throws {
        let channel = try connection()
        try send(channel, stream: 1, path: "/temporal.api.operatorservice.v1.OperatorService/ListNamespaces",
                 message: echoRequest(""))
        let status = try trailersOnly(channel)
        #expect(status.first(name: "grpc-status") == "12")
        #expect(status.first(name: "grpc-message")
            == "Method temporal.api.operatorservice.v1.OperatorService/ListNamespaces is unimplemented")
    }

    @Test func anEngineErrorKeepsItsCodeMessageAndTemporalDetail() throws {
        let channel = try connection()
        try send(channel, stream: 1, path: "/timekeeper.test.Echo/AlreadyStarted", message: echoRequest(""))
        let status = try trailersOnly(channel)
        #expect(status.first(name: "grpc-status") == "6")
        #expect(status.first(name: "grpc-message") == "Workflow execution already started: w-1")
        let details = try #require(status.first(name: "grpc-status-details-bin"))
        let decoded = try #require(Data(base64Encoded: details))
        // google.rpc.Status: code 6, the message, one Any holding the detail with the run id.
        #expect(decoded.first == 0x08 && decoded.dropFirst().first == 6)
        #expect(String(decoding: decoded, as: UTF8.self).contains("WorkflowExecutionAlreadyStartedFailure"))
        #expect(String(decoding: decoded, as: UTF8.self).contains("run-7"))
    }

    @Test(arguments: ["text/plain", "application/grpc-web", "application/grpcx"])
    func aContentTypeOtherThanGRPCIsRefusedWith415(contentType: String) throws {
        let channel = try connection()
        var headers = requestHeaders(Self.echoPath)
        headers.replaceOrAdd(name: "content-type", value: contentType)
        try channel.writeInbound(frame(1, .headers(.init(headers: headers, endStream: true))))
        guard case .headers(let answer) = try written(channel).first else {
            Issue.record("no answer")
            return
        }
        #expect(answer.headers.first(name: ":status") == "415")
        #expect(answer.headers.first(name: "grpc-status") == "3", "INVALID_ARGUMENT, as grpc-go answers")
        #expect(answer.endStream)
    }

    @Test(arguments: ["application/grpc+proto", "application/grpc; charset=utf-8"])
    func grpcContentTypesWithAFormatOrParametersAreServed(contentType: String) throws {
        let channel = try connection()
        var headers = requestHeaders(Self.echoPath)
        headers.replaceOrAdd(name: "content-type", value: contentType)
        try channel.writeInbound(frame(1, .headers(.init(headers: headers))))
        try channel.writeInbound(frame(1, dataPayload(framed(echoRequest("x"), compressed: false), endStream: true)))
        #expect(try written(channel).count == 3)
    }

    @Test func anUnknownEncodingIsUnimplementedWithTheEncodingsWeAccept() throws {
        let channel = try connection()
        try channel.writeInbound(frame(1, .headers(.init(headers: requestHeaders(Self.echoPath, encoding: "snappy")))))
        let frames = try written(channel)
        guard case .headers(let answer) = frames.first else {
            Issue.record("no answer")
            return
        }
        #expect(answer.headers.first(name: "grpc-status") == "12")
        #expect(answer.headers.first(name: "grpc-accept-encoding") == "identity,deflate,gzip")
        // The client had not finished sending: told to stop.
        guard frames.count == 2, case .rstStream(.noError) = frames[1] else {
            Issue.record("no RST_STREAM after the early answer: \(frames)")
            return
        }
    }

    @Test func aRequestWithTwoMessagesIsRefused() throws {
        let channel = try connection()
        let one = framed(echoRequest("x"), compressed: false)
        try channel.writeInbound(frame(1, .headers(.init(headers: requestHeaders(Self.echoPath)))))
        try channel.writeInbound(frame(1, dataPayload(one + one, endStream: true)))
        let status = try trailersOnly(channel)
        #expect(status.first(name: "grpc-status") == "13")
        #expect(status.first(name: "grpc-message") == "A unary request must carry one message; this one carries more")
    }

    // MARK: Compression failures and zlib's state

    @Test func aMessageThatDoesNotInflateIsAnsweredWithInternal() throws {
        let channel = try connection()
        var corrupt = gzip(echoRequest("some request"))
        corrupt[12] ^= 0xFF
        try channel.writeInbound(frame(1, .headers(.init(headers: requestHeaders(Self.echoPath, encoding: "gzip")))))
        try channel.writeInbound(frame(1, dataPayload(framed(corrupt, compressed: true), endStream: true)))
        let status = try trailersOnly(channel)
        #expect(status.first(name: "grpc-status") == "13")
        #expect(status.first(name: "grpc-message")?.hasPrefix("Could not decompress the request") == true)
        // The connection goes on: the next call is answered.
        try send(channel, stream: 3, path: Self.echoPath, message: echoRequest("after"))
        #expect(try written(channel).count == 3)
    }

    @Test func aMessageInflatingPastTheLimitIsAnsweredWithResourceExhausted() throws {
        let channel = try connection(messageLimit: 64 * 1024)
        let bomb = gzip(Array(repeating: 0, count: 4 * 1024 * 1024))
        #expect(bomb.count < 64 * 1024)
        try channel.writeInbound(frame(1, .headers(.init(headers: requestHeaders(Self.echoPath, encoding: "gzip")))))
        try channel.writeInbound(frame(1, dataPayload(framed(bomb, compressed: true), endStream: true)))
        let status = try trailersOnly(channel)
        #expect(status.first(name: "grpc-status") == "8")
        #expect(status.first(name: "grpc-message") == "The inflated request message exceeds the limit of 65536 bytes")
    }

    @Test func oneInflateStreamServesTheConnectionAndIsReleasedWithIt() throws {
        let before = Inflater.live.load(ordering: .relaxed)
        for _ in 0..<2 {
            let channel = try connection()
            for stream in [1, 3, 5] {
                try channel.writeInbound(frame(HTTP2StreamID(stream),
                    .headers(.init(headers: requestHeaders(Self.echoPath, encoding: "gzip")))))
                let body = framed(gzip(echoRequest("call \(stream)")), compressed: true)
                try channel.writeInbound(frame(HTTP2StreamID(stream), dataPayload(body, endStream: true)))
                #expect(try written(channel).count == 3)
            }
            #expect(Inflater.live.load(ordering: .relaxed) == before + 1)
            _ = try channel.finish(acceptAlreadyClosed: true)
        }
        #expect(Inflater.live.load(ordering: .relaxed) == before)
    }

    // MARK: Flow control

    @Test func theConnectionWindowIsRaisedOnceAndLargeRequestsTopUpTheirWindows() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(handler())
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        guard case .windowUpdate(let raised) = try written(channel).first else {
            Issue.record("the connection window was not raised")
            return
        }
        #expect(raised == ConnectionLimits.connectionWindow - 65_535)

        try channel.writeInbound(frame(1, .headers(.init(headers: requestHeaders(Self.echoPath)))))
        let chunk = [UInt8](repeating: 0x41, count: 300 * 1024)
        try channel.writeInbound(frame(1, dataPayload(chunk, endStream: false)))
        #expect(try written(channel).isEmpty)  // 300 KiB: under half the stream's 1 MiB window
        try channel.writeInbound(frame(1, dataPayload(chunk, endStream: false)))
        let updates = try written(channel)
        #expect(updates.count == 1)
        if case .windowUpdate(let increment) = updates.first { #expect(increment == 600 * 1024) }
    }

    // MARK: Calls that wait

    @Test func aWaitingCallIsAnsweredWhenItsTaskFinishes() async throws {
        let probe = WaitProbe()
        let channel = try connection(probe: probe)
        try send(channel, stream: 1, path: "/timekeeper.test.Echo/Wait", message: echoRequest("later"))
        try await until(channel) { probe.started.load(ordering: .relaxed) }
        #expect(try written(channel).isEmpty)
        probe.release.store(true, ordering: .relaxed)
        #expect(try await answerMessage(channel)?.service == "waited: later")
    }

    @Test func resettingAStreamCancelsItsWaitingCall() async throws {
        let probe = WaitProbe()
        let channel = try connection(probe: probe)
        try send(channel, stream: 1, path: "/timekeeper.test.Echo/Wait", message: echoRequest("never"))
        try await until(channel) { probe.started.load(ordering: .relaxed) }
        try channel.writeInbound(frame(1, .rstStream(.cancel)))
        try await until(channel) { probe.cancelled.load(ordering: .relaxed) }
        #expect(try written(channel).isEmpty)  // nothing is written to a reset stream
    }

    @Test func closingTheConnectionCancelsItsWaitingCalls() async throws {
        let probe = WaitProbe()
        let channel = try connection(probe: probe)
        try send(channel, stream: 1, path: "/timekeeper.test.Echo/Wait", message: echoRequest("never"))
        try await until(channel) { probe.started.load(ordering: .relaxed) }
        _ = try channel.finish(acceptAlreadyClosed: true)
        try await until(channel) { probe.cancelled.load(ordering: .relaxed) }
    }

    // MARK: Answers held until the store has what they tell (group commit)

    @Test func anAnswerWaitsUntilEveryTransitionAdmittedBeforeItIsDurable() async throws {
        let barrier = DurabilityBarrier()
        let channel = try connection(limits: .standard, durability: barrier)
        _ = barrier.admit()
        _ = barrier.admit()
        try send(channel, stream: 1, path: Self.echoPath, message: echoRequest("held"))
        channel.embeddedEventLoop.run()
        #expect(try written(channel).isEmpty)
        barrier.markDurable(through: 1)  // not yet the second
        channel.embeddedEventLoop.run()
        #expect(try written(channel).isEmpty)
        barrier.markDurable(through: 2)
        #expect(try await answerMessage(channel)?.service == "echo: held")
    }

    @Test func anAnswerGoesAtOnceWhenEverythingAdmittedIsDurable() throws {
        let barrier = DurabilityBarrier()
        barrier.markDurable(through: barrier.admit())
        let channel = try connection(limits: .standard, durability: barrier)
        try send(channel, stream: 1, path: Self.echoPath, message: echoRequest("now"))
        #expect(try written(channel).count == 3)
    }

    @Test func aWaitingCallsAnswerWaitsForTheStoreToo() async throws {
        let barrier = DurabilityBarrier()
        let probe = WaitProbe()
        let channel = try connection(limits: .standard, probe: probe, durability: barrier)
        try send(channel, stream: 1, path: "/timekeeper.test.Echo/Wait", message: echoRequest("later"))
        try await until(channel) { probe.started.load(ordering: .relaxed) }
        let number = barrier.admit()  // what woke the call, not yet committed
        probe.release.store(true, ordering: .relaxed)
        for _ in 0..<50 {
            channel.embeddedEventLoop.run()
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(try written(channel).isEmpty)
        barrier.markDurable(through: number)
        #expect(try await answerMessage(channel) != nil)
    }

    @Test func aStreamResetWhileItsAnswerIsHeldGetsNothing() async throws {
        let barrier = DurabilityBarrier()
        let channel = try connection(limits: .standard, durability: barrier)
        let number = barrier.admit()
        try send(channel, stream: 1, path: Self.echoPath, message: echoRequest("gone"))
        try channel.writeInbound(frame(1, .rstStream(.cancel)))
        barrier.markDurable(through: number)
        for _ in 0..<20 {
            channel.embeddedEventLoop.run()
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(try written(channel).isEmpty)
    }

    @Test func grpcMessagesArePercentEncoded() {
        #expect(GRPCStatus.percentEncoded("50% of\nthe bytes: é") == "50%25 of%0Athe bytes: %C3%A9")
    }

    // MARK: - Fixtures

    /// Flags a waiting test method sets and reads across threads.
    final class WaitProbe: Sendable {
        let started = Atomic<Bool>(false)
        let release = Atomic<Bool>(false)
        let cancelled = Atomic<Bool>(false)
        /// Calls of the Count method.
        let calls = Atomic<Int>(0)
    }

    /// Test methods, using the health messages as a convenient request/response pair.
    struct EchoService: UnaryService {
        let probe: WaitProbe

        func register(with router: inout UnaryRouter) {
            router.registerUnary(method("Echo")) { (request: Grpc_Health_V1_HealthCheckRequest, _) in
                Grpc_Health_V1_HealthCheckRequest.with { $0.service = "echo: " + request.service }
            }
            router.registerUnary(method("AlreadyStarted")) {
                (_: Grpc_Health_V1_HealthCheckRequest, _) -> Grpc_Health_V1_HealthCheckRequest in
                throw EngineError(.alreadyExists, "Workflow execution already started: w-1",
                                  detail: .workflowExecutionAlreadyStarted(startRequestID: "req-1", runID: "run-7"))
            }
            let probe = self.probe
            router.registerUnary(method("Count")) { (request: Grpc_Health_V1_HealthCheckRequest, _) in
                probe.calls.add(1, ordering: .relaxed)
                return request
            }
            router.registerSuspending(method("Wait")) { (request: Grpc_Health_V1_HealthCheckRequest, _) in
                probe.started.store(true, ordering: .relaxed)
                while !probe.release.load(ordering: .relaxed) {
                    do {
                        try await Task.sleep(for: .milliseconds(1))
                    } catch {
                        probe.cancelled.store(true, ordering: .relaxed)
                        throw error
                    }
                }
                return Grpc_Health_V1_HealthCheckRequest.with { $0.service = "waited: " + request.service }
            }
        }

        private func method(_ name: String) -> MethodDescriptor {
            MethodDescriptor(fullyQualifiedService: "timekeeper.test.Echo", method: name)
        }
    }

    func handler(limits: ConnectionLimits = .standard, probe: WaitProbe = WaitProbe(),
                 durability: DurabilityBarrier? = nil) -> GRPCConnectionHandler {
        var router = UnaryRouter([EchoService(probe: probe)])
        router.durability = durability
        return GRPCConnectionHandler(router: router, logger: Logger(label: "test"), limits: limits)
    }

    /// A connected channel with the handler, its opening WINDOW_UPDATE already read.
    func connection(messageLimit: Int = ConnectionLimits.standard.messageBytes,
                            probe: WaitProbe = WaitProbe()) throws -> EmbeddedChannel {
        var limits = ConnectionLimits.standard
        limits.messageBytes = messageLimit
        return try connection(limits: limits, probe: probe)
    }

    func connection(limits: ConnectionLimits, probe: WaitProbe = WaitProbe(),
                    durability: DurabilityBarrier? = nil) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(handler(limits: limits, probe: probe, durability: durability))
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        _ = try written(channel)
        return channel
    }

    /// The message of the whole response (headers, one message, trailers) that comes next, once it comes;
    /// `nil` (and an issue) if what comes is not one.
    func answerMessage(_ channel: EmbeddedChannel) async throws -> Grpc_Health_V1_HealthCheckRequest? {
        var frames: [HTTP2Frame.FramePayload] = []
        try await until(channel) {
            frames += (try? written(channel)) ?? []
            return !frames.isEmpty
        }
        guard frames.count == 3, case .data(let data) = frames[1] else {
            Issue.record("expected a whole response, got \(frames)")
            return nil
        }
        return try responseMessage(data)
    }

    /// Runs the embedded loop (where the waiting calls' tasks run) until `condition` holds, for up to 5 s.
    func until(_ channel: EmbeddedChannel, _ condition: () -> Bool) async throws {
        for _ in 0..<5000 {
            channel.embeddedEventLoop.run()
            if condition() { return }
            try await Task.sleep(for: .milliseconds(1))
        }
        Issue.record("condition not met within 5 s")
    }

    func requestHeaders(_ path: String, encoding: String? = nil) -> HPACKHeaders {
        var headers: HPACKHeaders = [":method": "POST", ":scheme": "http", ":path": path,
                                     "content-type": "application/grpc", "te": "trailers"]
        if let encoding { headers.add(name: "grpc-encoding", value: encoding) }
        return headers
    }

    func send(_ channel: EmbeddedChannel, stream: HTTP2StreamID, path: String, message: [UInt8]) throws {
        try channel.writeInbound(frame(stream, .headers(.init(headers: requestHeaders(path)))))
        try channel.writeInbound(frame(stream, dataPayload(framed(message, compressed: false),
                                                           endStream: true)))
    }

    /// A serialized echo request.
    func echoRequest(_ text: String) -> [UInt8] {
        try! Grpc_Health_V1_HealthCheckRequest.with { $0.service = text }.serializedBytes()
    }

    func responseMessage(_ data: HTTP2Frame.FramePayload.Data) throws -> Grpc_Health_V1_HealthCheckRequest {
        guard case .byteBuffer(var bytes) = data.data, bytes.readInteger(as: UInt8.self) == 0,
            let length = bytes.readInteger(as: UInt32.self), let message = bytes.readBytes(length: Int(length))
        else { throw CancellationError() }
        return try Grpc_Health_V1_HealthCheckRequest(serializedBytes: message)
    }

    /// Every frame written since the last call, flushed or not.
    func written(_ channel: EmbeddedChannel) throws -> [HTTP2Frame.FramePayload] {
        var frames: [HTTP2Frame.FramePayload] = []
        while let frame = try channel.readOutbound(as: HTTP2Frame.self) { frames.append(frame.payload) }
        return frames
    }

    func trailersOnly(_ channel: EmbeddedChannel) throws -> HPACKHeaders {
        let frames = try written(channel)
        guard frames.count == 1, case .headers(let headers) = frames[0] else {
            Issue.record("expected one trailers-only answer, got \(frames)")
            return [:]
        }
        #expect(headers.endStream)
        #expect(headers.headers.first(name: ":status") == "200")
        return headers.headers
    }

    func frame(_ stream: HTTP2StreamID, _ payload: HTTP2Frame.FramePayload) -> HTTP2Frame {
        HTTP2Frame(streamID: stream, payload: payload)
    }

    func dataPayload(_ bytes: [UInt8], endStream: Bool) -> HTTP2Frame.FramePayload {
        .data(.init(data: .byteBuffer(ByteBuffer(bytes: bytes)), endStream: endStream))
    }

    func framed(_ payload: [UInt8], compressed: Bool) -> [UInt8] {
        let length = UInt32(payload.count)
        return [compressed ? 1 : 0, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF),
                UInt8(length & 0xFF)] + payload
    }

    func gzip(_ bytes: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        precondition(timekeeper_deflateInit2(&stream, Z_DEFAULT_COMPRESSION, 15 + 16) == Z_OK)
        defer { deflateEnd(&stream) }
        var input = bytes
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 32)
        let written = input.withUnsafeMutableBufferPointer { inp in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = inp.baseAddress
                stream.avail_in = UInt32(inp.count)
                stream.next_out = out.baseAddress
                stream.avail_out = UInt32(out.count)
                precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
                return out.count - Int(stream.avail_out)
            }
        }
        return Array(output[..<written])
    }
}
