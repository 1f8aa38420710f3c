internal import TemporalAPI

/// Matching: the task queues of every namespace, each with the tasks nobody has taken yet and the long
/// polls waiting for one. It knows nothing of runs; whoever offers or polls says what is still live.
package struct Matching: Sendable {
    package private(set) var workflowQueues: [TaskQueueKey: TaskQueue<WorkflowQueueItem>] = [:]
    package private(set) var activityQueues: [TaskQueueKey: TaskQueue<ActivityTaskRef>] = [:]
    package private(set) var waitingPollers: [PollerID: WaitingPoller] = [:]
    /// When each identity last polled each queue, for `DescribeTaskQueue` (Temporal reports pollers seen in
    /// the last five minutes).
    package private(set) var lastPolls: [PollerKey: Instant] = [:]

    package struct PollerKey: Hashable, Sendable {
        package var queue: TaskQueueKey
        package var kind: WaitingPoller.Kind
        package var identity: String
    }

    private var pruneLastPollsAt = 64

    static let pollerMemory = Duration.seconds(300)

    package init() {}

    /// Offers a workflow task or legacy query: the poller it goes to (and its identity), or it is queued.
    mutating func offer(_ item: WorkflowQueueItem, to key: TaskQueueKey) -> (PollerID, identity: String)? {
        offer(item, to: key, in: \.workflowQueues)
    }

    mutating func offer(_ task: ActivityTaskRef, to key: TaskQueueKey) -> (PollerID, identity: String)? {
        offer(task, to: key, in: \.activityQueues)
    }

    /// A workflow poller arrives: the oldest live item, or the poller waits. Stale items (of runs that
    /// closed or moved on since they were queued) are dropped on the way, as Temporal's matching drops them.
    mutating func pollWorkflow(_ key: TaskQueueKey, _ poller: PollerID, identity: String,
                               isLive: (WorkflowQueueItem) -> Bool) -> WorkflowQueueItem? {
        poll(key, poller, WaitingPoller(queue: key, identity: identity, kind: .workflow), in: \.workflowQueues, isLive: isLive)
    }

    mutating func pollActivity(_ key: TaskQueueKey, _ poller: PollerID, identity: String,
                               isLive: (ActivityTaskRef) -> Bool) -> ActivityTaskRef? {
        poll(key, poller, WaitingPoller(queue: key, identity: identity, kind: .activity), in: \.activityQueues, isLive: isLive)
    }

    private mutating func offer<Task>(
        _ task: Task, to key: TaskQueueKey, in queues: WritableKeyPath<Matching, [TaskQueueKey: TaskQueue<Task>]>
    ) -> (PollerID, identity: String)? {
        guard let poller = self[keyPath: queues][key, default: TaskQueue()].offer(task) else { return nil }
        return (poller, waitingPollers.removeValue(forKey: poller)?.identity ?? "")
    }

    private mutating func poll<Task>(
        _ key: TaskQueueKey, _ poller: PollerID, _ waiting: WaitingPoller,
        in queues: WritableKeyPath<Matching, [TaskQueueKey: TaskQueue<Task>]>, isLive: (Task) -> Bool
    ) -> Task? {
        // Out of the dictionary while it is polled, so that the queue is not copied.
        var queue = self[keyPath: queues].removeValue(forKey: key) ?? TaskQueue()
        let task = queue.poll(poller, isLive: isLive)
        self[keyPath: queues][key] = queue
        if task == nil { waitingPollers[poller] = waiting }
        return task
    }

    /// A poll of `queue` by `identity` at `time`; pollers not seen for five minutes are forgotten.
    mutating func notePoll(_ queue: TaskQueueKey, _ kind: WaitingPoller.Kind, identity: String, at time: Instant) {
        lastPolls[PollerKey(queue: queue, kind: kind, identity: identity)] = time
        // Pruned once the table doubles since the last pruning, so each poll costs O(1) amortised.
        if lastPolls.count > pruneLastPollsAt {
            lastPolls = lastPolls.filter { time - $0.value <= Self.pollerMemory }
            pruneLastPollsAt = max(64, lastPolls.count * 2)
        }
    }

    /// The identities that polled `queue` for `kind` tasks in the last five minutes, most recent first.
    package func recentPollers(_ queue: TaskQueueKey, _ kind: WaitingPoller.Kind, now: Instant) -> [(identity: String, at: Instant)] {
        lastPolls.filter { $0.key.queue == queue && $0.key.kind == kind && now - $0.value <= Self.pollerMemory }
            .map { ($0.key.identity, $0.value) }
            .sorted { ($0.at, $0.identity) > ($1.at, $1.identity) }
    }

    /// How many items wait in `queue` (stale ones included until a poll drops them).
    package func backlog(_ queue: TaskQueueKey, _ kind: WaitingPoller.Kind) -> Int {
        switch kind {
        case .workflow: workflowQueues[queue]?.backlog ?? 0
        case .activity: activityQueues[queue]?.backlog ?? 0
        }
    }

    /// The poller stopped waiting (deadline passed or the call was cancelled).
    mutating func cancel(_ poller: PollerID) {
        guard let waiting = waitingPollers.removeValue(forKey: poller) else { return }
        switch waiting.kind {
        case .workflow: workflowQueues[waiting.queue]?.remove(poller)
        case .activity: activityQueues[waiting.queue]?.remove(poller)
        }
    }
}

/// What waits in a workflow task queue: a run's workflow task (its scheduled event tells stale ones
/// apart), or a legacy query task.
package enum WorkflowQueueItem: Sendable {
    case workflowTask(runID: String, scheduledEventID: Int64)
    case query(QueryID)
}

/// A queued activity attempt.
package struct ActivityTaskRef: Sendable {
    var runID: String
    var scheduledEventID: Int64
    var attempt: Int32
}

/// A long poll waiting for a task.
package struct WaitingPoller: Sendable {
    package enum Kind: Sendable, Hashable { case workflow, activity }
    var queue: TaskQueueKey
    var identity: String
    var kind: Kind
}
