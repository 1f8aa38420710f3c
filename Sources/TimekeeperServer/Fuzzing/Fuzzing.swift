internal import GRPCCore
package import NIOCore
internal import NIOHPACK
internal import NIOHTTP2
internal import SwiftProtobuf
internal import TemporalAPI
internal import TimekeeperEngine

/// What the fuzz targets feed the server (Fuzz/FuzzHTTP2, Fuzz/FuzzMethods) and their regression tests
/// replay (Tests/TimekeeperServerTests/FuzzRegressionTests): one call serves one input on a fresh server
/// (`FuzzServer`) and a fresh loop, and returns only once nothing of it is left running.
///
/// Swift errors are the server's business (it answers them); a crash — a trap, an overflow, an ASan
/// report, or a task that outlives its input (`FuzzServer.expectNothingLeft`) — is a finding.
package enum Fuzzing {
    // MARK: One HTTP/2 connection

    /// HTTP/2's client connection preface, put in front of inputs that do not start with it so that the
    /// fuzzer does not spend its time finding it.
    static let clientPreface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// The input arrives in this many reads (so frames are split across reads), the loop run after each.
    static let reads = 4

    /// Serves `input` as everything a client sent on one connection, through the real pipeline
    /// (`NIOHTTP2Handler` with the server's settings + `GRPCConnectionHandler` over every service), on a
    /// channel of `loop` that `makeChannel` makes (an `EmbeddedChannel`). What the server writes is dropped.
    package static func serveConnection(_ input: [UInt8], loop: some ManuallyRunLoop,
                                        channel makeChannel: () -> any Channel) {
        weak var engine: Engine?
        do {
            let server = FuzzServer(loop: loop)
            engine = server.engine
            serve(input, on: makeChannel(), server: server, loop: loop)
            server.shutDown()
        }
        FuzzServer.expectNothingLeft({ engine }, input: "an HTTP/2 connection")
    }

    private static func serve(_ input: [UInt8], on channel: any Channel, server: FuzzServer, loop: some ManuallyRunLoop) {
        let pipeline = channel.pipeline.syncOperations
        do {
            // A connection's pipeline as the listener builds it, behind a sink for what the server writes.
            try pipeline.addHandler(DiscardOutbound())
            try GRPCListener.addConnectionHandlers(to: pipeline, router: server.router, logger: FuzzServer.logger)
            channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 7233), promise: nil)
        } catch {
            preconditionFailure("could not set up the connection: \(error)")
        }
        loop.run()
        let bytes = input.starts(with: clientPreface) ? input : clientPreface + input
        let readSize = max(1, (bytes.count + reads - 1) / reads)
        var offset = 0
        // A connection error makes NIOHTTP2 send GOAWAY and close: the rest is never read.
        while offset < bytes.count, channel.isActive {
            let end = min(offset + readSize, bytes.count)
            pipeline.fireChannelRead(NIOAny(channel.allocator.buffer(bytes: bytes[offset..<end])))
            pipeline.fireChannelReadComplete()
            loop.run()  // the calls that wait start (and may finish) here
            offset = end
        }
        // Inputs of odd length end with the server draining (as on SIGTERM: GOAWAY, in-flight calls answered,
        // then close) while the calls that wait are still waiting; the others with the client staying a
        // minute: long polls and queries give up (at most 60 s) and are answered, and the engine's timers due
        // meanwhile fire. Then the client goes, which cancels whatever still waits.
        if input.count % 2 == 1, channel.isActive {
            pipeline.fireUserInboundEventTriggered(DrainEvent())
            loop.run()
        }
        loop.advanceTime(by: .seconds(61))
        channel.close(promise: nil)
        loop.run()
    }

    // MARK: One method call

    /// Every method the router serves, sorted: an input's first byte picks one (modulo the count).
    package static let methodPaths: [String] =
        UnaryRouter.allServices(engine: Engine(configuration: .init(skipsTime: true, startsLocked: true)))
        .methods.keys.sorted()

    /// Calls one method as the router would: the first byte picks it in `methodPaths`, the rest is the
    /// request message. Methods that wait get a task, a 1 s deadline (`grpc-timeout`) and then cancellation.
    ///
    /// One engine per input rather than one shared and reset now and then: a crash then depends on its
    /// input alone, so it reproduces from the file libFuzzer saves and becomes a regression test as it is.
    /// What a shared engine would add, state left by earlier inputs for later ones to act on, comes from a
    /// fixed fixture instead (`setUpFixture`), and sequences of calls are fuzz-http2's part.
    package static func callMethod(_ input: [UInt8], loop: some ManuallyRunLoop) {
        guard let selector = input.first else { return }
        let path = methodPaths[Int(selector) % methodPaths.count]
        weak var engine: Engine?
        do {
            let server = FuzzServer(loop: loop)
            engine = server.engine
            setUpFixture(server, loop: loop)
            call(path, ByteBuffer(bytes: input.dropFirst()), on: server, loop: loop)
            server.shutDown()
        }
        FuzzServer.expectNothingLeft({ engine }, input: "a call of \(path)")
    }

    /// The deadline every call carries, as SDKs send one: long polls give up half a second before it.
    private static let headers = RequestHeaders(fields: ["grpc-timeout": "1S"], timeout: .seconds(1))

    private static func call(_ path: String, _ message: ByteBuffer, on server: FuzzServer, loop: some ManuallyRunLoop) {
        guard let method = server.router.methods[path] else { preconditionFailure("\(path) is not routed") }
        switch method.resolved {
        case .gated: return  // `resolved` never gives one
        case .immediate(let handle):
            _ = try? handle(message, headers)
            loop.run()
        case .suspending(let handle):
            let task = Task(executorPreference: server.executor) { _ = try? await handle(message, headers) }
            loop.run()
            loop.advanceTime(by: .seconds(1))
            // What still waits (a test client's sleep on a locked clock) goes as when its client hangs up.
            task.cancel()
            loop.run()
        }
    }

    // MARK: The methods' fixture

    /// The workflows of the recorded corpus (scripts/fuzz-record-corpus), started in this order on the
    /// task queue it used, so that they get run ids 1 and 2 (`FuzzServer.runID`), which the recorder
    /// writes into the corpus's messages in place of the recorded ones.
    static let fixtureWorkflows = [("fuzz-timer-activity", "TimerActivityWorkflow"),
                                   ("fuzz-signal-query", "SignalQueryWorkflow")]
    static let fixtureNamespace = "default"
    static let fixtureTaskQueue = "fuzz-task-queue"

    /// What a fresh engine holds before the fuzzed call: the corpus's workflows running, each with its
    /// first workflow task handed to a worker, so that the recorded calls (a signal, a query, the first
    /// task's completion with its commands) reach the engine's state instead of stopping at "not found".
    private static func setUpFixture(_ server: FuzzServer, loop: some ManuallyRunLoop) {
        for (number, (workflowID, typeName)) in fixtureWorkflows.enumerated() {
            let start = Temporal_Api_Workflowservice_V1_StartWorkflowExecutionRequest.with {
                $0.namespace = fixtureNamespace
                $0.workflowID = workflowID
                $0.workflowType.name = typeName
                $0.taskQueue.name = fixtureTaskQueue
                $0.requestID = "fuzz-start-\(number + 1)"
                $0.identity = "fuzz-client"
            }
            fixtureCall(Temporal_Api_Workflowservice_V1_WorkflowService.Method.StartWorkflowExecution.descriptor,
                        start, on: server, loop: loop)
        }
        for _ in fixtureWorkflows {
            let poll = Temporal_Api_Workflowservice_V1_PollWorkflowTaskQueueRequest.with {
                $0.namespace = fixtureNamespace
                $0.taskQueue.name = fixtureTaskQueue
                $0.identity = "fuzz-worker"
            }
            fixtureCall(Temporal_Api_Workflowservice_V1_WorkflowService.Method.PollWorkflowTaskQueue.descriptor,
                        poll, on: server, loop: loop)
        }
    }

    private static func fixtureCall(_ method: GRPCCore.MethodDescriptor, _ request: some SwiftProtobuf.Message,
                                    on server: FuzzServer, loop: some ManuallyRunLoop) {
        let bytes: [UInt8]
        do { bytes = try request.serializedBytes() } catch { preconditionFailure("fixture request: \(error)") }
        let message = ByteBuffer(bytes: bytes)
        switch server.router.methods["/" + method.fullyQualifiedMethod]?.resolved {
        case .gated?: return  // `resolved` never gives one
        case .immediate(let handle)?:
            do { _ = try handle(message, headers) } catch { preconditionFailure("fixture \(method): \(error)") }
        case .suspending(let handle)?:
            Task(executorPreference: server.executor) {
                do { _ = try await handle(message, headers) } catch { preconditionFailure("fixture \(method): \(error)") }
            }
        case nil:
            preconditionFailure("fixture \(method) is not routed")
        }
        loop.run()
    }
}

/// Where the socket would be: what the server writes is dropped (the fuzzer plays the client and reads
/// nothing back).
private final class DiscardOutbound: ChannelOutboundHandler {
    typealias OutboundIn = IOData

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        promise?.succeed()
    }

    func flush(context: ChannelHandlerContext) {}
}
