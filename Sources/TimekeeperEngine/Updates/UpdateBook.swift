package import TemporalAPI

package typealias UpdateStage = Temporal_Api_Enums_V1_UpdateWorkflowExecutionLifecycleStage
package typealias UpdateRequest = Temporal_Api_Update_V1_Request

/// An update a client asked for that no worker has accepted or rejected yet. Like Temporal's update
/// registry (and unlike accepted updates) it is not history: a restarted server has none, and a client
/// that still waits asks again.
package struct AdmittedUpdate: Sendable, Equatable {
    package enum Route: Sendable, Equatable {
        /// Waits for the run's next workflow task.
        case waiting
        /// Handed to a worker with the workflow task now running (started event id), answered by its
        /// completion.
        case inFlight(startedEventID: Int64)
    }

    package var runID: String
    package var request: UpdateRequest
    package var route: Route
}

/// A client waiting for an update to reach a stage (an `UpdateWorkflowExecution` or a
/// `PollWorkflowExecutionUpdate` call).
package struct UpdateWait: Sendable, Equatable {
    package var runID: String
    package var updateID: String
    package var stage: UpdateStage
}

/// Identifies one client wait for an update.
package struct UpdateWaitID: Hashable, Sendable {
    package var rawValue: UInt64
    package init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// The updates no worker has answered yet, per run in the order they were admitted, and the clients
/// waiting on any update. What accepted updates do is history (`WorkflowRun.updates`).
package struct UpdateBook: Sendable {
    /// Admitted updates by run, in admission order.
    package private(set) var admitted: [String: [AdmittedUpdate]] = [:]
    package private(set) var waits: [UpdateWaitID: UpdateWait] = [:]

    package init() {}

    package func admitted(_ runID: String, _ updateID: String) -> AdmittedUpdate? {
        admitted[runID]?.first { $0.request.meta.updateID == updateID }
    }

    /// Whether the run has updates that wait for a workflow task to carry them.
    func hasWaiting(_ runID: String) -> Bool {
        admitted[runID]?.contains { $0.route == .waiting } ?? false
    }

    func count(_ runID: String) -> Int { admitted[runID]?.count ?? 0 }

    /// Whether some client awaits an update's outcome: the clock may then skip as if that client had
    /// unlocked it (see `VirtualClock.clientLocksWaived`).
    var awaitsOutcome: Bool { waits.values.contains { $0.stage == .completed } }

    /// The updates some client awaits the outcome of, as (run, update id), in a stable order.
    var awaitedOutcomes: [(runID: String, updateID: String)] {
        Set(waits.values.filter { $0.stage == .completed }.map { [$0.runID, $0.updateID] })
            .sorted { $0.lexicographicallyPrecedes($1) }
            .map { ($0[0], $0[1]) }
    }

    mutating func admit(_ request: UpdateRequest, runID: String) {
        admitted[runID, default: []].append(AdmittedUpdate(runID: runID, request: request, route: .waiting))
    }

    /// The run's waiting updates ride on the workflow task being started.
    mutating func attach(to runID: String, startedEventID: Int64) -> [UpdateRequest] {
        guard var updates = admitted[runID] else { return [] }
        var sent: [UpdateRequest] = []
        for index in updates.indices where updates[index].route == .waiting {
            updates[index].route = .inFlight(startedEventID: startedEventID)
            sent.append(updates[index].request)
        }
        admitted[runID] = updates
        return sent
    }

    /// The workflow task they rode on ended without an answer to them: they wait for the next one.
    mutating func requeueInFlight(_ runID: String) {
        guard var updates = admitted[runID] else { return }
        for index in updates.indices { updates[index].route = .waiting }
        admitted[runID] = updates
    }

    /// The update was accepted or rejected (or its run closed): it is no longer the book's.
    @discardableResult
    mutating func remove(_ runID: String, _ updateID: String) -> AdmittedUpdate? {
        guard let index = admitted[runID]?.firstIndex(where: { $0.request.meta.updateID == updateID }) else { return nil }
        let update = admitted[runID]!.remove(at: index)
        if admitted[runID]!.isEmpty { admitted[runID] = nil }
        return update
    }

    /// Every admitted update of the run, taken out (its run closed).
    mutating func takeAll(_ runID: String) -> [AdmittedUpdate] {
        admitted.removeValue(forKey: runID) ?? []
    }

    mutating func addWait(_ id: UpdateWaitID, _ wait: UpdateWait) { waits[id] = wait }

    @discardableResult
    mutating func removeWait(_ id: UpdateWaitID) -> UpdateWait? { waits.removeValue(forKey: id) }

    /// The waits on one update that `reached` satisfies, taken out.
    mutating func takeWaits(_ runID: String, _ updateID: String, reached: UpdateStage) -> [UpdateWaitID] {
        let ids = waits.filter { $0.value.runID == runID && $0.value.updateID == updateID && $0.value.stage.rawValue <= reached.rawValue }
            .keys.sorted { $0.rawValue < $1.rawValue }
        for id in ids { waits[id] = nil }
        return ids
    }

    /// Every wait on one update, taken out.
    mutating func takeWaits(_ runID: String, _ updateID: String) -> [UpdateWaitID] {
        takeWaits(runID, updateID, reached: .completed)
    }

    /// Waits on updates of `runID` move to `newRunID` (their updates moved there on continue-as-new).
    mutating func moveWaits(from runID: String, to newRunID: String, updateIDs: Set<String>) {
        for (id, wait) in waits where wait.runID == runID && updateIDs.contains(wait.updateID) {
            waits[id]!.runID = newRunID
        }
    }
}
