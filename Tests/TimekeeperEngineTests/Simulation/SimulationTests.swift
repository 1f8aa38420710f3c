import Foundation
import Testing
@testable import TimekeeperEngine

/// The deterministic simulation of the engine's functional core: seeded random interleavings of every
/// client, worker and clock call, with every `Invariant` checked after every step.
///
/// `TIMEKEEPER_SIM_SEEDS=N` runs seeds 1...N (default 1,500: about 40 s in a debug build on two cores);
/// `TIMEKEEPER_SIM_SEED=S` replays seed S alone and prints its steps.
/// Serialized: each test keeps a thread busy for seconds, and two at once would leave the cooperative pool
/// (two threads here) none for the tests that wait on timers (EventLoopWallClockTests saw a 17 s stall).
@Suite(.serialized) struct SimulationTests {
    static let defaultSeedCount = 1_500
    /// Full reports for at most this many failing seeds (the rest are counted).
    static let reportedFailures = 3

    @Test func randomInterleavingsKeepEveryInvariant() {
        let environment = ProcessInfo.processInfo.environment
        if let seed = environment["TIMEKEEPER_SIM_SEED"].flatMap({ UInt64($0) }) {
            let simulation = Simulation(seed: seed)
            print(simulation.report)
            #expect(simulation.failure == nil, "seed \(seed) broke an invariant: its report is printed above")
            return
        }
        let count = environment["TIMEKEEPER_SIM_SEEDS"].flatMap({ UInt64($0) }) ?? UInt64(Self.defaultSeedCount)
        var failed: [UInt64] = []
        var steps = 0
        for seed in 1...max(1, count) {
            let simulation = Simulation(seed: seed)
            steps += simulation.stepCount
            guard let failure = simulation.failure else { continue }
            failed.append(seed)
            if failed.count <= 50 { print("seed \(seed) step \(failure.step): \(failure.violations[0])") }
            if failed.count <= Self.reportedFailures {
                print(simulation.report)
                Issue.record("seed \(seed) broke an invariant at step \(failure.step): \(failure.violations[0]) (report above)")
            }
        }
        print("Simulation: \(count) seeds, \(steps) steps, \(failed.count) failed\(failed.isEmpty ? "" : ": \(failed.prefix(20))")")
        #expect(failed.isEmpty, "\(failed.count) of \(count) seeds broke an invariant: \(failed.prefix(20))")
    }

    @Test func theSameSeedGivesTheSameStepsAndOutcomes() {
        for seed: UInt64 in [7, 42, 1_000_003] {
            let first = Simulation(seed: seed)
            let second = Simulation(seed: seed)
            #expect(first.transcript == second.transcript, "seed \(seed) replayed differently")
            #expect(first.stepCount > 50)
        }
    }
}
