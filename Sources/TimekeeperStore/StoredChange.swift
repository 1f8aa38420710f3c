internal import Foundation
internal import SwiftProtobuf
internal import TemporalAPI
internal import TimekeeperEngine

/// A run change as a row of the `changes` table: an event is Temporal's own `HistoryEvent` bytes, a note
/// is a `StoredNote` (scripts/codegen/proto/timekeeper/store/v1/store.proto).
enum StoredChange {
    /// The `kind` column.
    static let eventKind: Int64 = 0
    static let noteKind: Int64 = 1

    static func encode(_ change: RunChange) throws -> (kind: Int64, body: Data) {
        switch change {
        case .event(let event): return (eventKind, try event.serializedData())
        case .note(let note): return (noteKind, try stored(note).serializedData())
        }
    }

    /// A row of the `changes` table, not decoded yet.
    struct Row: Sendable {
        var kind: Int64
        var body: Data
    }

    /// A run's rows decoded, in order (a row's index is its `seq`: the reader checked that).
    static func decode(_ rows: [Row], of runID: String) throws(StoreError) -> [RunChange] {
        var changes: [RunChange] = []
        changes.reserveCapacity(rows.count)
        for (seq, row) in rows.enumerated() {
            do {
                changes.append(try decode(kind: row.kind, body: row.body))
            } catch let error as StoreError {
                throw StoreError(.corrupt, "run \(runID), change \(seq): \(error)")
            } catch {
                throw StoreError(.corrupt, "run \(runID), change \(seq) does not read: \(error)")
            }
        }
        return changes
    }

    static func decode(kind: Int64, body: Data) throws -> RunChange {
        switch kind {
        case eventKind: return .event(try HistoryEvent(serializedBytes: body))
        case noteKind: return .note(try note(from: Timekeeper_Store_V1_StoredNote(serializedBytes: body)))
        default: throw StoreError(.corrupt, "a change of unknown kind \(kind)")
        }
    }

    private typealias Stored = Timekeeper_Store_V1_StoredNote

    private static func stored(_ note: RunNote) throws -> Stored {
        var stored = Stored()
        switch note {
        case .created(let request): stored.created = try request.serializedData()
        case .stickyQueueSet(let name, let scheduleToStart):
            stored.stickyQueueSet = .with { $0.name = name; $0.scheduleToStartNanos = scheduleToStart.nanoseconds }
        case .stickyQueueCleared: stored.stickyQueueCleared = true
        case .activityAttemptStarted(let id, let identity, let at):
            stored.activityAttemptStarted = .with {
                $0.scheduledEventID = id; $0.identity = identity; $0.atNanos = at.nanosecondsSinceEpoch
            }
        case .activityHeartbeat(let id, let details, let at):
            var heartbeat = Timekeeper_Store_V1_ActivityHeartbeat()
            heartbeat.scheduledEventID = id
            if let details { heartbeat.details = try details.serializedData() }
            if let at { heartbeat.atNanos = at.nanosecondsSinceEpoch }
            stored.activityHeartbeat = heartbeat
        case .activityAttemptFailed(let id, let failure, let retryAt):
            stored.activityAttemptFailed = try attemptFailed(id, failure, retryAt)
        case .activityAttemptScheduled(let id, let at):
            stored.activityAttemptScheduled = .with { $0.scheduledEventID = id; $0.atNanos = at.nanosecondsSinceEpoch }
        case .activityPaused(let id, let pause):
            stored.activityPaused = .with {
                $0.scheduledEventID = id; $0.atNanos = pause.at.nanosecondsSinceEpoch; $0.identity = pause.identity
                $0.reason = pause.reason; $0.requestID = pause.requestID
            }
        case .activityUnpaused(let id, let resetAttempts, let resetHeartbeat, let at):
            stored.activityUnpaused = .with {
                $0.scheduledEventID = id; $0.resetAttempts = resetAttempts; $0.resetHeartbeat = resetHeartbeat
                $0.atNanos = at.nanosecondsSinceEpoch
            }
        case .activityAttemptFailedWhilePaused(let id, let failure, let at):
            stored.activityAttemptFailedWhilePaused = try attemptFailed(id, failure, at)
        case .transientWorkflowTaskScheduled(let event): stored.transientWorkflowTaskScheduled = try event.serializedData()
        case .transientWorkflowTaskStarted(let event): stored.transientWorkflowTaskStarted = try event.serializedData()
        case .transientWorkflowTaskEnded: stored.transientWorkflowTaskEnded = true
        case .eventBuffered(let event): stored.eventBuffered = try event.serializedData()
        case .bufferedEventsWritten: stored.bufferedEventsWritten = true
        }
        return stored
    }

