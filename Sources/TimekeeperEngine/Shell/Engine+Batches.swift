/// Batch operations. Starting one visits its first executions in the same call; a larger batch goes on
/// a chunk at a time in the background, each chunk one turn of the lock, so that other calls interleave.
extension Engine {
    /// Executions a batch visits per turn of the lock.
    static let batchChunk = 100

    package func startBatchOperation(_ request: StartBatchRequest) throws(EngineError) {
        let unfinished = try transact { (core: inout EngineCore, now: Instant) throws(EngineError) -> BatchKey? in
            let key = try core.startBatch(request, wallNow: now)
            return core.advanceBatch(key, limit: Self.batchChunk, wallNow: now) ? key : nil
        }
        guard let unfinished else { return }
        Task { await self.continueBatch(unfinished) }
    }

    /// Visits the rest of a batch a chunk at a time (after its first chunk, or after a recovery).
    func continueBatch(_ key: BatchKey) async {
        var more = true
        while more {
            await Task.yield()
            more = (try? transact { (core: inout EngineCore, now: Instant) throws(EngineError) in
                core.advanceBatch(key, limit: Self.batchChunk, wallNow: now)
            }) ?? false
        }
    }

    package func describeBatchOperation(namespace: String, jobID: String) throws(EngineError) -> DescribeBatchResponse {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in
            try core.describeBatch(namespace: namespace, jobID: jobID)
        }
    }

    package func listBatchOperations(_ request: ListBatchesRequest) throws(EngineError) -> ListBatchesResponse {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in try core.listBatches(request) }
    }

    package func stopBatchOperation(_ request: StopBatchRequest) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.stopBatch(request, wallNow: now) }
    }
}

/// Worker heartbeats and the calls that read them.
extension Engine {
    package func recordWorkerHeartbeats(namespace: String, _ heartbeats: [WorkerHeartbeat]) throws(EngineError) {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in
            try core.recordWorkerHeartbeats(namespace: namespace, heartbeats, wallNow: now)
        }
    }

    package func listWorkers(namespace: String, query: String) throws(EngineError) -> [WorkerHeartbeat] {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in try core.listWorkers(namespace: namespace, query: query) }
    }

    package func describeWorker(namespace: String, instanceKey: String) throws(EngineError) -> WorkerHeartbeat {
        try transact { (core: inout EngineCore, _: Instant) throws(EngineError) in
            try core.describeWorker(namespace: namespace, instanceKey: instanceKey)
        }
    }
}
