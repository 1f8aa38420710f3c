internal import TemporalAPI

/// Where committed transitions go. The engine hands every transition to its store under its lock, in
/// order; what a client is told waits until the store has it (at once, or at its `durability` barrier).
/// A store that kept every transition can rebuild the engine (`EngineCore.init(recovering:…)`).
package protocol ExecutionStore: Sendable {
    /// Makes a transition's changes part of the store.
    mutating func commit(_ transition: Transition)
    /// Every run's changes in order, runs in the order they were created.
    var runs: [(runID: String, changes: [RunChange])] { get }
    /// The current run of each workflow id.
    var currentRuns: [WorkflowKey: String] { get }
    /// Namespaces clients registered or updated.
    var namespaceRecords: [String: NamespaceRecord] { get }
    /// Custom search attributes registered, by namespace.
    var registeredSearchAttributes: [String: [String: SearchAttributeType]] { get }
    /// Schedules (their timetable entries are derived on recovery).
    var scheduleRecords: [ScheduleKey: ScheduleRecord] { get }
    /// Batch operations (a running one goes on after recovery).
    var batchRecords: [BatchKey: BatchRecord] { get }
    /// Reads what the store holds, so that `runs` and the rest answer it (a store on disk reads here, not
    /// when opened, so that a server can listen while it reads).
    mutating func load() throws
    /// The engine has been rebuilt from the store: what it read to do so may be let go.
    mutating func didRecover()
    /// Set when `commit` only admits a transition and the store makes it durable later, with others
    /// (group commit): answers wait at this barrier. `nil`: `commit` is durable when it returns.
    var durability: DurabilityBarrier? { get }
    /// Makes everything committed so far durable and lets the store go (its file can be opened again).
    mutating func close()
}

/// A durable store's file, taken for this process (cheap: what `Engine.storeClaimed` waits for), and how
/// to open the store on it (opening reads the file's schema and write-ahead log; `load` then reads the runs).
package struct StoreClaim: Sendable {
    package let open: @Sendable () throws -> any ExecutionStore

    package init(open: @escaping @Sendable () throws -> any ExecutionStore) {
        self.open = open
    }
}

extension ExecutionStore {
    package mutating func load() throws {}
    package mutating func didRecover() {}
    package var durability: DurabilityBarrier? { nil }
    package mutating func close() {}
}

extension Transition {
    /// Whether the transition changed anything a store keeps (effects are not kept).
    package var changesStore: Bool {
        !journal.isEmpty || !currentRuns.isEmpty || !deletedRuns.isEmpty || !clearedCurrentRuns.isEmpty
            || !namespaceRecords.isEmpty || !registeredSearchAttributes.isEmpty || !scheduleRecords.isEmpty
            || !deletedSchedules.isEmpty || !batchRecords.isEmpty || !deletedBatches.isEmpty
    }
}

/// The store of test mode: the journal of every run, in memory. Events share their storage with the
/// engine's copy of the history (protobuf messages are copy-on-write), so keeping them costs little.
package struct InMemoryExecutionStore: ExecutionStore {
    private var journals: [String: [RunChange]] = [:]
    private var order: [String] = []
    package private(set) var currentRuns: [WorkflowKey: String] = [:]
    package private(set) var namespaceRecords: [String: NamespaceRecord] = [:]
    package private(set) var registeredSearchAttributes: [String: [String: SearchAttributeType]] = [:]
    package private(set) var scheduleRecords: [ScheduleKey: ScheduleRecord] = [:]
    package private(set) var batchRecords: [BatchKey: BatchRecord] = [:]

    package init() {}

    package mutating func commit(_ transition: Transition) {
        guard transition.changesStore else { return }
        namespaceRecords.merge(transition.namespaceRecords) { _, new in new }
        registeredSearchAttributes.merge(transition.registeredSearchAttributes) { _, new in new }
        scheduleRecords.merge(transition.scheduleRecords) { _, new in new }
        for key in transition.deletedSchedules { scheduleRecords[key] = nil }
        batchRecords.merge(transition.batchRecords) { _, new in new }
        for key in transition.deletedBatches where transition.batchRecords[key] == nil { batchRecords[key] = nil }
        for entry in transition.journal {
            if journals[entry.runID] == nil { order.append(entry.runID) }
            journals[entry.runID, default: []].append(entry.change)
        }
        currentRuns.merge(transition.currentRuns) { _, new in new }
        for key in transition.clearedCurrentRuns where transition.currentRuns[key] == nil { currentRuns[key] = nil }
        if !transition.deletedRuns.isEmpty {
            let deleted = Set(transition.deletedRuns)
            for runID in deleted { journals[runID] = nil }
            order.removeAll { deleted.contains($0) }
        }
    }

    package var runs: [(runID: String, changes: [RunChange])] {
        order.map { ($0, journals[$0] ?? []) }
    }
}
