import Foundation
import SwiftProtobuf
import TemporalAPI
@testable import TimekeeperEngine

/// A scenario driver: an engine core and a hand-moved wall clock, no sockets, no threads.
struct Scenario {
    var core: EngineCore
    var wall = Instant(nanosecondsSinceEpoch: 1_700_000_000 * 1_000_000_000)
    private var nextPoller: UInt64 = 1

    init(skipsTime: Bool = true, startsLocked: Bool = true) {
        self.init(configuration: .init(skipsTime: skipsTime, startsLocked: startsLocked))
    }

    init(configuration: EngineCore.Configuration) {
        let counter = Counter()
        core = EngineCore(configuration: configuration, wallNow: wall, makeRunID: { "run-\(counter.next())" })
    }

    mutating func advanceWall(by duration: Duration) {
        wall = wall + duration
        core.settle(wall)
    }

    mutating func start(_ id: String, requestID: String = "req-1", queue: String = "q",
                        _ configure: (inout StartWorkflowRequest) -> Void = { _ in }) throws(EngineError) -> StartOutcome {
        var request = StartWorkflowRequest.with {
            $0.namespace = "default"
            $0.workflowID = id
            $0.workflowType.name = "Hello"
            $0.taskQueue.name = queue
            $0.requestID = requestID
        }
        configure(&request)
        return try core.startWorkflow(request, wallNow: wall)
    }

    mutating func poll(queue: String = "q") throws(EngineError) -> PollWorkflowTaskResponse? {
        defer { nextPoller += 1 }
        let poller = PollerID(rawValue: nextPoller)
        let task = try core.pollWorkflowTask(namespace: "default", taskQueue: queue, identity: "worker", poller: poller, wallNow: wall)
        if task == nil { core.cancelPoll(poller) }
        return task
    }

    mutating func complete(_ task: PollWorkflowTaskResponse, _ commands: [Command]) throws(EngineError) {
        try core.completeWorkflowTask(
            .with {
                $0.namespace = "default"
                $0.taskToken = task.taskToken
                $0.commands = commands
                $0.identity = "worker"
            }, wallNow: wall)
    }

    func run(_ id: String) -> RunView? { core.runs[id].map { RunView(run: $0, history: core.history(id)) } }

    func eventTypes(_ runID: String) -> [Temporal_Api_Enums_V1_EventType] {
        core.history(runID).map(\.eventType)
    }
}

/// A command that completes the workflow with a result payload.
func completeCommand(_ text: String = "done") -> Command {
    .with {
        $0.commandType = .completeWorkflowExecution
        $0.completeWorkflowExecutionCommandAttributes = .with {
            $0.result.payloads = [.with { $0.data = Data(text.utf8) }]
        }
    }
}

func failCommand(_ message: String) -> Command {
    .with {
        $0.commandType = .failWorkflowExecution
        $0.failWorkflowExecutionCommandAttributes = .with { $0.failure.message = message }
    }
}

/// A run with its history, which the core keeps beside it.
@dynamicMemberLookup
struct RunView {
    var run: WorkflowRun
    var history: [HistoryEvent]

    subscript<T>(dynamicMember keyPath: KeyPath<WorkflowRun, T>) -> T { run[keyPath: keyPath] }

    var closeEvent: HistoryEvent? { run.isOpen ? nil : history.last }
}

final class Counter: @unchecked Sendable {
    // Only used from one test's synchronous code.
    private var value = 0
    func next() -> Int {
        value += 1
        return value
    }
}

