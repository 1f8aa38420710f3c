internal import SwiftProtobuf
package import TemporalAPI

package typealias RegisterNamespaceRequest = Temporal_Api_Workflowservice_V1_RegisterNamespaceRequest
package typealias UpdateNamespaceRequest = Temporal_Api_Workflowservice_V1_UpdateNamespaceRequest

/// What a namespace was registered or updated with (engine state, not history). The test server serves
/// every namespace a client names, as Temporal's Java test server does; one without a record has the
/// defaults.
package struct NamespaceRecord: Sendable, Equatable {
    package var description = ""
    package var ownerEmail = ""
    /// How long closed runs are kept (recorded and answered; the in-memory test server keeps them all).
    package var retention: Duration = .seconds(86_400)
    package var data: [String: String] = [:]
    /// Whether a client registered it (or it is "default"): registering it again is refused.
    package var registered = false

    package init(description: String = "", ownerEmail: String = "", retention: Duration = .seconds(86_400),
                 data: [String: String] = [:], registered: Bool = false) {
        self.description = description
        self.ownerEmail = ownerEmail
        self.retention = retention
        self.data = data
        self.registered = registered
    }
}

extension EngineCore {
    /// The namespace's record: the one registered or updated, else the defaults.
    package func namespaceRecord(_ name: String) -> NamespaceRecord {
        namespaceRecords[name] ?? NamespaceRecord(registered: name == "default")
    }

    /// Names with a record, "default" and every namespace a run was started in.
    package var knownNamespaces: Set<String> {
        Set(namespaceRecords.keys).union(["default"]).union(runs.values.map(\.ref.namespace))
    }

    package mutating func registerNamespace(_ request: RegisterNamespaceRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            try Self.requireNamespace(request.namespace)
            guard request.namespace.utf8.count <= 255 else { throw .invalidArgument("namespace is longer than 255 bytes") }
            if core.namespaceRecord(request.namespace).registered {
                throw EngineError(.alreadyExists, "Namespace \"\(request.namespace)\" already exists")
            }
            let retention = Duration(protobuf: request.workflowExecutionRetentionPeriod)
            guard retention >= .zero else { throw .invalidArgument("workflow_execution_retention_period must not be negative") }
            return { core in
                var record = NamespaceRecord(
                    description: request.description_p, ownerEmail: request.ownerEmail, data: request.data, registered: true)
                if request.hasWorkflowExecutionRetentionPeriod, retention > .zero { record.retention = retention }
                core.setNamespaceRecord(record, for: request.namespace)
            }
        }
    }

    /// Applies what the request sets (description, owner, data merged, retention); the rest stays.
    package mutating func updateNamespace(_ request: UpdateNamespaceRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            try Self.requireNamespace(request.namespace)
            let retention = Duration(protobuf: request.config.workflowExecutionRetentionTtl)
            guard retention >= .zero else { throw .invalidArgument("config.workflow_execution_retention_ttl must not be negative") }
            return { core in
                var record = core.namespaceRecord(request.namespace)
                if request.hasUpdateInfo {
                    if !request.updateInfo.description_p.isEmpty { record.description = request.updateInfo.description_p }
                    if !request.updateInfo.ownerEmail.isEmpty { record.ownerEmail = request.updateInfo.ownerEmail }
                    record.data.merge(request.updateInfo.data) { _, new in new }
                }
                if request.hasConfig, request.config.hasWorkflowExecutionRetentionTtl, retention > .zero { record.retention = retention }
                core.setNamespaceRecord(record, for: request.namespace)
            }
        }
    }
}
