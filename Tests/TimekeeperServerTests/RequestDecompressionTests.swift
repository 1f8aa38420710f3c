import CZlib
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Synchronization
import Testing
@testable import TimekeeperServer

/// The gzip requests the Python SDK sends, inflated in front of the transport (see RequestDecompression).
/// Serialized: `Inflater.live` counts every stream in the process.
@Suite(.serialized) struct RequestDecompressionTests {
    let requestHeaders: HPACKHeaders = [
        ":method": "POST", ":path": "/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo",
        "content-type": "application/grpc", "grpc-encoding": "gzip", "grpc-accept-encoding": "gzip,identity",
    ]

    @Test func gzipMessagesSplitAcrossDataFramesArriveUncompressedAndTheHeaderIsGone() throws {
        let channel = try decompressingChannel()
        let first = Array("first request message ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 3000)
        let second = Array("second, sent uncompressed".utf8)
        var wire = framed(gzip(first), compressed: true)
        wire += framed(second, compressed: false)

        try channel.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: requestHeaders)))
        try channel.writeInbound(dataFrame(Array(wire[..<7]), endStream: false))  // mid-prefix split
        try channel.writeInbound(dataFrame(Array(wire[7...]), endStream: true))

        guard case .headers(let headers) = try channel.readInbound(as: HTTP2Frame.FramePayload.self) else {
            Issue.record("first frame is not the headers"); return
        }
        #expect(headers.headers.first(name: "grpc-encoding") == nil)
        #expect(headers.headers.first(name: "grpc-accept-encoding") == nil)
        #expect(headers.headers.first(name: ":path") == requestHeaders.first(name: ":path"))
        var received: [UInt8] = []
        while let frame = try channel.readInbound(as: HTTP2Frame.FramePayload.self) {
            guard case .data(let data) = frame, case .byteBuffer(let bytes) = data.data else {
                Issue.record("unexpected frame \(frame)"); return
            }
            received += Array(bytes.readableBytesView)
        }
        #expect(received == framed(first, compressed: false) + framed(second, compressed: false))
        #expect(try channel.readOutbound(as: HTTP2Frame.FramePayload.self) == nil)
        _ = try channel.finish()
    }

    @Test func everyInflateStreamIsReleasedWhenItsStreamEnds() throws {
        let before = Inflater.live.load(ordering: .relaxed)
        for _ in 0..<3 {
            let channel = try decompressingChannel()
            try channel.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: requestHeaders)))
            try channel.writeInbound(dataFrame(framed(gzip(Array("hello".utf8)), compressed: true), endStream: true))
            #expect(Inflater.live.load(ordering: .relaxed) == before + 1)
            _ = try channel.finish(acceptAlreadyClosed: true)
        }
        #expect(Inflater.live.load(ordering: .relaxed) == before)
    }

    @Test func aMessageThatDoesNotInflateIsAnsweredWithInternalAndTheStreamCloses() throws {
        let channel = try decompressingChannel()
        try channel.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: requestHeaders)))
        var corrupt = gzip(Array("some request".utf8))
        corrupt[12] ^= 0xFF
        try channel.writeInbound(dataFrame(framed(corrupt, compressed: true), endStream: true))

        let status = try trailers(channel)
        #expect(status.first(name: "grpc-status") == "13")
        #expect(status.first(name: "grpc-message")?.hasPrefix("Could not decompress the request") == true)
        _ = try channel.readInbound(as: HTTP2Frame.FramePayload.self)  // the headers went on before the data
        #expect(try channel.readInbound(as: HTTP2Frame.FramePayload.self) == nil)
        #expect(!channel.isActive)
    }

    @Test func aMessageInflatingPastTheLimitIsAnsweredWithResourceExhausted() throws {
        let channel = try decompressingChannel(messageLimit: 64 * 1024)
        try channel.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: requestHeaders)))
        let bomb = gzip(Array(repeating: 0, count: 4 * 1024 * 1024))
        #expect(bomb.count < 64 * 1024)
        try channel.writeInbound(dataFrame(framed(bomb, compressed: true), endStream: true))

        let status = try trailers(channel)
        #expect(status.first(name: "grpc-status") == "8")
        #expect(status.first(name: "grpc-message") == "Request message larger than the limit of 65536 bytes once decompressed")
    }

    @Test func uncompressedRequestsPassThroughUntouched() throws {
        let channel = try decompressingChannel()
        var headers = requestHeaders
        headers.replaceOrAdd(name: "grpc-encoding", value: "identity")
        try channel.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: headers)))
        let message = framed(Array("plain".utf8), compressed: false)
        try channel.writeInbound(dataFrame(message, endStream: true))
        guard case .headers(let seen) = try channel.readInbound(as: HTTP2Frame.FramePayload.self),
            case .data(let data) = try channel.readInbound(as: HTTP2Frame.FramePayload.self),
            case .byteBuffer(let bytes) = data.data
        else { Issue.record("frames changed"); return }
        #expect(seen.headers.first(name: "grpc-encoding") == "identity")
        #expect(Array(bytes.readableBytesView) == message)
        #expect(data.endStream)
    }

    @Test func grpcMessagesArePercentEncoded() {
        #expect(RequestDecompression.percentEncoded("50% of\nthe bytes: é") == "50%25 of%0Athe bytes: %C3%A9")
    }

    // MARK: - Helpers

    private func decompressingChannel(messageLimit: Int = 4 * 1024 * 1024) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(RequestDecompression(messageLimit: messageLimit))
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    private func trailers(_ channel: EmbeddedChannel) throws -> HPACKHeaders {
        guard case .headers(let headers) = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) else {
            Issue.record("no trailers written")
            return [:]
        }
        #expect(headers.endStream)
        return headers.headers
    }

    private func dataFrame(_ bytes: [UInt8], endStream: Bool) -> HTTP2Frame.FramePayload {
        .data(.init(data: .byteBuffer(ByteBuffer(bytes: bytes)), endStream: endStream))
    }

    private func framed(_ payload: [UInt8], compressed: Bool) -> [UInt8] {
        let length = UInt32(payload.count)
        return [compressed ? 1 : 0, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF),
                UInt8(length & 0xFF)] + payload
    }

    private func gzip(_ bytes: [UInt8]) -> [UInt8] {
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
