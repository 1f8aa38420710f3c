import Foundation
import Testing
internal import SwiftProtobuf
internal import TemporalAPI
@testable import TimekeeperEngine

/// The Schedules API in the engine: create, describe, trigger, pause, delete, and the runs it starts.
@Suite struct ScheduleTests {
    private func create(
        _ scenario: inout Scenario, id: String = "s", requestID: String = "r1", paused: Bool = true,
        spec: ScheduleSpec = .with { $0.interval = [.with { $0.interval = .init(seconds: 3600) }] },
        patch: Temporal_Api_Schedule_V1_SchedulePatch? = nil
    ) throws(EngineError) -> Data {
        try scenario.core.createSchedule(.with {
            $0.namespace = "default"
            $0.scheduleID = id
            $0.requestID = requestID
            $0.schedule = .with {
                $0.spec = spec
                $0.action.startWorkflow = .with {
                    $0.workflowID = "wf"
                    $0.workflowType.name = "W"
                    $0.taskQueue.name = "q"
                    $0.header.fields["foo"] = .with { $0.data = Data("bar".utf8) }
                }
                $0.state.paused = paused
            }
            if let patch { $0.initialPatch = patch }
        }, wallNow: scenario.wall)
    }

    @Test func describeAnswersTheScheduleAsCreatedWithTemporalsDefaultsFilledIn() throws {
        var scenario = Scenario()
        let token = try create(&scenario)
        #expect(token == Data([0, 0, 0, 0, 0, 0, 0, 1]))
        let described = try scenario.core.describeSchedule(namespace: "default", scheduleID: "s")
        #expect(described.schedule.action.startWorkflow.header.fields["foo"]?.data == Data("bar".utf8))
        #expect(described.schedule.policies.overlapPolicy == .skip)
        #expect(described.schedule.policies.catchupWindow.seconds == 365 * 24 * 3600)
        #expect(described.schedule.state.paused)
        #expect(described.info.actionCount == 0)
        #expect(described.info.createTime == scenario.core.now.timestamp)
    }

    @Test func aSecondCreateWithTheSameIdIsRefusedUnlessItRepeatsTheRequest() throws {
        var scenario = Scenario()
        _ = try create(&scenario)
        _ = try create(&scenario)  // the same request id again: answered as the first time
        let error = try #require(throws: EngineError.self) { try create(&scenario, requestID: "r2") }
        #expect(error.code == .alreadyExists)
        guard case .workflowExecutionAlreadyStarted? = error.detail else {
            Issue.record("the detail SDKs decode as ScheduleAlreadyRunningError is missing")
            return
        }
    }

    @Test func aTriggerOnCreateStartsTheWorkflowBeforeTheCallReturnsEvenWhilePaused() throws {
        var scenario = Scenario()
        _ = try create(&scenario, patch: .with { $0.triggerImmediately = .init() })
        let described = try scenario.core.describeSchedule(namespace: "default", scheduleID: "s")
        #expect(described.info.actionCount == 1)
        let started = try #require(described.info.recentActions.first?.startWorkflowResult)
        #expect(described.info.runningWorkflows.map(\.workflowID) == [started.workflowID])
        // The workflow id carries the nominal time to the second; the run carries who scheduled it.
        #expect(started.workflowID.hasPrefix("wf-") && started.workflowID.hasSuffix("Z"))
        let attributes = try #require(scenario.run(started.runID)?.history.first?.workflowExecutionStartedEventAttributes)
        #expect(String(decoding: attributes.searchAttributes.indexedFields["TemporalScheduledById"]?.data ?? Data(), as: UTF8.self) == "\"s\"")
        #expect(attributes.searchAttributes.indexedFields["TemporalScheduledStartTime"] != nil)
        #expect(attributes.header.fields["foo"]?.data == Data("bar".utf8))
    }

    @Test func unknownSchedulesAreNotFoundAndDeleteRemovesOne() throws {
        var scenario = Scenario()
        let missing = try #require(throws: EngineError.self) { try scenario.core.describeSchedule(namespace: "default", scheduleID: "s") }
        #expect(missing.code == .notFound)
        _ = try create(&scenario)
        try scenario.core.deleteSchedule(namespace: "default", scheduleID: "s", wallNow: scenario.wall)
        #expect(throws: EngineError.self) { try scenario.core.describeSchedule(namespace: "default", scheduleID: "s") }
        #expect(throws: EngineError.self) { try scenario.core.deleteSchedule(namespace: "default", scheduleID: "s", wallNow: scenario.wall) }
    }

    @Test func anUnpausedIntervalScheduleStartsAWorkflowEachIntervalAndSkipsWhileOneRuns() throws {
        var scenario = Scenario()
        _ = try create(&scenario, paused: false, spec: .with { $0.interval = [.with { $0.interval = .init(seconds: 10) }] })
        let before = try scenario.core.describeSchedule(namespace: "default", scheduleID: "s")
        #expect(before.info.futureActionTimes.count == 10)
        scenario.advanceWall(by: .seconds(25))  // two matching times pass; the first run is still open at the second
        let after = try scenario.core.describeSchedule(namespace: "default", scheduleID: "s")
        #expect(after.info.actionCount == 1)
        #expect(after.info.overlapSkipped == 1)
    }

    @Test func aBackfillOfMoreThanAThousandActionsIsRefusedAndStartsNothing() throws {
        var scenario = Scenario()
        _ = try create(&scenario, spec: .with { $0.interval = [.with { $0.interval = .init(seconds: 1) }] })
        let start = scenario.core.now
        let patch = PatchScheduleRequest.with {
            $0.namespace = "default"
            $0.scheduleID = "s"
            $0.patch.backfillRequest = [.with {
                $0.startTime = start.timestamp
                $0.endTime = (start + .seconds(2000)).timestamp  // 2,001 one-second times
            }]
        }
        let error = try #require(throws: EngineError.self) { try scenario.core.patchSchedule(patch, wallNow: scenario.wall) }
        #expect(error.code == .invalidArgument && error.message.contains("more than 1000"))
        #expect(scenario.core.runs.isEmpty)
        var small = patch
        small.patch.backfillRequest[0].endTime = (start + .seconds(2)).timestamp
        try scenario.core.patchSchedule(small, wallNow: scenario.wall)
        #expect(try scenario.core.describeSchedule(namespace: "default", scheduleID: "s").info.actionCount == 1,
                "three times, one started and two skipped while it runs")
    }

    @Test func anInvalidSpecOrAMissingActionIsRefusedAndNothingIsCreated() throws {
        var scenario = Scenario()
        let error = try #require(throws: EngineError.self) {
            try create(&scenario, spec: .with { $0.cronString = ["not a cron"] })
        }
        #expect(error.code == .invalidArgument && error.message.hasPrefix("Invalid schedule spec:"))
        #expect(scenario.core.schedules.isEmpty)
    }
}
