internal import Foundation
internal import SwiftProtobuf
internal import TemporalAPI
internal import TimekeeperEngine

/// A batch operation as the `batches` table keeps it: a `StoredBatch`
/// (scripts/codegen/proto/timekeeper/store/v1/store.proto), rewritten whole each time the batch moves on.
enum StoredBatch {
    static func encode(_ record: BatchRecord) throws -> Data {
        try Timekeeper_Store_V1_StoredBatch.with {
            $0.operation = Int32(record.operation.type.rawValue)
            if case .signal(let name, let input, let header) = record.operation {
                $0.signalName = name
                if let input { $0.signalInput = try input.serializedData() }
                if let header { $0.signalHeader = try header.serializedData() }
            }
            $0.reason = record.reason
            $0.identity = record.identity
            $0.query = record.query
            $0.startedAtNanos = record.startedAt.nanosecondsSinceEpoch
            if let closedAt = record.closedAt { $0.closedAtNanos = closedAt.nanosecondsSinceEpoch }
            $0.state = switch record.state {
            case .running: .running
            case .completed: .completed
            case .stopped: .stopped
            }
            $0.remaining = record.remaining.map { execution in
                .with {
                    $0.workflowID = execution.workflowID
                    $0.runID = execution.runID
                }
            }
            $0.total = record.total
            $0.succeeded = record.succeeded
            $0.failed = record.failed
        }.serializedData()
    }

    static func decode(_ body: Data) throws -> BatchRecord {
        let stored = try Timekeeper_Store_V1_StoredBatch(serializedBytes: body)
        let operation: BatchRecord.Operation
        switch Temporal_Api_Enums_V1_BatchOperationType(rawValue: Int(stored.operation)) {
        case .terminateWorkflow?: operation = .terminate
        case .cancelWorkflow?: operation = .cancel
        case .deleteWorkflow?: operation = .delete
        case .signalWorkflow?:
            operation = .signal(
                name: stored.signalName,
                input: stored.hasSignalInput ? try Temporal_Api_Common_V1_Payloads(serializedBytes: stored.signalInput) : nil,
                header: stored.hasSignalHeader ? try Temporal_Api_Common_V1_Header(serializedBytes: stored.signalHeader) : nil)
        default:
            throw StoreError(.corrupt, "batch operation type \(stored.operation) is not one this server runs")
        }
        let state: BatchRecord.State
        switch stored.state {
        case .running: state = .running
        case .completed: state = .completed
        case .stopped: state = .stopped
        case .UNRECOGNIZED(let value): throw StoreError(.corrupt, "batch state \(value) is not one this server knows")
        }
        return BatchRecord(
            operation: operation, reason: stored.reason, identity: stored.identity, query: stored.query,
            startedAt: Instant(nanosecondsSinceEpoch: stored.startedAtNanos),
            closedAt: stored.hasClosedAtNanos ? Instant(nanosecondsSinceEpoch: stored.closedAtNanos) : nil,
            state: state,
            remaining: stored.remaining.map { execution in
                .with {
                    $0.workflowID = execution.workflowID
                    $0.runID = execution.runID
                }
            },
            total: stored.total, succeeded: stored.succeeded, failed: stored.failed)
    }
}
