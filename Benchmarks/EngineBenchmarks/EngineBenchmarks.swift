import Benchmark
import Foundation
import SwiftProtobuf
import TemporalAPI
import TimekeeperEngine

// The engine's hot paths under ordo-one/benchmark (wall clock, CPU, mallocs, peak RSS per operation),
// on the functional core alone: no sockets, no tasks. Run in release:
//   swift package --allow-writing-to-package-directory benchmark --target EngineBenchmarks
// Each benchmark builds its state once in `setup` (10⁶ timetable entries, 1,000 open workflows, a 10,000-event
// history, 1,000 waiting pollers) and measures `scaledIterations` operations on it per sample.
// engine-scaling (Benchmarks/EngineScaling) shows how the same paths grow with size.

let wall = Instant(nanosecondsSinceEpoch: 1_700_000_000 * 1_000_000_000)

/// State shared by the iterations of one benchmark (the closures get it by reference). Unchecked: the
/// framework runs a benchmark's setup and iterations one after another, never at once.
final class Box<State>: @unchecked Sendable {
    var state: State
    var counter = 0
    init(_ state: State) { self.state = state }
}

func makeCore() -> EngineCore {
    EngineCore(configuration: .init(skipsTime: true, startsLocked: true), wallNow: wall, makeRunID: { UUIDs.random() })
}

func startRequest(_ id: String, queue: String = "q") -> Temporal_Api_Workflowservice_V1_StartWorkflowExecutionRequest {
    .with {
        $0.namespace = "default"
        $0.workflowID = id
        $0.workflowType.name = "Bench"
        $0.taskQueue.name = queue
        $0.requestID = id
        $0.input.payloads = [.with { $0.metadata = ["encoding": Data("json/plain".utf8)]; $0.data = Data("\"x\"".utf8) }]
    }
}

/// The commands a typical first workflow task sends: an activity and a timer.
let typicalCommands: [Temporal_Api_Command_V1_Command] = [
    .with {
        $0.commandType = .scheduleActivityTask
        $0.scheduleActivityTaskCommandAttributes = .with {
            $0.activityID = "1"
            $0.activityType.name = "echo"
            $0.taskQueue.name = "q"
            $0.startToCloseTimeout = .init(seconds: 10)
            $0.input.payloads = [.with { $0.metadata = ["encoding": Data("json/plain".utf8)]; $0.data = Data("\"x\"".utf8) }]
        }
    },
    .with {
        $0.commandType = .startTimer
        $0.startTimerCommandAttributes = .with { $0.timerID = "2"; $0.startToFireTimeout = .init(seconds: 3600) }
    },
]

