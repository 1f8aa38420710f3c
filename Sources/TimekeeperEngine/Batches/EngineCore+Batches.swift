internal import Foundation
internal import SwiftProtobuf
package import TemporalAPI

/// Batch operations: `StartBatchOperation` picks its executions (a list query's matches, or the ones it
/// names) and the batch then visits them a chunk at a time, each visit the same transition the single
/// call makes (terminate, cancel, signal, delete). `Describe`, `List` and `Stop` read and end the record.
extension EngineCore {
    /// Temporal's `frontend.MaxConcurrentBatchOperationPerNamespace` default: one open batch per namespace.
    static let maxConcurrentBatchesPerNamespace = 1
    /// Finished batches kept per namespace (the oldest go first), so that many small batches cannot grow
    /// the server without end; Temporal keeps them for the namespace's retention.
    static let keptBatchesPerNamespace = 1000

    /// Records a new batch with the executions it will visit; answers its key. Nothing is visited yet.
    package mutating func startBatch(_ request: StartBatchRequest, wallNow: Instant) throws(EngineError) -> BatchKey {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            let operation = try Self.batchOperation(request)
            let key = BatchKey(namespace: request.namespace, jobID: request.jobID)
            if !request.visibilityQuery.isEmpty {
                // Temporal's server checks the syntax here and fails the batch later on an unknown attribute;
                // both are refused here, before anything is recorded.
                do throws(ListFilterError) {
                    _ = try core.listFilter(namespace: key.namespace, query: request.visibilityQuery)
                } catch {
                    throw .invalidArgument("invalid visibility query: \(error.message)")
                }
            }
            if core.batches[key] != nil {
                throw EngineError(.alreadyExists, "a batch operation with job_id \(request.jobID) already exists")
            }
            let open = core.batches.filter { $0.key.namespace == key.namespace && $0.value.state == .running }.count
            guard open < Self.maxConcurrentBatchesPerNamespace else {
                throw EngineError(.resourceExhausted, "Max concurrent batch operations is reached")
            }
            return { core in
                let targets = request.executions.isEmpty
                    ? core.batchTargets(namespace: key.namespace, query: request.visibilityQuery, operation: operation)
                    : request.executions
                core.batches[key] = BatchRecord(
                    operation: operation, reason: request.reason, identity: Self.identity(request), query: request.visibilityQuery,
                    startedAt: core.clock.now, remaining: targets, total: Int64(targets.count))
                core.changedBatches.insert(key)
                core.forgetOldBatches(namespace: key.namespace)
                return key
            }
        }
    }

    /// The batches still running (after a recovery: what goes on).
    package var runningBatches: [BatchKey] {
        batches.filter { $0.value.state == .running }.keys.sorted { ($0.namespace, $0.jobID) < ($1.namespace, $1.jobID) }
    }

    /// Visits up to `limit` more executions of a running batch; answers whether any are left.
    package mutating func advanceBatch(_ key: BatchKey, limit: Int, wallNow: Instant) -> Bool {
        guard var record = batches[key], record.state == .running else { return false }
        let visiting = record.remaining.prefix(limit)
        record.remaining.removeFirst(visiting.count)
        for execution in visiting {
            do throws(EngineError) {
                try visit(execution, namespace: key.namespace, record, wallNow: wallNow)
                record.succeeded += 1
            } catch where error.code == .notFound {
                record.succeeded += 1  // Temporal's batcher: gone or closed already is done
            } catch {
                record.failed += 1
            }
        }
        let more = !record.remaining.isEmpty
        if !more {
            record.state = .completed
            record.closedAt = clock.now
        }
        batches[key] = record
        changedBatches.insert(key)
        return more
    }

    package func describeBatch(namespace: String, jobID: String) throws(EngineError) -> DescribeBatchResponse {
        let (key, record) = try batch(namespace: namespace, jobID: jobID)
        return .with {
            $0.operationType = record.operation.type
            $0.jobID = key.jobID
            $0.state = record.stateProto
            $0.startTime = record.startedAt.timestamp
            if let closedAt = record.closedAt { $0.closeTime = closedAt.timestamp }
            // A running batch counts what it will visit; a closed one what it visited (Temporal's rule).
            $0.totalOperationCount = record.state == .running ? record.total : record.succeeded + record.failed
            $0.completeOperationCount = record.succeeded
            $0.failureOperationCount = record.failed
            $0.identity = record.identity
            $0.reason = record.reason
            $0.query = record.query
        }
    }

    /// The namespace's batches, newest first, a page at a time.
    package func listBatches(_ request: ListBatchesRequest) throws(EngineError) -> ListBatchesResponse {
        try Self.requireNamespace(request.namespace)
        guard request.pageSize >= 0 else { throw .invalidArgument("page_size must not be negative") }
        let offset: Int
        if request.nextPageToken.isEmpty {
            offset = 0
        } else {
            let text = String(decoding: request.nextPageToken, as: UTF8.self)
            guard text.hasPrefix("b/"), let value = Int(text.dropFirst(2)), value >= 0 else {
                throw .invalidArgument("next_page_token is malformed: it is not a token this server issued")
            }
            offset = value
        }
        let all = batches.filter { $0.key.namespace == request.namespace }
            .sorted { ($0.value.startedAt, $0.key.jobID) > ($1.value.startedAt, $1.key.jobID) }
        let pageSize = request.pageSize > 0 ? Int(request.pageSize) : Self.defaultListPageSize
        let page = all.dropFirst(offset).prefix(pageSize)
        return .with {
            $0.operationInfo = page.map { key, record in
                .with {
                    $0.jobID = key.jobID
                    $0.state = record.stateProto
                    $0.startTime = record.startedAt.timestamp
                    if let closedAt = record.closedAt { $0.closeTime = closedAt.timestamp }
                    $0.operationType = record.operation.type
                }
            }
            if offset + page.count < all.count { $0.nextPageToken = Data("b/\(offset + page.count)".utf8) }
        }
    }

    /// Stops a running batch: executions not visited yet are left alone, and its state reads FAILED, as
    /// Temporal's terminated batch workflow does.
    package mutating func stopBatch(_ request: StopBatchRequest, wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            guard !request.jobID.isEmpty else { throw .invalidArgument("JobId is not set on request.") }
            guard !request.reason.isEmpty else { throw .invalidArgument("Reason is not set on request.") }
            let (key, record) = try core.batch(namespace: request.namespace, jobID: request.jobID)
            guard record.state == .running else { throw EngineError(.notFound, "workflow execution already completed") }
            return { core in
                core.batches[key]?.state = .stopped
                core.batches[key]?.closedAt = core.clock.now
                core.changedBatches.insert(key)
            }
        }
    }

    private mutating func forgetOldBatches(namespace: String) {
        let finished = batches.filter { $0.key.namespace == namespace && $0.value.state != .running }
        guard finished.count > Self.keptBatchesPerNamespace else { return }
        let oldest = finished.sorted { ($0.value.startedAt, $0.key.jobID) < ($1.value.startedAt, $1.key.jobID) }
        for (key, _) in oldest.prefix(finished.count - Self.keptBatchesPerNamespace) {
            batches[key] = nil
            changedBatches.insert(key)
        }
    }

    private func batch(namespace: String, jobID: String) throws(EngineError) -> (BatchKey, BatchRecord) {
        try Self.requireNamespace(namespace)
        guard !jobID.isEmpty else { throw .invalidArgument("JobId is not set on request.") }
        let key = BatchKey(namespace: namespace, jobID: jobID)
        // Temporal's wording: the batch is a workflow whose id is the job id.
        guard let record = batches[key] else { throw EngineError(.notFound, "workflow not found for ID: \(jobID)") }
        return (key, record)
    }

    /// The request's operation, after Temporal's checks of what every batch needs.
    private static func batchOperation(_ request: StartBatchRequest) throws(EngineError) -> BatchRecord.Operation {
        let selectors = [!request.visibilityQuery.isEmpty, !request.executions.isEmpty, !request.targetExecutions.isEmpty]
            .filter { $0 }.count
        guard request.operation != nil, !request.reason.isEmpty, !request.namespace.isEmpty, selectors > 0 else {
            throw .invalidArgument(
                "must provide required parameters: BatchType,Reason,Namespace, AND one of (Query OR Executions OR TargetExecutions)")
        }
        guard !request.jobID.isEmpty else { throw .invalidArgument("JobId is not set on request.") }
        guard request.jobID.utf8.count <= 1000 else { throw .invalidArgument("job_id is longer than 1000 bytes") }
        guard selectors == 1 else {
            throw .invalidArgument("visibility query, executions, and target executions are mutually exclusive")
        }
        guard request.targetExecutions.isEmpty else {
            throw .invalidArgument("target_executions is not supported by this server: name executions or give a visibility query")
        }
        for (index, execution) in request.executions.enumerated() where execution.workflowID.isEmpty {
            throw .invalidArgument("executions[\(index)].workflow_id is not set")
        }
        switch request.operation {
        case .terminationOperation?: return .terminate
        case .cancellationOperation?: return .cancel
        case .deletionOperation?: return .delete
        case .signalOperation(let signal)?:
            guard !signal.signal.isEmpty else { throw .invalidArgument("signal_operation.signal is not set") }
            return .signal(name: signal.signal, input: signal.hasInput ? signal.input : nil,
                           header: signal.hasHeader ? signal.header : nil)
        default:
            throw EngineError(.unimplemented, "The operation type \(Self.operationName(request)) is not supported by this server")
        }
    }

    private static func operationName(_ request: StartBatchRequest) -> String {
        guard let operation = request.operation else { return "unset" }
        return String(describing: operation).split(separator: "(").first.map(String.init) ?? "unknown"
    }

    private static func identity(_ request: StartBatchRequest) -> String {
        switch request.operation {
        case .terminationOperation(let operation)?: operation.identity
        case .cancellationOperation(let operation)?: operation.identity
        case .deletionOperation(let operation)?: operation.identity
        case .signalOperation(let operation)?: operation.identity
        default: ""
        }
    }

    /// The runs a query picks, newest first. Terminate, cancel and signal visit only running ones (Temporal's
    /// batcher adds `ExecutionStatus = 'Running'` to their query); delete visits every match.
    private mutating func batchTargets(namespace: String, query: String, operation: BatchRecord.Operation)
        -> [Temporal_Api_Common_V1_WorkflowExecution]
    {
        guard let (filter, records) = try? matchingRecords(namespace: namespace, query: query, forCount: true) else { return [] }
        let onlyRunning: Bool
        if case .delete = operation { onlyRunning = false } else { onlyRunning = true }
        return filter.sorted(records).compactMap { record in
            guard case .string(let workflowID)? = record["WorkflowId"], case .string(let runID)? = record["RunId"] else { return nil }
            if onlyRunning, record["ExecutionStatus"] != .string(ExecutionStatusName.running.name) { return nil }
            return .with {
                $0.workflowID = workflowID
                $0.runID = runID
            }
        }
    }

    /// One execution's visit: the same transition as the single call.
    private mutating func visit(_ execution: Temporal_Api_Common_V1_WorkflowExecution, namespace: String,
                                _ record: BatchRecord, wallNow: Instant) throws(EngineError) {
        switch record.operation {
        case .terminate:
            try terminateWorkflow(.with {
                $0.namespace = namespace
                $0.workflowExecution = execution
                $0.reason = record.reason
                $0.identity = record.identity
            }, wallNow: wallNow)
        case .cancel:
            try requestCancelWorkflow(.with {
                $0.namespace = namespace
                $0.workflowExecution = execution
                $0.reason = record.reason
                $0.identity = record.identity
            }, wallNow: wallNow)
        case .signal(let name, let input, let header):
            try signalWorkflow(.with {
                $0.namespace = namespace
                $0.workflowExecution = execution
                $0.signalName = name
                if let input { $0.input = input }
                if let header { $0.header = header }
                $0.identity = record.identity
            }, wallNow: wallNow)
        case .delete:
            try deleteWorkflow(.with {
                $0.namespace = namespace
                $0.workflowExecution = execution
            }, wallNow: wallNow)
        }
    }
}