    private static func attemptFailed(_ id: Int64, _ failure: Failure, _ at: Instant) throws
        -> Timekeeper_Store_V1_ActivityAttemptFailed
    {
        var stored = Timekeeper_Store_V1_ActivityAttemptFailed()
        stored.scheduledEventID = id
        stored.failure = try failure.serializedData()
        stored.atNanos = at.nanosecondsSinceEpoch
        return stored
    }

    private static func note(from stored: Stored) throws -> RunNote {
        switch stored.note {
        case .created(let bytes): return .created(try StartWorkflowRequest(serializedBytes: bytes))
        case .stickyQueueSet(let set):
            return .stickyQueueSet(name: set.name, scheduleToStart: .nanoseconds(set.scheduleToStartNanos))
        case .stickyQueueCleared: return .stickyQueueCleared
        case .activityAttemptStarted(let started):
            return .activityAttemptStarted(scheduledEventID: started.scheduledEventID, identity: started.identity,
                                           at: instant(started.atNanos))
        case .activityHeartbeat(let heartbeat):
            return .activityHeartbeat(
                scheduledEventID: heartbeat.scheduledEventID,
                details: heartbeat.hasDetails ? try Payloads(serializedBytes: heartbeat.details) : nil,
                at: heartbeat.hasAtNanos ? instant(heartbeat.atNanos) : nil)
        case .activityAttemptFailed(let failed):
            return .activityAttemptFailed(scheduledEventID: failed.scheduledEventID,
                                          failure: try Failure(serializedBytes: failed.failure), retryAt: instant(failed.atNanos))
        case .activityAttemptScheduled(let scheduled):
            return .activityAttemptScheduled(scheduledEventID: scheduled.scheduledEventID, at: instant(scheduled.atNanos))
        case .activityPaused(let paused):
            return .activityPaused(scheduledEventID: paused.scheduledEventID, ActivityPause(
                at: instant(paused.atNanos), identity: paused.identity, reason: paused.reason, requestID: paused.requestID))
        case .activityUnpaused(let unpaused):
            return .activityUnpaused(scheduledEventID: unpaused.scheduledEventID, resetAttempts: unpaused.resetAttempts,
                                     resetHeartbeat: unpaused.resetHeartbeat, at: instant(unpaused.atNanos))
        case .activityAttemptFailedWhilePaused(let failed):
            return .activityAttemptFailedWhilePaused(scheduledEventID: failed.scheduledEventID,
                                                     failure: try Failure(serializedBytes: failed.failure), at: instant(failed.atNanos))
        case .transientWorkflowTaskScheduled(let bytes): return .transientWorkflowTaskScheduled(try HistoryEvent(serializedBytes: bytes))
        case .transientWorkflowTaskStarted(let bytes): return .transientWorkflowTaskStarted(try HistoryEvent(serializedBytes: bytes))
        case .transientWorkflowTaskEnded: return .transientWorkflowTaskEnded
        case .eventBuffered(let bytes): return .eventBuffered(try HistoryEvent(serializedBytes: bytes))
        case .bufferedEventsWritten: return .bufferedEventsWritten
        case nil: throw StoreError(.corrupt, "a note with nothing in it (written by a newer build?)")
        }
    }
}

