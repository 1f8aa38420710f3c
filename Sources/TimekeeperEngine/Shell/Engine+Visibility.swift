internal import Synchronization

/// The older visibility calls and the search attribute types, each read in one transition.
extension Engine {
    package func listOpenWorkflows(_ request: ListOpenRequest) throws(EngineError) -> ListWorkflowsResponse {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in try core.listOpenWorkflows(request) }
    }

    package func listClosedWorkflows(_ request: ListClosedRequest) throws(EngineError) -> ListWorkflowsResponse {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in try core.listClosedWorkflows(request) }
    }

    package func addSearchAttributes(_ request: AddSearchAttributesRequest) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.addSearchAttributes(request, wallNow: now) }
    }

    package func removeSearchAttributes(_ request: RemoveSearchAttributesRequest) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in
            try core.removeSearchAttributes(request, wallNow: now)
        }
    }

    package func searchAttributeTypes(namespace: String) throws(EngineError) -> [String: SearchAttributeType] {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in
            try EngineCore.requireNamespace(namespace)
            return core.searchAttributeTypes(namespace: namespace)
        }
    }
}

/// Namespaces: registration and updates are transitions; reads take the lock only.
extension Engine {
    package func registerNamespace(_ request: RegisterNamespaceRequest) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.registerNamespace(request, wallNow: now) }
    }

    package func updateNamespace(_ request: UpdateNamespaceRequest) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.updateNamespace(request, wallNow: now) }
    }

    package func namespaceRecord(_ name: String) -> NamespaceRecord {
        state.withLock { $0.core.namespaceRecord(name) }
    }

    package func knownNamespaces() -> Set<String> {
        state.withLock { $0.core.knownNamespaces }
    }
}

extension Engine {
    package func describeTaskQueue(_ request: DescribeTaskQueueRequest) throws(EngineError) -> DescribeTaskQueueResponse {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in try core.describeTaskQueue(request) }
    }
}
