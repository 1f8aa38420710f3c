import Foundation
import SwiftProtobuf
import TemporalAPI
import TimekeeperEngine

// How the engine's hot paths grow: each operation timed at several sizes on the functional core alone
// (no sockets), so the figures are the engine's own cost. Run in release:
//   swift run -c release engine-scaling [--quick]
// Prints ns per operation at each size and the growth from the smallest size, then a verdict from the
// growth exponent k in cost ∝ size^k: flat (growth ≤ 1.5×), sub-linear (k < 0.5: log-like or memory-bound),
// linear (k ≤ 1.2), worse than linear.

let quick = CommandLine.arguments.contains("--quick")
/// `--memory`: only the memory scenario, in a fresh process (freed memory from the others would hide growth).
let memoryOnly = CommandLine.arguments.contains("--memory")
let clock = ContinuousClock()
let wall = Instant(nanosecondsSinceEpoch: 1_700_000_000 * 1_000_000_000)


func makeCore() -> EngineCore {
    EngineCore(configuration: .init(skipsTime: true, startsLocked: true), wallNow: wall, makeRunID: {
        UUIDs.random()
    })
}

func startRequest(_ id: String) -> Temporal_Api_Workflowservice_V1_StartWorkflowExecutionRequest {
    .with {
        $0.namespace = "default"
        $0.workflowID = id
        $0.workflowType.name = "Bench"
        $0.taskQueue.name = "q"
        $0.requestID = id
    }
}

/// Nanoseconds per call of `body`, over `count` calls.
func measure(_ count: Int, _ body: (Int) -> Void) -> Double {
    let elapsed = clock.measure { for index in 0..<count { body(index) } }
    return Double(elapsed.components.attoseconds / 1_000_000_000 + elapsed.components.seconds * 1_000_000_000) / Double(count)
}

func verdict(growth: Double, sizeRatio: Double) -> String {
    let exponent = log(growth) / log(sizeRatio)
    if growth <= 1.5 { return "flat" }
    if exponent < 0.5 { return "sub-linear (k=\(String(format: "%.2f", exponent)))" }
    if exponent <= 1.2 { return "linear (k=\(String(format: "%.2f", exponent)))" }
    return "worse than linear (k=\(String(format: "%.2f", exponent)))"
}

func report(_ name: String, sizes: [Int], _ costs: [Double]) {
    let base = costs[0]
    let cells = zip(sizes, costs).map { "\($0): \(String(format: "%.0f", $1)) ns" }.joined(separator: "  ")
    let growth = costs.last! / base
    let sizeRatio = Double(sizes.last!) / Double(sizes[0])
    print("\(name.padding(toLength: 44, withPad: " ", startingAt: 0)) \(cells)  ×\(String(format: "%.2f", growth)) → \(verdict(growth: growth, sizeRatio: sizeRatio))")
}

if !memoryOnly {
// 1. Starting a workflow, and a typical workflow-task round trip (poll + complete with a timer), with N
//    workflows already open.
let openSizes = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000]
var startCosts: [Double] = []
var taskCosts: [Double] = []
for size in openSizes {
    var core = makeCore()
    for index in 0..<size { _ = try! core.startWorkflow(startRequest("open-\(index)"), wallNow: wall) }
    // Drain the open workflows' first tasks so the queue holds only the measured ones.
    var poller: UInt64 = 1
    for _ in 0..<size {
        let task = try! core.pollWorkflowTask(namespace: "default", taskQueue: "q", identity: "w", poller: PollerID(rawValue: poller), wallNow: wall)!
        poller += 1
        try! core.completeWorkflowTask(.with { $0.namespace = "default"; $0.taskToken = task.taskToken }, wallNow: wall)
    }
    _ = core.takeTransition().effects
    let samples = 2_000
    startCosts.append(measure(samples) { index in
        _ = try! core.startWorkflow(startRequest("measured-\(index)"), wallNow: wall)
    })
    let timer = Temporal_Api_Command_V1_Command.with {
        $0.commandType = .startTimer
        $0.startTimerCommandAttributes = .with { $0.timerID = "t"; $0.startToFireTimeout = .init(seconds: 60) }
    }
    taskCosts.append(measure(samples) { _ in
        let task = try! core.pollWorkflowTask(namespace: "default", taskQueue: "q", identity: "w", poller: PollerID(rawValue: poller), wallNow: wall)!
        poller += 1
        try! core.completeWorkflowTask(
            .with { $0.namespace = "default"; $0.taskToken = task.taskToken; $0.commands = [timer] }, wallNow: wall)
    })
    _ = core.takeTransition().effects
}
report("start workflow (N open)", sizes: openSizes, startCosts)
report("poll + complete task with a timer (N open)", sizes: openSizes, taskCosts)

