import Foundation
import SwiftProtobuf
import TemporalAPI
import Testing
@testable import TimekeeperEngine

/// Worker heartbeats: the latest of each worker is kept, bounded per namespace and in time, and read
/// through the worker query fields.
@Suite struct WorkerHeartbeatTests {
    func heartbeat(_ key: String, queue: String = "q") -> WorkerHeartbeat {
        .with {
            $0.workerInstanceKey = key
            $0.taskQueue = queue
            $0.status = .running
        }
    }

    @Test func theLatestHeartbeatOfEachWorkerIsKeptAndQueried() throws {
        var scenario = Scenario()
        try scenario.core.recordWorkerHeartbeats(namespace: "default", [heartbeat("a"), heartbeat("b", queue: "other")],
                                                 wallNow: scenario.wall)
        var shutting = heartbeat("a")
        shutting.status = .shuttingDown
        try scenario.core.recordWorkerHeartbeats(namespace: "default", [shutting], wallNow: scenario.wall)
        #expect(try scenario.core.listWorkers(namespace: "default", query: "").count == 2)
        let shuttingDown = try scenario.core.listWorkers(namespace: "default", query: "Status = 'ShuttingDown'")
        #expect(shuttingDown.map(\.workerInstanceKey) == ["a"])
        #expect(try scenario.core.listWorkers(namespace: "default", query: "TaskQueue = 'other'").map(\.workerInstanceKey) == ["b"])
        #expect(try scenario.core.listWorkers(namespace: "default", query: "NoSuchField = 'x'").isEmpty)
        #expect(try scenario.core.describeWorker(namespace: "default", instanceKey: "b").taskQueue == "other")
        #expect(throws: EngineError.self) { try scenario.core.describeWorker(namespace: "default", instanceKey: "nope") }
    }

    @Test func workersAreBoundedPerNamespaceAndForgottenWhenSilent() throws {
        var scenario = Scenario()
        let many = (0...EngineCore.workersPerNamespace).map { heartbeat("w\($0)") }
        for batch in stride(from: 0, to: many.count, by: 100) {
            try scenario.core.recordWorkerHeartbeats(
                namespace: "default", Array(many[batch..<min(batch + 100, many.count)]), wallNow: scenario.wall)
        }
        #expect(scenario.core.workers.count == EngineCore.workersPerNamespace)
        scenario.advanceWall(by: .seconds(601))
        try scenario.core.recordWorkerHeartbeats(namespace: "default", [heartbeat("late")], wallNow: scenario.wall)
        #expect(scenario.core.workers.map(\.key.instanceKey) == ["late"])
        #expect(throws: EngineError.self) {
            try scenario.core.recordWorkerHeartbeats(namespace: "default", [heartbeat("")], wallNow: scenario.wall)
        }
    }
}
