internal import GRPCCore
internal import SwiftProtobuf
internal import TemporalAPI
internal import TimekeeperEngine

private typealias TS = Temporal_Api_Testservice_V1_TestService

/// `temporal.api.testservice.v1.TestService`: the V1 time-skipping controls SDK test environments use.
struct TestServiceHandlers: UnaryService {
    let engine: Engine

    func register(with router: inout UnaryRouter) {
        let engine = self.engine

        router.registerUnary(TS.Method.LockTimeSkipping.descriptor) {
            (_: Temporal_Api_Testservice_V1_LockTimeSkippingRequest, _) in
            engine.lockTimeSkipping()
            return Temporal_Api_Testservice_V1_LockTimeSkippingResponse()
        }
        router.registerUnary(TS.Method.UnlockTimeSkipping.descriptor) {
            (_: Temporal_Api_Testservice_V1_UnlockTimeSkippingRequest, _) in
            try engine.unlockTimeSkipping()
            return Temporal_Api_Testservice_V1_UnlockTimeSkippingResponse()
        }
        router.registerSuspending(TS.Method.Sleep.descriptor) {
            (request: Temporal_Api_Testservice_V1_SleepRequest, headers) in
            try await engine.sleep(until: .after(Duration(protobuf: request.duration)), unlocking: false,
                                   timeout: headers.timeout)
            return Temporal_Api_Testservice_V1_SleepResponse()
        }
        router.registerSuspending(TS.Method.SleepUntil.descriptor) {
            (request: Temporal_Api_Testservice_V1_SleepUntilRequest, headers) in
            try await engine.sleep(until: .at(Instant(request.timestamp)), unlocking: false, timeout: headers.timeout)
            return Temporal_Api_Testservice_V1_SleepResponse()
        }
        router.registerSuspending(TS.Method.UnlockTimeSkippingWithSleep.descriptor) {
            (request: Temporal_Api_Testservice_V1_SleepRequest, headers) in
            try await engine.sleep(until: .after(Duration(protobuf: request.duration)), unlocking: true,
                                   timeout: headers.timeout)
            return Temporal_Api_Testservice_V1_SleepResponse()
        }
        router.registerUnary(TS.Method.GetCurrentTime.descriptor) { (_: Google_Protobuf_Empty, _) in
            Temporal_Api_Testservice_V1_GetCurrentTimeResponse.with { $0.time = engine.currentTime().timestamp }
        }
    }
}
