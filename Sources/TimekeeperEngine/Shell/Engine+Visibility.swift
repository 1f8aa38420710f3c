/// The older visibility calls and the search attribute types, each read in one transition.
extension Engine {
    package func listOpenWorkflows(_ request: ListOpenRequest) throws(EngineError) -> ListWorkflowsResponse {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in try core.listOpenWorkflows(request) }
    }

    package func listClosedWorkflows(_ request: ListClosedRequest) throws(EngineError) -> ListWorkflowsResponse {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in try core.listClosedWorkflows(request) }
    }

    package func searchAttributeTypes(namespace: String) throws(EngineError) -> [String: SearchAttributeType] {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in
            try EngineCore.requireNamespace(namespace)
            return core.searchAttributeTypes(namespace: namespace)
        }
    }
}
