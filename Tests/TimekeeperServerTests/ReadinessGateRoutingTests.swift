import GRPCCore
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP2
import SwiftProtobuf
import TemporalAPI
import Synchronization
import Testing
@testable import TimekeeperEngine
@testable import TimekeeperServer

/// While a durable server opens and reads its store in the background, `GetSystemInfo` (SDKs' readiness
/// probe) waits only for the store's file to be claimed, and every method that needs the engine waits for the engine.
extension GRPCConnectionHandlerTests {
    /// Answers with the health message, registered where GetSystemInfo is.
    struct SystemInfoStandIn: UnaryService {
        func register(with router: inout UnaryRouter) {
            let method = MethodDescriptor(fullyQualifiedService: "temporal.api.workflowservice.v1.WorkflowService",
                                          method: "GetSystemInfo")
            router.registerUnary(method) { (_: Grpc_Health_V1_HealthCheckRequest, _) in
                Grpc_Health_V1_HealthCheckRequest.with { $0.service = "system info" }
            }
        }
    }

    @Test func getSystemInfoWaitsForTheStoreToBeClaimedAndOtherMethodsForTheEngine() async throws {
        let ready = ReadinessGate()
        let storeClaimed = ReadinessGate()
        ready.close()
        storeClaimed.close()
        var router = UnaryRouter([EchoService(probe: WaitProbe()), SystemInfoStandIn()])
        let probesAnswered = Mutex(0)
        router.waitForReadiness(ready, storeClaimed: storeClaimed, probeAnswered: { probesAnswered.withLock { $0 += 1 } })
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            GRPCConnectionHandler(router: router, logger: Logger(label: "test"), limits: .standard))
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        _ = try written(channel)

        try send(channel, stream: 1, path: "/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo",
                 message: echoRequest(""))
        try send(channel, stream: 3, path: "/timekeeper.test.Echo/Echo", message: echoRequest("engine"))
        for _ in 0..<20 { channel.embeddedEventLoop.run() }
        #expect(try written(channel).isEmpty, "nothing is answered before the file is claimed")

        #expect(probesAnswered.withLock { $0 } == 0)
        storeClaimed.openGate()
        #expect(try await answerMessage(channel)?.service == "system info")
        #expect(probesAnswered.withLock { $0 } == 1, "the recovery hears that the probe was answered")
        for _ in 0..<20 { channel.embeddedEventLoop.run() }
        #expect(try written(channel).isEmpty, "a method that needs the engine still waits for it")

        ready.openGate()
        #expect(try await answerMessage(channel)?.service == "echo: engine")
    }
}
