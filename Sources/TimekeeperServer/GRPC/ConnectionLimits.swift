internal import NIOCore
internal import NIOHPACK
internal import NIOHTTP2

/// What one client connection may hold and how long it may stay silent. Every value here bounds memory or
/// time a client could otherwise take without limit; the README's Reliability section lists them.
struct ConnectionLimits: Sendable {
    /// The largest request message, after inflating (gRPC's customary 4 MiB).
    var messageBytes = 4 * 1024 * 1024
    /// Request bytes buffered across all of a connection's unfinished requests. A stream whose DATA would
    /// take the connection past it is answered RESOURCE_EXHAUSTED and reset (flow control alone would not
    /// bound it: we top windows up as frames arrive).
    var bufferedBytes = 64 * 1024 * 1024
    /// Streams open at once on a connection (SETTINGS_MAX_CONCURRENT_STREAMS): clients queue beyond it. Far
    /// above what SDKs open (a worker's pollers plus a test's concurrent `result()` calls), far below what
    /// would let one connection take much memory. A client that ignores it gets GOAWAY PROTOCOL_ERROR from
    /// NIOHTTP2 (a connection error; RFC 9113 would allow REFUSED_STREAM for the one stream).
    var concurrentStreams = 4096
    /// The header block of one request (SETTINGS_MAX_HEADER_LIST_SIZE, enforced by NIOHTTP2's decoder).
    var headerListBytes = HPACKDecoder.defaultMaxHeaderListSize
    /// A request whose client sends nothing more for this long before finishing it is answered
    /// DEADLINE_EXCEEDED and reset (a client that sends HEADERS and then nothing would hold it forever).
    var requestIdle: TimeAmount = .seconds(10)
    /// A connection that has not completed its HTTP/2 preface by then is closed.
    var handshake: TimeAmount = .seconds(10)
    /// After this long without a frame from the client the server sends a PING, and closes the connection if
    /// nothing (the PING's ACK included) arrives for as long again: a vanished peer does not hold its
    /// streams forever. SDKs ping every 30 s themselves (sdk-core's keepalive), which counts as traffic.
    var keepalive: TimeAmount = .seconds(60)
    /// How long a graceful drain waits for in-flight calls before closing the connection anyway.
    var drain: TimeAmount = .seconds(5)

    static let standard = ConnectionLimits()

    /// Stream windows start here and are topped up while a large request arrives.
    static let streamWindow = 1024 * 1024
    /// The connection window is raised once to this and topped up as requests are read.
    static let connectionWindow = 16 * 1024 * 1024

    /// The settings the server announces.
    var settings: HTTP2Settings {
        [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: concurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: Self.streamWindow),
            HTTP2Setting(parameter: .maxHeaderListSize, value: headerListBytes),
        ]
    }
}
