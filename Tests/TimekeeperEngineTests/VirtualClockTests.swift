import SwiftProtobuf
import Testing
import TemporalAPI
@testable import TimekeeperEngine

@Suite struct VirtualClockTests {
    @Test func whileLockedVirtualTimeFlowsAtWallSpeed() throws {
        var scenario = Scenario()
        let start = scenario.core.now
        _ = try scenario.start("wf") { $0.workflowExecutionTimeout.seconds = 600 }
        scenario.advanceWall(by: .seconds(30))
        #expect(scenario.core.now - start == .seconds(30))
        #expect(scenario.run("run-1")?.isOpen == true)
    }

    @Test func withNothingInFlightAndTheClientUnlockedTheClockJumpsToTheExecutionTimeout() throws {
        var scenario = Scenario()
        let start = scenario.core.now
        _ = try scenario.start("wf") { $0.workflowExecutionTimeout.seconds = 600 }
        try scenario.core.unlockTimeSkipping(wallNow: scenario.wall)
        #expect(scenario.run("run-1")?.isOpen == true, "the scheduled workflow task holds the clock")

        // The workflow waits for a signal: its task completes with no commands.
        try scenario.complete(try #require(try scenario.poll()), [])
        #expect(scenario.run("run-1")?.status == .timedOut)
        #expect(scenario.run("run-1")?.closeEvent?.workflowExecutionTimedOutEventAttributes.retryState == .timeout)
        #expect(scenario.core.now - start == .seconds(600), "no wall time passed, yet 600 virtual seconds did")
        let jump = try #require(scenario.core.recentJumps.inOrder.last)
        #expect(jump.target.kind == .workflowRunTimeout)
        #expect(jump.target.owner?.workflowID == "wf")
    }

    @Test func wallTimePassingWhileSkippingIsNotAdded() throws {
        var scenario = Scenario(startsLocked: false)
        scenario.core.settle(scenario.wall)
        let start = scenario.core.now
        // Nothing in the timetable: time flows even when unlocked (the Java server's empty-queue hold).
        scenario.advanceWall(by: .seconds(2))
        #expect(scenario.core.now - start == .seconds(2))
    }

    @Test func unlockingBelowZeroIsRefusedWithAClearMessage() throws {
        var scenario = Scenario()
        try scenario.core.unlockTimeSkipping(wallNow: scenario.wall)
        let error = try #require(throws: EngineError.self) { try scenario.core.unlockTimeSkipping(wallNow: scenario.wall) }
        #expect(error.code == .failedPrecondition)
        #expect(error.message.contains("Unbalanced"))
        #expect(scenario.core.clock.lockCount == 0)
    }

    @Test func aClientUnlockMayBorrowAHoldTakenByWork() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf")
        try scenario.core.unlockTimeSkipping(wallNow: scenario.wall)  // the client's own lock
        try scenario.core.unlockTimeSkipping(wallNow: scenario.wall)  // borrows the workflow task's hold
        #expect(scenario.core.clock.lockCount == 0)
        #expect(scenario.run("run-1")?.status == .timedOut, "with the count at zero the clock ran to the 10-year timeout")
    }

    @Test func unlockWithSleepJumpsToItsDeadlineAndLocksAgain() throws {
        var scenario = Scenario()
        let start = scenario.core.now
        try scenario.core.sleep(SleepID(rawValue: 1), until: .after(.seconds(1800)), unlocking: true, wallNow: scenario.wall)
        let effects = scenario.core.takeTransition().effects
        #expect(effects.contains { if case .finishSleep(SleepID(rawValue: 1)) = $0 { true } else { false } })
        #expect(scenario.core.now - start == .seconds(1800))
        #expect(scenario.core.clock.lockCount == 1, "re-locked")
    }

    /// Regression (issue 10): the unlock used to happen before the duration was checked, so a refused
    /// request left the clock unlocked and free to jump to the workflow's timeout.
    @Test func aRefusedUnlockingSleepLeavesTheLockAndTheClockAlone() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf") { $0.workflowExecutionTimeout.seconds = 600 }
        try scenario.complete(try #require(try scenario.poll()), [])
        let start = scenario.core.now
        let error = try #require(throws: EngineError.self) {
            try scenario.core.sleep(SleepID(rawValue: 1), until: .after(.seconds(-5)), unlocking: true,
                                    wallNow: scenario.wall)
        }
        #expect(error.code == .invalidArgument)
        #expect(scenario.core.clock.lockCount == 1, "the client's lock is still held")
        #expect(scenario.core.now == start, "no jump")
        #expect(scenario.run("run-1")?.isOpen == true)
    }

    @Test func aLockedSleepWaitsForWallTime() throws {
        var scenario = Scenario()
        try scenario.core.sleep(SleepID(rawValue: 1), until: .after(.seconds(3)), unlocking: false, wallNow: scenario.wall)
        _ = scenario.core.takeTransition().effects
        scenario.advanceWall(by: .seconds(2))
        #expect(scenario.core.takeTransition().effects.isEmpty)
        #expect(scenario.core.nextWake(after: scenario.wall) == scenario.wall + .seconds(1))
        scenario.advanceWall(by: .seconds(1))
        #expect(scenario.core.takeTransition().effects.contains { if case .finishSleep = $0 { true } else { false } })
    }

    @Test func aWallClockNeverJumps() throws {
        var scenario = Scenario(skipsTime: false, startsLocked: false)
        _ = try scenario.start("wf") { $0.workflowExecutionTimeout.seconds = 600 }
        try scenario.complete(try #require(try scenario.poll()), [])
        #expect(scenario.run("run-1")?.isOpen == true)
        scenario.advanceWall(by: .seconds(600))
        #expect(scenario.run("run-1")?.status == .timedOut)
    }
}
