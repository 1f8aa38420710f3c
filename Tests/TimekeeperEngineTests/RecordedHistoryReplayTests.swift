import Foundation
import SwiftProtobuf
import TemporalAPI
import Testing
@testable import TimekeeperEngine

/// Replay equivalence on histories the real binary produced: every run the integration tests left in a
/// Timekeeper server (`Fixtures/RecordedHistories`, see its README), rebuilt from its events alone by the
/// reducer the live path uses, has the status, length and timetable entries the server reported for it.
@Suite struct RecordedHistoryReplayTests {
    struct Recorded {
        var name: String
        var ref: RunRef
        var status: ExecutionStatus
        var historyLength: Int64
        var events: [HistoryEvent]
        /// The run's pending entries the server listed, as "description at unix nanoseconds".
        var timetable: [String]
    }

    static func corpus() throws -> [Recorded] {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/RecordedHistories")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }.sorted()
        return try names.map { name in
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let encoded = try #require(json["history"] as? String)
            let bytes = try #require(Data(base64Encoded: encoded))
            let history = try Temporal_Api_History_V1_History(serializedBytes: bytes)
            let timetable = try #require(json["timetable"] as? [[String: Any]])
            let entries = timetable.map { entry in
                let fire = (entry["fire_time"] as? [String: Any])?["unix_nanos"] as? Int64 ?? -1
                return "\(entry["description"] as? String ?? "?") at \(fire)"
            }
            let namespace = try #require(json["namespace"] as? String)
            let workflowID = try #require(json["workflow_id"] as? String)
            let runID = try #require(json["run_id"] as? String)
            let statusCode = try #require(json["status_code"] as? Int)
            let length = try #require(json["history_length"] as? Int64)
            return Recorded(
                name: name, ref: RunRef(namespace: namespace, workflowID: workflowID, runID: runID),
                status: ExecutionStatus(rawValue: statusCode) ?? .unspecified, historyLength: length,
                events: history.events, timetable: entries)
        }
    }

    @Test func everyRecordedRunRebuildsFromItsEventsToWhatTheServerReported() throws {
        let corpus = try Self.corpus()
        #expect(corpus.count >= 20, "the corpus is there")
        #expect(corpus.filter { $0.status == .running }.count >= 3, "it has open runs, whose pending entries are compared")
        for recorded in corpus {
            let (run, history) = try EngineCore.rebuild(recorded.ref, from: recorded.events.map { .event($0) })
            #expect(run.status == recorded.status, "\(recorded.name): status")
            #expect(run.lastEventID == recorded.historyLength && history.count == recorded.events.count, "\(recorded.name): length")
            // Entries its events alone decide (activity attempts and stickiness are notes, not history).
            func fromEventsAlone(_ kind: TimetableEntry.Kind) -> Bool {
                switch kind {
                case .workflowRunTimeout, .workflowTaskTimeout, .userTimer, .workflowBackoff: true
                case .activityTimeout(_, _, let type): type == .scheduleToClose
                default: false
                }
            }
            let derived = Refresher.entries(of: run).filter { fromEventsAlone($0.kind) }.map { entry in
                "\(TimetableEntry(id: EntryID(rawValue: 0), fireAt: entry.fireAt, kind: entry.kind, owner: run.ref)) at \(entry.fireAt.nanosecondsSinceEpoch)"
            }
            let reported = recorded.timetable.filter { line in
                ["workflow run timeout", "workflow task timeout", "timer ", "workflow retry backoff", "activity schedule-to-close"]
                    .contains { line.hasPrefix($0) }
            }
            #expect(derived.sorted() == reported.sorted(), "\(recorded.name): timetable")
        }
    }

    @Test func aHistoryWithAnEventOutOfPlaceIsRefusedNamingIt() throws {
        let recorded = try #require(try Self.corpus().first { $0.events.count >= 4 })
        var events = recorded.events
        events.swapAt(1, 2)  // the workflow task started before it was scheduled
        #expect(throws: RunChangeError.self) { try EngineCore.rebuild(recorded.ref, from: events.map { .event($0) }) }
        var skipped = recorded.events
        skipped.remove(at: 1)
        do {
            _ = try EngineCore.rebuild(recorded.ref, from: skipped.map { .event($0) })
            Issue.record("a history with a gap rebuilt")
        } catch {
            #expect(error.message.contains("follows event"), "\(error.message)")
        }
    }
}