/// A core with `open` workflows started and their first task done (each waits on a one-hour timer).
func coreWithOpenWorkflows(_ open: Int) -> EngineCore {
    var core = makeCore()
    for index in 0..<open { _ = try! core.startWorkflow(startRequest("open-\(index)"), wallNow: wall) }
    for index in 0..<open {
        let task = try! core.pollWorkflowTask(
            namespace: "default", taskQueue: "q", identity: "w", poller: PollerID(rawValue: UInt64(index)), wallNow: wall)!
        try! core.completeWorkflowTask(
            .with { $0.namespace = "default"; $0.taskToken = task.taskToken; $0.commands = [typicalCommands[1]] },
            wallNow: wall)
    }
    _ = core.takeTransition().effects
    return core
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident, .throughput],
        scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 100)

    // Timetable at 10⁶ pending entries: insert, cancel, pop.
    Benchmark("Timetable insert (10⁶ pending)") { benchmark, box in
        for _ in benchmark.scaledIterations {
            box.counter += 1
            blackHole(box.state.add(at: wall + .seconds(Int64(box.counter % 86_400)), .workflowRunTimeout, owner: nil))
        }
    } setup: {
        Box(timetable(entries: 1_000_000).table)
    }

    Benchmark("Timetable cancel (10⁶ pending)") { benchmark, box in
        for _ in benchmark.scaledIterations {
            box.counter += 1
            box.state.table.cancel(box.state.ids[box.counter * 7_919 % box.state.ids.count])
        }
    } setup: {
        Box(timetable(entries: 1_000_000))
    }

    Benchmark("Timetable pop due (10⁶ pending)") { benchmark, box in
        for _ in benchmark.scaledIterations {
            blackHole(box.state.popDue(at: wall + .seconds(100_000)))
        }
    } setup: {
        Box(timetable(entries: 1_000_000).table)
    }

    // A workflow task round trip with typical commands, 1,000 other workflows open.
    Benchmark("Start + workflow task completing with an activity and a timer (1,000 open)") { benchmark, box in
        for _ in benchmark.scaledIterations {
            box.counter += 1
            _ = try! box.state.startWorkflow(startRequest("measured-\(box.counter)"), wallNow: wall)
            let task = try! box.state.pollWorkflowTask(
                namespace: "default", taskQueue: "q", identity: "w", poller: PollerID(rawValue: UInt64(box.counter)),
                wallNow: wall)!
            try! box.state.completeWorkflowTask(
                .with { $0.namespace = "default"; $0.taskToken = task.taskToken; $0.commands = typicalCommands },
                wallNow: wall)
            blackHole(box.state.takeTransition().effects)
        }
    } setup: {
        Box(coreWithOpenWorkflows(1_000))
    }

    // History: append (a signal) to, and read a 100-event page from the middle of, a 10,000-event history.
    Benchmark("History append (signal, 10,000 events)") { benchmark, box in
        for _ in benchmark.scaledIterations {
            box.counter += 1
            try! box.state.signalWorkflow(
                .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "long"; $0.signalName = "x" },
                wallNow: wall)
        }
        blackHole(box.state.takeTransition().effects)
    } setup: {
        Box(coreWithLongHistory(events: 10_000))
    }

    Benchmark("History read, 100-event page (10,000 events)") { benchmark, box in
        let middle = Data("h/\(box.state.runs.keys.first!)/5000".utf8)
        for _ in benchmark.scaledIterations {
            blackHole(try! box.state.readHistory(.with {
                $0.namespace = "default"; $0.execution.workflowID = "long"; $0.maximumPageSize = 100
                $0.nextPageToken = middle
            }))
        }
    } setup: {
        Box(coreWithLongHistory(events: 10_000))
    }

    // Matching: 1,000 pollers wait on the queue; each new task goes to the longest-waiting one, which polls
    // again.
    Benchmark("Task matching: start handed to a waiting poller (1,000 waiting)") { benchmark, box in
        for _ in benchmark.scaledIterations {
            box.counter += 1
            _ = try! box.state.startWorkflow(startRequest("matched-\(box.counter)", queue: "m"), wallNow: wall)
            for case .deliverWorkflowTask(let poller, _) in box.state.takeTransition().effects {
                blackHole(try! box.state.pollWorkflowTask(
                    namespace: "default", taskQueue: "m", identity: "w", poller: poller, wallNow: wall))
            }
        }
    } setup: {
        Box(coreWithWaitingPollers(1_000))
    }

    // The newest poller gives up: the far end of the waiting line, the longest search.
    Benchmark("Task matching: the newest waiting poller gives up, another arrives (1,000 waiting)") { benchmark, box in
        for _ in benchmark.scaledIterations {
            box.counter += 1
            box.state.cancelPoll(PollerID(rawValue: UInt64(1_000 + box.counter - 1)))
            blackHole(try! box.state.pollWorkflowTask(
                namespace: "default", taskQueue: "m", identity: "w", poller: PollerID(rawValue: UInt64(1_000 + box.counter)),
                wallNow: wall))
        }
    } setup: {
        Box(coreWithWaitingPollers(1_000))
    }
}

func timetable(entries: Int) -> (table: Timetable, ids: [EntryID]) {
    var table = Timetable()
    var ids: [EntryID] = []
    ids.reserveCapacity(entries)
    for index in 0..<entries {
        ids.append(table.add(at: wall + .seconds(Int64(index % 86_400)), .workflowRunTimeout, owner: nil))
    }
    return (table, ids)
}

func coreWithLongHistory(events: Int) -> EngineCore {
    var core = makeCore()
    _ = try! core.startWorkflow(startRequest("long"), wallNow: wall)
    while core.runs.values.first!.lastEventID < Int64(events) {
        try! core.signalWorkflow(
            .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "long"; $0.signalName = "s" },
            wallNow: wall)
    }
    _ = core.takeTransition().effects
    return core
}

func coreWithWaitingPollers(_ count: Int) -> EngineCore {
    var core = makeCore()
    for index in 1...count {
        _ = try! core.pollWorkflowTask(
            namespace: "default", taskQueue: "m", identity: "w", poller: PollerID(rawValue: UInt64(index)), wallNow: wall)
    }
    return core
}
