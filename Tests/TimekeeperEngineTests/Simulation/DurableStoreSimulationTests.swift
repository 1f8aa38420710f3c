import Foundation
import Testing
@testable import TimekeeperEngine
import GRDB
import TimekeeperStore

/// The simulation with the SQLite store beside the in-memory one: every transition of every RPC family
/// committed to a file, the file closed and opened again every 50 steps and after the drain, and a core
/// rebuilt from what it read compared with the live core (runs, histories, timetable entries, holds,
/// queued tasks, current runs, namespaces, registered search attributes).
///
/// `TIMEKEEPER_STORE_SIM_SEEDS=N` runs seeds 1...N (default 150). In `SimulationTests`, which runs its
/// tests one at a time.
extension SimulationTests {
    static func openAndLoad(_ path: String) throws -> SQLiteExecutionStore {
        var store = try SQLiteExecutionStore(path: path)
        try store.load()
        return store
    }

    @Test func aStoreOpenedAgainRebuildsTheLiveCore() throws {
        let count = ProcessInfo.processInfo.environment["TIMEKEEPER_STORE_SIM_SEEDS"].flatMap({ UInt64($0) }) ?? 150
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tk-store-sim-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var failed: [UInt64] = []
        var reopenedRuns = 0
        for seed in 1...max(1, count) {
            let path = directory.appendingPathComponent("seed-\(seed).sqlite").path
            let simulation = Simulation(seed: seed, durableStore: .init(open: { try Self.openAndLoad(path) }))
            if let failure = simulation.failure {
                failed.append(seed)
                if failed.count <= 3 {
                    Issue.record("seed \(seed) step \(failure.step): \(failure.violations.prefix(3).map(\.description))")
                }
            }
            reopenedRuns += try Self.openAndLoad(path).runs.count
        }
        print("Durable store simulation: \(count) seeds, \(reopenedRuns) runs read back, \(failed.count) failed")
        #expect(failed.isEmpty, "\(failed.count) of \(count) seeds: \(failed.prefix(20))")
        #expect(reopenedRuns > Int(count), "the seeds made runs, and the files kept them")
    }

    @Test func aCorruptChangeIsRefusedWhenOpening() throws {
        let path = StoreFiles.temporaryPath("store-corrupt")
        defer { StoreFiles.remove(path) }
        _ = Simulation(seed: 3, durableStore: .init(open: { try Self.openAndLoad(path) }))
        #expect(try Self.openAndLoad(path).runs.count > 0)
        // The second change of the first run (its first is the started event) becomes bytes no note reads as.
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: "UPDATE changes SET kind = 1, body = x'0a05ff' WHERE run = (SELECT min(id) FROM runs) AND seq = 1")
        }
        #expect(throws: StoreError.self) { _ = try Self.openAndLoad(path) }
    }
}
