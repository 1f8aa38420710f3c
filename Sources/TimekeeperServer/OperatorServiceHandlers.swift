internal import GRPCCore
internal import SwiftProtobuf
internal import TemporalAPI
internal import TimekeeperEngine

private typealias OS = Temporal_Api_Operatorservice_V1_OperatorService

/// `temporal.api.operatorservice.v1.OperatorService`: what the test server can say of its setup.
struct OperatorServiceHandlers: UnaryService {
    let engine: Engine

    func register(with router: inout UnaryRouter) {
        let engine = self.engine
        // Custom attributes are the ones clients registered and the ones runs used, typed as the SDK sent
        // them (the test server registers an attribute on first use; see EngineCore+SearchAttributes).
        router.registerUnary(OS.Method.ListSearchAttributes.descriptor) {
            (request: Temporal_Api_Operatorservice_V1_ListSearchAttributesRequest, _) in
            let namespace = request.namespace.isEmpty ? "default" : request.namespace
            let custom = engine.customSearchAttributes(namespace: namespace)
            return Temporal_Api_Operatorservice_V1_ListSearchAttributesResponse.with {
                $0.customAttributes = custom.mapValues(\.indexedValueType)
                $0.systemAttributes = ListFilterSchema.systemAttributes.mapValues(\.indexedValueType)
                $0.storageSchema = [:]
            }
        }
        router.registerUnary(OS.Method.AddSearchAttributes.descriptor) { (request: AddSearchAttributesRequest, _) in
            try engine.addSearchAttributes(request)
            return Temporal_Api_Operatorservice_V1_AddSearchAttributesResponse()
        }
        router.registerUnary(OS.Method.RemoveSearchAttributes.descriptor) { (request: RemoveSearchAttributesRequest, _) in
            try engine.removeSearchAttributes(request)
            return Temporal_Api_Operatorservice_V1_RemoveSearchAttributesResponse()
        }
    }

}
