@testable import TimekeeperEngine

/// One seed's simulation: its steps, generated one at a time from the seed and the world, performed on
/// an `EngineCore`, and every invariant checked after each; then a drain that polls every queue with
/// work and checks that nothing queued was lost. It stops at the first step that breaks a rule.
struct Simulation {
    let seed: UInt64
    let configuration: (skipsTime: Bool, startsLocked: Bool)
    /// Each step performed, with the error that refused it if one did (described only when asked for).
    private var performed: [(step: SimulationStep, error: EngineError?)] = []

    var stepCount: Int { performed.count }

    /// Each step performed, with what came of it.
    var transcript: [String] {
        performed.map { "\($0.step) → \($0.error.map { "refused: \($0)" } ?? "ok")" }
    }
    /// The step (1-based) that broke a rule, and what it broke.
    private(set) var failure: (step: Int, violations: [Violation])?

    /// Runs `seed`; `stepCount` overrides the seed's own choice of 100-300 random steps. With
    /// `durableStore`, every transition is also committed to that store, and every `reopenInterval` steps
    /// (and after the drain) the store is closed, opened again, and a core rebuilt from it is compared.
    init(seed: UInt64, stepCount: Int? = nil, durableStore: DurableStoreUnderTest? = nil) {
        self.seed = seed
        var generator = StepGenerator(seed: seed)
        configuration = generator.configuration()
        let count = stepCount ?? generator.stepCount()
        var world = SimulationWorld(skipsTime: configuration.skipsTime, startsLocked: configuration.startsLocked)
        var checker = InvariantChecker(world)
        if let durableStore {
            do { world.mirror = try durableStore.open() } catch {
                failure = (0, [Violation(.replayEquivalence, "the durable store does not open: \(error)")])
                return
            }
        }
        for _ in 0..<count {
            guard perform(generator.next(world), in: &world, checker: &checker) else { return }
            if let durableStore, performed.count % Self.reopenInterval == 0 {
                let violations = Self.reopen(durableStore, &world)
                if !violations.isEmpty { failure = (performed.count, violations); return }
            }
        }
        // The drain: poll each queue where a task waits until none does (bounded, in case one is lost).
        for _ in 0..<100 {
            guard let step = Self.drainStep(world, poller: PollerID(rawValue: 1_000_000 + UInt64(performed.count))) else { break }
            guard perform(step, in: &world, checker: &checker) else { return }
        }
        var lost = checker.checkDrained(world)
        lost += Self.replayViolations(world)
        if let durableStore { lost += Self.reopen(durableStore, &world) }
        world.mirror?.close()
        if !lost.isEmpty { failure = (performed.count, lost) }
    }

    /// A store that can be closed and opened again on what it wrote.
    struct DurableStoreUnderTest {
        var open: () throws -> any ExecutionStore
    }

    static let reopenInterval = 50

    /// Closes the world's durable store, opens it again, and compares a core rebuilt from it with the live
    /// one; the world goes on committing to the reopened store.
    private static func reopen(_ durableStore: DurableStoreUnderTest, _ world: inout SimulationWorld) -> [Violation] {
        world.mirror?.close()  // everything written, and the file let go: it is this process's alone while open
        world.mirror = nil
        var reopened: any ExecutionStore
        do { reopened = try durableStore.open() } catch {
            return [Violation(.replayEquivalence, "the durable store does not open again: \(error)")]
        }
        let differences = ReplayEquivalence.differences(live: world.core, store: reopened)
        reopened.didRecover()
        world.mirror = reopened
        return differences.map { Violation(.replayEquivalence, "durable store: \($0)") }
    }

    /// Every this many steps (and after the drain) the core is rebuilt from its store and compared.
    static let replayInterval = 10

    private static func replayViolations(_ world: SimulationWorld) -> [Violation] {
        ReplayEquivalence.differences(live: world.core, store: world.store).map { Violation(.replayEquivalence, $0) }
    }

    private mutating func perform(_ step: SimulationStep, in world: inout SimulationWorld, checker: inout InvariantChecker) -> Bool {
        let before = world.settled && step.mayThrow ? checker.snapshot(world.core) : nil
        let report = world.perform(step)
        performed.append((step, report.error))
        var violations = checker.check(world, after: step, report, before: before)
        if performed.count % Self.replayInterval == 0 { violations += Self.replayViolations(world) }
        if violations.isEmpty { return true }
        failure = (performed.count, violations)
        return false
    }

    /// A poll of a queue where a task waits, or nil when no task waits anywhere.
    private static func drainStep(_ world: SimulationWorld, poller: PollerID) -> SimulationStep? {
        // A legacy query with a worker holds its run's next workflow task; its caller gives up, as a
        // real one does at its deadline.
        if let id = world.core.queries.filter({ $0.value.route == .legacyDispatched }).keys.min(by: { $0.rawValue < $1.rawValue }) {
            return .abandonQuery(id)
        }
        var workflowQueues: [TaskQueueKey] = []
        var activityQueues: [TaskQueueKey] = []
        for run in world.core.currentRuns.values.compactMap({ world.core.runs[$0] }) where run.isOpen {
            if case .scheduled = run.workflowTask {
                workflowQueues.append(TaskQueueKey(namespace: run.ref.namespace, name: run.stickyQueue ?? run.taskQueue))
            }
            for activity in run.activities.values where activity.phase == .scheduled {
                activityQueues.append(TaskQueueKey(namespace: run.ref.namespace, name: activity.taskQueue))
            }
        }
        for query in world.core.queries.values where query.route == .legacyQueued {
            let run = world.core.runs[query.runID]!
            workflowQueues.append(TaskQueueKey(namespace: run.ref.namespace, name: run.taskQueue))
        }
        let order = { (a: TaskQueueKey, b: TaskQueueKey) in (a.namespace, a.name) < (b.namespace, b.name) }
        if let queue = workflowQueues.sorted(by: order).first {
            return .pollWorkflowTask(namespace: queue.namespace, queue: queue.name, poller: poller, keepsWaiting: false)
        }
        if let queue = activityQueues.sorted(by: order).first {
            return .pollActivityTask(namespace: queue.namespace, queue: queue.name, poller: poller, keepsWaiting: false)
        }
        return nil
    }

    /// The failure report: seed, step, what broke, how to replay, and the numbered step list.
    var report: String {
        let transcript = transcript
        var lines: [String] = []
        if let failure {
            lines.append("Simulation seed \(seed) broke an invariant at step \(failure.step) of \(transcript.count):")
            lines += failure.violations.map { "  \($0)" }
        } else {
            lines.append("Simulation seed \(seed) kept every invariant in \(transcript.count) steps.")
        }
        lines.append("Replay: TIMEKEEPER_SIM_SEED=\(seed) swift test --skip-build --filter randomInterleavingsKeepEveryInvariant")
        lines.append("Steps (skipsTime: \(configuration.skipsTime), startsLocked: \(configuration.startsLocked)):")
        for (index, line) in transcript.enumerated() {
            lines.append("\(String(repeating: " ", count: max(0, 4 - String(index + 1).count)))\(index + 1). \(line)")
        }
        return lines.joined(separator: "\n")
    }
}
