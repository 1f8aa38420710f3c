import SwiftProtobuf
import TemporalAPI
import Testing
@testable import TimekeeperEngine

@Suite struct ClockExplanationTests {
    @Test func aJumpToTheExecutionTimeoutOfABlockedWorkflowIsCaughtAsTheTrap() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf") { $0.workflowExecutionTimeout.seconds = 600 }
        scenario.core.noteResultWaiter("run-1", 1)  // a client awaits the result, as result() does
        try scenario.core.unlockTimeSkipping(wallNow: scenario.wall)
        try scenario.complete(try #require(try scenario.poll()), [])  // blocked in wait_condition

        let trap = try #require(scenario.core.traps["run-1"])
        #expect(trap.jump.distance == .seconds(600))
        #expect(trap.description.contains("workflow wf"))
        #expect(trap.description.contains("600 s to its execution timeout"))
        #expect(trap.description.contains("UnlockTimeSkipping while it awaited the result of workflow wf"))
        #expect(scenario.core.takeTransition().effects.filter { if case .trapDetected = $0 { true } else { false } }.count == 1)
    }

    @Test func aTrapReachedBeforeTheResultRequestIsReportedWhenTheClientReadsTheCloseNamingTheWorkflow() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf") { $0.workflowExecutionTimeout.seconds = 600 }
        // result() unlocks first; the worker finishes the task (and the clock jumps) before its history request.
        try scenario.core.unlockTimeSkipping(wallNow: scenario.wall)
        try scenario.complete(try #require(try scenario.poll()), [])
        #expect(scenario.core.traps["run-1"] != nil)
        #expect(trapsReported(&scenario).isEmpty)

        let close = try scenario.core.readHistory(.with {
            $0.namespace = "default"
            $0.execution.workflowID = "wf"
            $0.waitNewEvent = true
            $0.historyEventFilterType = .closeEvent
        })
        guard case .page = close else {
            Issue.record("the closed run's close event is answered at once")
            return
        }
        let reported = trapsReported(&scenario)
        #expect(reported.count == 1)
        #expect(reported.first?.description.contains("UnlockTimeSkipping while it awaited the result of workflow wf") == true)
        #expect(scenario.core.traps["run-1"]?.description == reported.first?.description)
        // Reported once: a second read or a lock adds nothing.
        _ = try scenario.core.readHistory(.with {
            $0.namespace = "default"
            $0.execution.workflowID = "wf"
            $0.historyEventFilterType = .closeEvent
        })
        scenario.core.lockTimeSkipping(wallNow: scenario.wall)
        #expect(trapsReported(&scenario).isEmpty)
    }

    @Test func aTrapWhoseResultNobodyReadsIsReportedWhenTheClientLocksAgain() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf") { $0.workflowExecutionTimeout.seconds = 600 }
        try scenario.core.unlockTimeSkipping(wallNow: scenario.wall)
        try scenario.complete(try #require(try scenario.poll()), [])
        #expect(trapsReported(&scenario).isEmpty)
        scenario.core.lockTimeSkipping(wallNow: scenario.wall)
        let reported = trapsReported(&scenario)
        #expect(reported.count == 1)
        #expect(reported.first?.description.contains("permitted by a client's UnlockTimeSkipping.") == true)
    }

    @Test func withTimeSkippingOnFromTheStartATrapIsReportedAtOnce() throws {
        var scenario = Scenario(startsLocked: false)
        _ = try scenario.start("wf") { $0.workflowExecutionTimeout.seconds = 600 }
        try scenario.complete(try #require(try scenario.poll()), [])
        #expect(trapsReported(&scenario).count == 1)
    }

    private func trapsReported(_ scenario: inout Scenario) -> [TimeSkippingTrap] {
        scenario.core.takeTransition().effects.compactMap { if case .trapDetected(let trap) = $0 { trap } else { nil } }
    }

    @Test func aWorkflowWithATimerOfItsOwnIsNotTrapped() throws {
        var scenario = Scenario()
        _ = try scenario.start("wf") { $0.workflowExecutionTimeout.seconds = 600 }
        try scenario.core.unlockTimeSkipping(wallNow: scenario.wall)
        try scenario.complete(try #require(try scenario.poll()), [timerCommand("t", seconds: 60)])
        let jump = try #require(scenario.core.recentJumps.inOrder.last)
        #expect(jump.target.kind == .userTimer(timerID: "t", startedEventID: 5))
        #expect(jump.permission == "permitted by a client's UnlockTimeSkipping")
        #expect(scenario.core.traps.isEmpty)
    }

    @Test func aJumpSaysWhichClientCallPermittedIt() throws {
        var scenario = Scenario()
        try scenario.core.sleep(SleepID(rawValue: 1), until: .after(.seconds(1800)), unlocking: true, wallNow: scenario.wall)
        let jump = try #require(scenario.core.recentJumps.inOrder.last)
        #expect(jump.permission.contains("UnlockTimeSkippingWithSleep(1800 s)"))
        #expect(jump.description.contains("clock jumped 1800.000 s"))

        var unlocked = Scenario(startsLocked: false)
        _ = try unlocked.start("wf")
        try unlocked.complete(try #require(try unlocked.poll()), [timerCommand("t", seconds: 5)])
        #expect(unlocked.core.recentJumps.inOrder.last?.permission.contains("--enable-time-skipping") == true)
    }

    @Test func recentJumpsAreBounded() {
        var jumps = RecentJumps(capacity: 3)
        let entry = TimetableEntry(id: EntryID(rawValue: 1), fireAt: Instant(nanosecondsSinceEpoch: 0), kind: .workflowRunTimeout, owner: nil)
        for second in 1...5 {
            jumps.append(ClockJump(
                from: Instant(nanosecondsSinceEpoch: 0), to: Instant(nanosecondsSinceEpoch: Int64(second)),
                target: entry, wallTime: Instant(nanosecondsSinceEpoch: 0), permittedBy: .startedUnlocked))
        }
        #expect(jumps.inOrder.map(\.to.nanosecondsSinceEpoch) == [3, 4, 5])
    }
}