/// A namespace record as the `namespaces` table keeps it.
enum StoredNamespace {
    static func encode(_ record: NamespaceRecord) throws -> Data {
        try Timekeeper_Store_V1_StoredNamespace.with {
            $0.description_p = record.description; $0.ownerEmail = record.ownerEmail
            $0.retentionNanos = record.retention.nanoseconds; $0.data = record.data; $0.registered = record.registered
        }.serializedData()
    }

    static func decode(_ body: Data) throws -> NamespaceRecord {
        let stored = try Timekeeper_Store_V1_StoredNamespace(serializedBytes: body)
        return NamespaceRecord(description: stored.description_p, ownerEmail: stored.ownerEmail,
                               retention: .nanoseconds(stored.retentionNanos), data: stored.data, registered: stored.registered)
    }
}

/// A schedule as the `schedules` table keeps it (its matching rules are compiled again on reading).
enum StoredSchedule {
    static func encode(_ record: ScheduleRecord) throws -> Data {
        try Timekeeper_Store_V1_StoredSchedule.with {
            $0.schedule = try record.schedule.serializedData()
            if let memo = record.memo { $0.memo = try memo.serializedData() }
            if let attributes = record.searchAttributes { $0.searchAttributes = try attributes.serializedData() }
            $0.createRequestID = record.createRequestID
            $0.createdAtNanos = record.createdAt.nanosecondsSinceEpoch
            if let updated = record.updatedAt { $0.updatedAtNanos = updated.nanosecondsSinceEpoch }
            $0.conflictToken = record.conflictToken
            $0.actionCount = record.actionCount
            $0.missedCatchupWindow = record.missedCatchupWindow
            $0.overlapSkipped = record.overlapSkipped
            $0.bufferDropped = record.bufferDropped
            $0.recentActions = try record.recentActions.map { try $0.serializedData() }
            $0.buffered = record.buffered.map { start in
                .with {
                    $0.nominalNanos = start.nominal.nanosecondsSinceEpoch
                    $0.overlapPolicy = Int32(start.overlap.rawValue)
                    $0.manual = start.manual
                }
            }
            $0.processedUntilNanos = record.processedUntil.nanosecondsSinceEpoch
            $0.untrackedRunIds = record.untrackedRunIDs.sorted()
        }.serializedData()
    }

    static func decode(_ body: Data) throws -> ScheduleRecord {
        let stored = try Timekeeper_Store_V1_StoredSchedule(serializedBytes: body)
        return try ScheduleRecord(
            restoring: try Schedule(serializedBytes: stored.schedule),
            memo: stored.hasMemo ? try Temporal_Api_Common_V1_Memo(serializedBytes: stored.memo) : nil,
            searchAttributes: stored.hasSearchAttributes
                ? try Temporal_Api_Common_V1_SearchAttributes(serializedBytes: stored.searchAttributes) : nil,
            createRequestID: stored.createRequestID, createdAt: instant(stored.createdAtNanos),
            updatedAt: stored.hasUpdatedAtNanos ? instant(stored.updatedAtNanos) : nil,
            conflictToken: stored.conflictToken, actionCount: stored.actionCount,
            missedCatchupWindow: stored.missedCatchupWindow, overlapSkipped: stored.overlapSkipped,
            bufferDropped: stored.bufferDropped,
            recentActions: try stored.recentActions.map { try ScheduleActionResult(serializedBytes: $0) },
            buffered: stored.buffered.map {
                ScheduleRecord.BufferedStart(nominal: instant($0.nominalNanos),
                                             overlap: OverlapPolicy(rawValue: Int($0.overlapPolicy)) ?? .unspecified,
                                             manual: $0.manual)
            },
            processedUntil: instant(stored.processedUntilNanos), untrackedRunIDs: Set(stored.untrackedRunIds))
    }
}

/// An instant as the store's messages keep it: whole nanoseconds since the Unix epoch.
private func instant(_ nanos: Int64) -> Instant { Instant(nanosecondsSinceEpoch: nanos) }
