internal import Foundation
internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix
internal import SwiftProtobuf
internal import TemporalAPI
internal import TimekeeperEngine

/// The web page (`--ui-port`): a small HTTP/1.1 server for the page and the JSON it polls. Read-only.
///
/// | path | answer |
/// |---|---|
/// | `/` | the page |
/// | `/api/clock` | `GetClockResponse` as JSON |
/// | `/api/timetable` | `ListTimetableResponse` as JSON |
/// | `/api/workflows?query=Q&namespace=N` | `ListWorkflowsResponse` as JSON; `query` (optional) is a list filter, and one that does not parse answers 400 with `{"error": message}` |
/// | `/api/history?workflow_id=W&run_id=R&namespace=N` | `GetWorkflowExecutionHistoryResponse` as JSON |
enum WebServer {
    /// Serves until cancelled; `onListening` gets the bound port.
    static func run(host: String, port: Int, engine: Engine, onListening: @Sendable (Int) -> Void) async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(WebHandler(engine: engine))
                }
            }
            .bind(host: host, port: port).get()
        onListening(channel.localAddress?.port ?? port)
        try await withTaskCancellationHandler {
            try await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    /// Answers one request: status, content type, body.
    static func respond(to uri: String, engine: Engine) -> (HTTPResponseStatus, String, String) {
        let components = URLComponents(string: uri)
        // Form decoding, as the page's URLSearchParams encodes: "+" is a space, "%2B" a plus.
        func decoded(_ text: String) -> String {
            let spaced = text.replacingOccurrences(of: "+", with: " ")
            return spaced.removingPercentEncoding ?? spaced
        }
        let query = Dictionary(
            (components?.percentEncodedQueryItems ?? []).map { (decoded($0.name), decoded($0.value ?? "")) },
            uniquingKeysWith: { _, last in last })
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        func json(_ message: some SwiftProtobuf.Message) -> (HTTPResponseStatus, String, String) {
            ((try? message.jsonString(options: options)).map { (.ok, "application/json", $0) })
                ?? (.internalServerError, "text/plain", "could not encode the answer")
        }
        switch components?.path ?? uri {
        case "/", "/index.html": return (.ok, "text/html; charset=utf-8", WebPage.html)
        case "/api/clock": return json(Inspection.clock(engine))
        case "/api/timetable": return json(Inspection.timetable(engine))
        case "/api/workflows":
            do throws(EngineError) {
                return json(try Inspection.workflows(
                    engine, namespace: query["namespace"] ?? "", query: query["query"] ?? ""))
            } catch {
                let body = (try? JSONSerialization.data(withJSONObject: ["error": error.message]))
                    .flatMap { String(data: $0, encoding: .utf8) } ?? #"{"error":"invalid query"}"#
                return (error.code == .invalidArgument ? .badRequest : .internalServerError, "application/json", body)
            }
        case "/api/history":
            let namespace = query["namespace"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
            let events: [HistoryEvent]? = engine.inspect { core, _ in
                (try? core.resolveRun(
                    namespace: namespace,
                    .with { $0.workflowID = query["workflow_id"] ?? ""; $0.runID = query["run_id"] ?? "" }
                )).map { core.history($0.ref.runID) }
            }
            guard let events else { return (.notFound, "text/plain", "no such workflow run") }
            return json(Temporal_Api_Workflowservice_V1_GetWorkflowExecutionHistoryResponse.with { $0.history.events = events })
        default: return (.notFound, "text/plain", "not found")
        }
    }
}

/// One HTTP connection: each request head gets its answer once the request ends.
private final class WebHandler: ChannelInboundHandler, @unchecked Sendable {
    // Used only on its channel's event loop.
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let engine: Engine
    private var uri: String?

    init(engine: Engine) { self.engine = engine }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): uri = head.uri
        case .body: break
        case .end:
            let (status, contentType, body) = WebServer.respond(to: uri ?? "/", engine: engine)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: contentType)
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            headers.add(name: "Cache-Control", value: "no-store")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            uri = nil
        }
    }
}
