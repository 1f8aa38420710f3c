import Foundation
import Testing
internal import SwiftProtobuf
internal import TemporalAPI
@testable import TimekeeperEngine
import TimekeeperStore

/// Schedules in the durable store: every change a transition makes to a schedule is carried by it, and an
/// engine rebuilt from the file has each schedule as it was, its next time armed again.
@Suite struct DurableScheduleTests {
    static func create(_ scenario: inout Scenario, id: String, paused: Bool, every seconds: Int64) throws {
        _ = try scenario.core.createSchedule(.with {
            $0.namespace = "default"
            $0.scheduleID = id
            $0.requestID = "r-\(id)"
            $0.memo.fields["note"] = .with { $0.data = Data("kept".utf8) }
            $0.schedule = .with {
                $0.spec = .with { $0.interval = [.with { $0.interval = .init(seconds: seconds) }] }
                $0.action.startWorkflow = .with {
                    $0.workflowID = "wf-\(id)"
                    $0.workflowType.name = "W"
                    $0.taskQueue.name = "q"
                }
                $0.state.paused = paused
            }
        }, wallNow: scenario.wall)
    }

    @Test func anEngineRebuiltFromTheFileHasEverySchedule() throws {
        let path = StoreFiles.temporaryPath("durable-schedules")
        defer { StoreFiles.remove(path) }
        var store = try SQLiteExecutionStore(path: path)
        try store.load()
        var scenario = Scenario(skipsTime: false, startsLocked: false)
        try Self.create(&scenario, id: "running", paused: false, every: 10)
        try Self.create(&scenario, id: "paused", paused: true, every: 3600)
        try Self.create(&scenario, id: "deleted", paused: true, every: 60)
        store.commit(scenario.core.takeTransition())
        scenario.advanceWall(by: .seconds(25))  // two matching times: one start, one skipped (still running)
        store.commit(scenario.core.takeTransition())
        try scenario.core.deleteSchedule(namespace: "default", scheduleID: "deleted", wallNow: scenario.wall)
        store.commit(scenario.core.takeTransition())
        #expect(scenario.core.takeTransition().scheduleRecords.isEmpty, "an unchanged schedule is not carried again")
        store.close()

        var reopened = try SQLiteExecutionStore(path: path)
        try reopened.load()
        defer { reopened.close() }
        #expect(Set(reopened.scheduleRecords.keys.map(\.scheduleID)) == ["running", "paused"])
        let recovered = try EngineCore(recovering: reopened, configuration: scenario.core.configuration,
                                       wallNow: scenario.wall, makeRunID: { "recovered" })
        for id in ["running", "paused"] {
            let key = ScheduleKey(namespace: "default", scheduleID: id)
            var live = try #require(scenario.core.schedules[key])
            let rebuilt = try #require(recovered.schedules[key])
            // A paused schedule's handled-until time is when it was last armed (it matters only once it is
            // unpaused, which arms it again): recovery arms it at its own now.
            if live.isPaused { live.processedUntil = rebuilt.processedUntil }
            #expect(rebuilt.keepsTheSameAs(live), "schedule \(id)")
        }
        let running = try recovered.describeSchedule(namespace: "default", scheduleID: "running")
        #expect(running.info.actionCount == 1)
        #expect(running.info.overlapSkipped == 1)
        #expect(running.memo.fields["note"]?.data == Data("kept".utf8))
        // Its next time is armed again; the paused one has none.
        let runningKey = ScheduleKey(namespace: "default", scheduleID: "running")
        let wakeup = try #require(recovered.schedules[runningKey]?.wakeup.flatMap { recovered.timetable.entry($0) })
        #expect(wakeup.fireAt == scenario.core.schedules[runningKey]!.futureTimes(after: scenario.wall, count: 1).first)
        #expect(recovered.schedules[ScheduleKey(namespace: "default", scheduleID: "paused")]?.wakeup == nil)
    }
}