// 2. Timetable insert, cancel and pop with N entries pending.
let tableSizes = quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000]
var insertCosts: [Double] = [], cancelCosts: [Double] = [], popCosts: [Double] = []
for size in tableSizes {
    var table = Timetable()
    var ids: [EntryID] = []
    ids.reserveCapacity(size)
    for index in 0..<size {
        ids.append(table.add(at: wall + .seconds(Int64(index % 86_400)), .workflowRunTimeout, owner: nil))
    }
    insertCosts.append(measure(10_000) { index in
        ids.append(table.add(at: wall + .seconds(Int64(index % 86_400)), .workflowRunTimeout, owner: nil))
    })
    cancelCosts.append(measure(10_000) { index in table.cancel(ids[index * 7 % ids.count]) })
    popCosts.append(measure(10_000) { _ in _ = table.popDue(at: wall + .seconds(100_000)) })
}
report("timetable insert (N pending)", sizes: tableSizes, insertCosts)
report("timetable cancel (N pending)", sizes: tableSizes, cancelCosts)
report("timetable pop due (N pending)", sizes: tableSizes, popCosts)

// 3. Reading one page of history (100 events) from a run with E events, and appending one event.
let historySizes = quick ? [100, 10_000] : [100, 10_000, 50_000]
var readCosts: [Double] = [], appendCosts: [Double] = []
for size in historySizes {
    var core = makeCore()
    _ = try! core.startWorkflow(startRequest("long"), wallNow: wall)
    var index = 0
    while core.runs.values.first!.lastEventID < Int64(size) {
        try! core.signalWorkflow(
            .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "long"; $0.signalName = "s\(index)" },
            wallNow: wall)
        index += 1
    }
    _ = core.takeTransition().effects
    let middle = Data("h/\(core.runs.keys.first!)/\(size / 2)".utf8)
    readCosts.append(measure(2_000) { _ in
        _ = try! core.readHistory(.with {
            $0.namespace = "default"; $0.execution.workflowID = "long"; $0.maximumPageSize = 100
            $0.nextPageToken = middle
        })
    })
    appendCosts.append(measure(2_000) { index in
        try! core.signalWorkflow(
            .with { $0.namespace = "default"; $0.workflowExecution.workflowID = "long"; $0.signalName = "x\(index)" },
            wallNow: wall)
    })
    _ = core.takeTransition().effects
}
report("read a 100-event page (E events)", sizes: historySizes, readCosts)
report("append a signal (E events)", sizes: historySizes, appendCosts)
}

// 4. Memory: resident bytes per finished run shaped like the e2e "sleeper" (start, a task that starts a
//    one-day timer, the timer fires, a task that completes), 10,000 runs.
func residentBytes() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
}
if memoryOnly {
    let runs = quick ? 2_000 : 10_000
    var core = makeCore()
    let before = residentBytes()
    var poller: UInt64 = 1
    let timer = Temporal_Api_Command_V1_Command.with {
        $0.commandType = .startTimer
        $0.startTimerCommandAttributes = .with { $0.timerID = "day"; $0.startToFireTimeout = .init(seconds: 86_400) }
    }
    let complete = Temporal_Api_Command_V1_Command.with {
        $0.commandType = .completeWorkflowExecution
        $0.completeWorkflowExecutionCommandAttributes = .with { $0.result.payloads = [.with { $0.data = Data("null".utf8) }] }
    }
    for index in 0..<runs { _ = try! core.startWorkflow(startRequest("sleeper-\(index)"), wallNow: wall) }
    for commands in [[timer], [complete]] {
        for _ in 0..<runs {
            let task = try! core.pollWorkflowTask(namespace: "default", taskQueue: "q", identity: "w", poller: PollerID(rawValue: poller), wallNow: wall)!
            poller += 1
            try! core.completeWorkflowTask(
                .with {
                    $0.namespace = "default"; $0.taskToken = task.taskToken; $0.commands = commands
                    $0.sdkMetadata = .with { $0.langUsedFlags = [1, 2] }
                }, wallNow: wall)
        }
        if commands == [timer] { try! core.unlockTimeSkipping(wallNow: wall) }  // jumps: every timer fires
        _ = core.takeTransition().effects
    }
    let perRun = Double(residentBytes() - before) / Double(runs)
    let events = core.runs.values.map(\.lastEventID).reduce(0, +) / Int64(runs)
    print("memory per finished sleeper run (\(events) events): \(String(format: "%.1f", perRun / 1024)) KiB resident")
}
