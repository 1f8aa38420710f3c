internal import TemporalAPI

/// The clock's account of itself: the recent jumps, the clients awaiting a run's result, and the
/// time-skipping traps it saw (a jump that timed out a workflow only a client could have moved).
package struct ClockExplanation: Sendable {
    package private(set) var recentJumps = RecentJumps(capacity: 256)
    /// Runs whose close event a client is awaiting, with how many such waits.
    package private(set) var resultWaiters: [String: Int] = [:]
    /// The time-skipping trap, once per run that fell into it.
    package private(set) var traps: [String: TimeSkippingTrap] = [:]
    /// Traps reached by a jump that a client's unlock permitted before any client awaited a result: SDKs
    /// unlock first and ask for the result just after, so a worker can finish the task (and the clock
    /// jump) in between. Reported when the client reads the run's close event (`resultRead`), naming
    /// the workflow, or when a client locks the clock again, whichever comes first.
    private var unreportedTraps: [String: TimeSkippingTrap] = [:]

    package init() {}

    mutating func noteJump(_ jump: ClockJump) { recentJumps.append(jump) }

    /// A client started (+1) or stopped (-1) awaiting a run's close event.
    mutating func noteResultWaiter(_ runID: String, _ delta: Int) {
        let count = (resultWaiters[runID] ?? 0) + delta
        resultWaiters[runID] = count > 0 ? count : nil
    }

    func hasTrap(_ runID: String) -> Bool { traps[runID] != nil }

    /// A jump trapped a run; answers the trap if it is to be reported now.
    mutating func noteTrap(_ trap: TimeSkippingTrap) -> TimeSkippingTrap? {
        traps[trap.run.runID] = trap
        if trap.jump.awaitedWorkflowIDs.isEmpty && trap.jump.awaitedUpdates.isEmpty
            && trap.jump.permittedBy != .startedUnlocked
        {
            unreportedTraps[trap.run.runID] = trap
            return nil
        }
        return trap
    }

    /// A client read the close event of `runID`: its unreported trap, naming the awaited workflow.
    mutating func resultRead(_ runID: String) -> TimeSkippingTrap? {
        guard var trap = unreportedTraps.removeValue(forKey: runID) else { return nil }
        trap.jump.awaitedWorkflowIDs = [trap.run.workflowID]
        traps[runID] = trap
        return trap
    }

    /// The client locked again without reading those runs' results: their traps as they were.
    mutating func takeUnreportedTraps() -> [TimeSkippingTrap] {
        defer { unreportedTraps.removeAll() }
        return unreportedTraps.values.sorted { $0.jump.wallTime < $1.jump.wallTime }
    }
}
