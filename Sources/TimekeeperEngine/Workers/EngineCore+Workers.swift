internal import Foundation
internal import SwiftProtobuf
package import TemporalAPI

package typealias WorkerHeartbeat = Temporal_Api_Worker_V1_WorkerHeartbeat
package typealias RecordWorkerHeartbeatRequest = Temporal_Api_Workflowservice_V1_RecordWorkerHeartbeatRequest
package typealias ListWorkersRequest = Temporal_Api_Workflowservice_V1_ListWorkersRequest
package typealias ListWorkersResponse = Temporal_Api_Workflowservice_V1_ListWorkersResponse

package struct WorkerKey: Hashable, Sendable {
    package var namespace: String
    package var instanceKey: String
}

/// Worker heartbeats: the SDKs send one a minute (`RecordWorkerHeartbeat`) and a last one as they shut down
/// (`ShutdownWorker`), once the namespace advertises `worker_heartbeats`. The latest of each worker is kept
/// (engine state, not history) for `ListWorkers`, `CountWorkers` and `DescribeWorker`, whose query takes
/// Temporal's worker fields in the list-filter language.
extension EngineCore {
    /// A worker not heard from for this long is forgotten (it shows as shutting down or silent before).
    static let workerMemory = Duration.seconds(600)
    /// At most this many workers are kept per namespace; past it the longest silent one is forgotten.
    static let workersPerNamespace = 1000

    /// The worker fields a `ListWorkers` query may name, with their types (Temporal's worker query fields).
    static let workerQueryFields: [String: SearchAttributeType] = [
        "WorkerInstanceKey": .keyword, "WorkerIdentity": .keyword, "HostName": .keyword, "TaskQueue": .keyword,
        "DeploymentName": .keyword, "BuildId": .keyword, "SdkName": .keyword, "SdkVersion": .keyword,
        "StartTime": .datetime, "LastHeartbeatTime": .datetime, "Status": .keyword,
        // The query tokenizer lower-cases an unquoted MySQL keyword, and `Status` is one: `Status = 'Running'`
        // names "status" (as `temporal worker list -q` users write it), so that spelling is a field too.
        "status": .keyword,
    ]

    package mutating func recordWorkerHeartbeats(namespace: String, _ heartbeats: [WorkerHeartbeat], wallNow: Instant)
        throws(EngineError)
    {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            try Self.requireNamespace(namespace)
            for (index, heartbeat) in heartbeats.enumerated() where heartbeat.workerInstanceKey.isEmpty {
                throw .invalidArgument("worker_heartbeat[\(index)].worker_instance_key is not set")
            }
            return { core in
                for heartbeat in heartbeats { core.keepHeartbeat(heartbeat, namespace: namespace) }
            }
        }
    }

    private mutating func keepHeartbeat(_ heartbeat: WorkerHeartbeat, namespace: String) {
        var heartbeat = heartbeat
        if !heartbeat.hasHeartbeatTime { heartbeat.heartbeatTime = clock.now.timestamp }
        workers[WorkerKey(namespace: namespace, instanceKey: heartbeat.workerInstanceKey)] = heartbeat
        let now = clock.now
        workers = workers.filter { now - Instant($0.value.heartbeatTime) <= Self.workerMemory }
        let inNamespace = workers.filter { $0.key.namespace == namespace }
        if inNamespace.count > Self.workersPerNamespace {
            let silent = inNamespace.min { Instant($0.value.heartbeatTime) < Instant($1.value.heartbeatTime) }
            if let silent { workers[silent.key] = nil }
        }
    }

    /// The workers of a namespace a query matches, newest heartbeat first. A query naming a field workers
    /// do not have matches none (Temporal's server answers an empty list, not an error).
    package func listWorkers(namespace: String, query: String) throws(EngineError) -> [WorkerHeartbeat] {
        try Self.requireNamespace(namespace)
        let filter: ListFilter?
        do throws(ListFilterError) {
            filter = try ListFilter.parse(query, schema: ListFilterSchema(customAttributes: Self.workerQueryFields, allowsOrderBy: false))
        } catch {
            if error.message.hasPrefix("invalid search attribute") { return [] }
            throw .invalidArgument("invalid query: \(error.message)")
        }
        return workers.filter { $0.key.namespace == namespace }.map(\.value)
            .filter { filter?.matches(Self.workerRecord($0)) ?? true }
            .sorted { (Instant($0.heartbeatTime), $0.workerInstanceKey) > (Instant($1.heartbeatTime), $1.workerInstanceKey) }
    }

    package func describeWorker(namespace: String, instanceKey: String) throws(EngineError) -> WorkerHeartbeat {
        try Self.requireNamespace(namespace)
        guard !instanceKey.isEmpty else { throw .invalidArgument("worker_instance_key is not set") }
        guard let heartbeat = workers[WorkerKey(namespace: namespace, instanceKey: instanceKey)] else {
            throw EngineError(.notFound, "Worker \(instanceKey) not found")
        }
        return heartbeat
    }

    /// What a worker query sees of a heartbeat, by field name.
    private static func workerRecord(_ heartbeat: WorkerHeartbeat) -> VisibilityRecord {
        var record = VisibilityRecord([
            "WorkerInstanceKey": .string(heartbeat.workerInstanceKey),
            "WorkerIdentity": .string(heartbeat.workerIdentity),
            "HostName": .string(heartbeat.hostInfo.hostName),
            "TaskQueue": .string(heartbeat.taskQueue),
            "DeploymentName": .string(heartbeat.deploymentVersion.deploymentName),
            "BuildId": .string(heartbeat.deploymentVersion.buildID),
            "SdkName": .string(heartbeat.sdkName),
            "SdkVersion": .string(heartbeat.sdkVersion),
            "Status": .string(workerStatusName(heartbeat.status)),
            "status": .string(workerStatusName(heartbeat.status)),
            "LastHeartbeatTime": .datetime(Instant(heartbeat.heartbeatTime).nanosecondsSinceEpoch),
        ])
        if heartbeat.hasStartTime { record["StartTime"] = .datetime(Instant(heartbeat.startTime).nanosecondsSinceEpoch) }
        return record
    }

    /// The status as a query names it ("Running", "ShuttingDown", "Shutdown").
    static func workerStatusName(_ status: Temporal_Api_Enums_V1_WorkerStatus) -> String {
        switch status {
        case .running: "Running"
        case .shuttingDown: "ShuttingDown"
        case .shutdown: "Shutdown"
        default: "Unspecified"
        }
    }
}
