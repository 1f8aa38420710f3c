internal import SwiftProtobuf
package import TemporalAPI

package typealias DescribeTaskQueueRequest = Temporal_Api_Workflowservice_V1_DescribeTaskQueueRequest
package typealias DescribeTaskQueueResponse = Temporal_Api_Workflowservice_V1_DescribeTaskQueueResponse

/// `DescribeTaskQueue`: who polled the queue in the last five minutes and how many tasks wait in it.
/// One partition per queue (as the dev server has), so `ListTaskQueuePartitions` names one.
extension EngineCore {
    package func describeTaskQueue(_ request: DescribeTaskQueueRequest) throws(EngineError) -> DescribeTaskQueueResponse {
        try Self.requireNamespace(request.namespace)
        guard !request.taskQueue.name.isEmpty else { throw .invalidArgument("task_queue.name is not set") }
        let key = TaskQueueKey(namespace: request.namespace, name: request.taskQueue.name)
        func kind(_ type: Temporal_Api_Enums_V1_TaskQueueType) throws(EngineError) -> WaitingPoller.Kind {
            switch type {
            case .unspecified, .workflow: .workflow
            case .activity: .activity
            default: throw .invalidArgument("task_queue_type \(type.rawValue) is not served (workflow and activity queues are)")
            }
        }
        func pollers(_ kind: WaitingPoller.Kind) -> [Temporal_Api_Taskqueue_V1_PollerInfo] {
            matching.recentPollers(key, kind, now: now).map { poller in
                .with {
                    $0.identity = poller.identity
                    $0.lastAccessTime = poller.at.timestamp
                    $0.ratePerSecond = 100_000  // Temporal's default when a worker sets none
                }
            }
        }
        func stats(_ kind: WaitingPoller.Kind) -> Temporal_Api_Taskqueue_V1_TaskQueueStats {
            .with { $0.approximateBacklogCount = Int64(matching.backlog(key, kind)) }
        }
        if request.apiMode == .enhanced {
            // Per build id ("" for unversioned workers) and per task queue type.
            let types = request.taskQueueTypes.isEmpty ? [.workflow, .activity] : request.taskQueueTypes
            var typesInfo: [Int32: Temporal_Api_Taskqueue_V1_TaskQueueTypeInfo] = [:]
            for type in types {
                let kind = try kind(type)
                typesInfo[Int32(type.rawValue)] = .with {
                    if request.reportPollers { $0.pollers = pollers(kind) }
                    if request.reportStats { $0.stats = stats(kind) }
                }
            }
            return .with { $0.versionsInfo = ["": .with { $0.typesInfo = typesInfo; $0.taskReachability = .reachable }] }
        }
        let kind = try kind(request.taskQueueType)
        return .with {
            $0.pollers = pollers(kind)
            if request.reportStats { $0.stats = stats(kind) }
            if request.includeTaskQueueStatus {
                $0.taskQueueStatus = .with {
                    $0.backlogCountHint = Int64(matching.backlog(key, kind))
                    $0.ratePerSecond = 100_000
                }
            }
        }
    }
}
