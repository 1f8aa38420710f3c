internal import DequeModule

/// Identifies a poller that is waiting in a long poll.
package struct PollerID: Hashable, Sendable {
    package var rawValue: UInt64
    package init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// Names a task queue within a namespace.
package struct TaskQueueKey: Hashable, Sendable {
    package var namespace: String
    package var name: String
}

/// One task queue of workflow tasks: tasks nobody has taken yet, and pollers waiting for one.
/// At any moment at most one side is non-empty.
package struct TaskQueue<Task: Sendable>: Sendable {
    private var tasks = Deque<Task>()
    private var pollers = Deque<PollerID>()

    package init() {}

    package var isIdle: Bool { tasks.isEmpty && pollers.isEmpty }
    package var backlog: Int { tasks.count }
    /// The tasks nobody has taken yet, oldest first (stale ones included: they are dropped when polled).
    package var queued: [Task] { Array(tasks) }

    /// Offers a task: returns the poller it goes to, or queues it.
    package mutating func offer(_ task: Task) -> PollerID? {
        if let poller = pollers.popFirst() { return poller }
        tasks.append(task)
        return nil
    }

    /// A poller arrives: takes the oldest task for which `isLive` holds (dropping stale ones on the
    /// way), or waits.
    package mutating func poll(_ poller: PollerID, isLive: (Task) -> Bool) -> Task? {
        while let task = tasks.popFirst() {
            if isLive(task) { return task }
        }
        pollers.append(poller)
        return nil
    }

    /// A poller gave up (deadline or cancellation).
    package mutating func remove(_ poller: PollerID) {
        if let index = pollers.firstIndex(of: poller) { pollers.remove(at: index) }
    }
}
