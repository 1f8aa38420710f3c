import Foundation
import Testing
internal import SwiftProtobuf
internal import TemporalAPI
@testable import TimekeeperEngine

/// `PauseActivity` / `UnpauseActivity`: no attempt is handed out and no timeout runs while paused, a
/// running attempt hears of it from its heartbeat, a failure while paused waits for the unpause.
@Suite struct ActivityPauseTests {
    private func pause(_ scenario: inout Scenario, _ id: String = "a", requestID: String = "") throws(EngineError) {
        try scenario.core.pauseActivity(.with {
            $0.namespace = "default"
            $0.execution.workflowID = "wf"
            $0.id = id
            $0.requestID = requestID
            $0.reason = "looking"
        }, wallNow: scenario.wall)
    }

    private func unpause(_ scenario: inout Scenario, _ id: String = "a") throws(EngineError) {
        try scenario.core.unpauseActivity(.with {
            $0.namespace = "default"
            $0.execution.workflowID = "wf"
            $0.id = id
        }, wallNow: scenario.wall)
    }

    private func activity(_ scenario: Scenario) throws -> ActivityState {
        try #require(scenario.core.runs["run-1"]?.activities.values.first)
    }

    @Test func aPausedWaitingActivityIsNotHandedOutNorTimedOutUntilUnpaused() throws {
        var scenario = Scenario()
        try scenario.startAndRun([activityCommand("a", startToClose: 5)])
        try pause(&scenario)
        #expect(try scenario.pollActivity() == nil)
        scenario.advanceWall(by: .seconds(3600))  // far past every timeout: none runs while paused
        #expect(try activity(scenario).isPaused)
        #expect(scenario.eventTypes("run-1").last == .activityTaskScheduled)
        try unpause(&scenario)
        let task = try #require(try scenario.pollActivity())
        #expect(task.attempt == 1)
    }

    @Test func aRunningAttemptHearsOfThePauseAndItsFailureWaitsForTheUnpause() throws {
        var scenario = Scenario()
        try scenario.startAndRun([activityCommand("a", maximumAttempts: 1)])
        let task = try #require(try scenario.pollActivity())
        try pause(&scenario)
        let answer = try scenario.core.heartbeatActivity(.token(task.taskToken), details: nil, wallNow: scenario.wall)
        #expect(answer == .init(cancelRequested: false, paused: true))
        // Its only attempt fails while paused: no failure is written, the next attempt waits (past the maximum).
        try scenario.core.failActivity(
            .token(task.taskToken), failure: .with { $0.message = "paused" }, lastHeartbeatDetails: nil, identity: "w",
            wallNow: scenario.wall)
        #expect(!scenario.eventTypes("run-1").contains(.activityTaskFailed))
        #expect(try activity(scenario).attempt == 2)
        #expect(try scenario.pollActivity() == nil)
        try unpause(&scenario)
        #expect(try scenario.pollActivity()?.attempt == 2)
    }

    @Test func pausingTwiceWithAnotherRequestIdIsRefusedAndTheSameIsANoOp() throws {
        var scenario = Scenario()
        try scenario.startAndRun([activityCommand("a")])
        try pause(&scenario, requestID: "r1")
        let before = scenario.core.runs
        try pause(&scenario, requestID: "r1")
        #expect(scenario.core.runs == before)
        let error = try #require(throws: EngineError.self) { try pause(&scenario, requestID: "r2") }
        #expect(error.code == .failedPrecondition)
    }

    @Test func anUnknownActivityOrAMissingSelectionIsRefusedNamingTheProblem() throws {
        var scenario = Scenario()
        try scenario.startAndRun([activityCommand("a")])
        let unknown = try #require(throws: EngineError.self) { try pause(&scenario, "nope") }
        #expect(unknown.code == .notFound)
        let missing = try #require(throws: EngineError.self) {
            try scenario.core.pauseActivity(.with { $0.namespace = "default"; $0.execution.workflowID = "wf" }, wallNow: scenario.wall)
        }
        #expect(missing.code == .invalidArgument && missing.message.contains("Activity.Id"))
        #expect(try activity(scenario).isPaused == false)
    }
}
