internal import HeapModule

/// The ordered set of everything the clock will have to do: "fire X at T".
///
/// A min-heap ordered by (fire time, insertion order). Cancelling removes the entry from the live table
/// at once; its heap slot is dropped lazily when it reaches the top, so cancel is O(1) and pop O(log n).
package struct Timetable: Sendable {
    private struct Slot: Comparable {
        var fireAt: Instant
        var id: EntryID
        static func < (lhs: Slot, rhs: Slot) -> Bool {
            (lhs.fireAt, lhs.id) < (rhs.fireAt, rhs.id)
        }
    }

    private var heap = Heap<Slot>()
    private var live: [EntryID: TimetableEntry] = [:]
    private var nextID: UInt64 = 1
    /// The entries each run owns, by kind, with the fire time each was added for. An entry that fired stays
    /// here (spent) until its run's state stops calling for it, so that firing it again is never re-added.
    private var owned: [String: [TimetableEntry.Kind: (id: EntryID, fireAt: Instant)]] = [:]

    package init() {}

    package var count: Int { live.count }
    package var isEmpty: Bool { live.isEmpty }

    @discardableResult
    package mutating func add(at fireAt: Instant, _ kind: TimetableEntry.Kind, owner: RunRef?) -> EntryID {
        let id = EntryID(rawValue: nextID)
        nextID += 1
        live[id] = TimetableEntry(id: id, fireAt: fireAt, kind: kind, owner: owner)
        heap.insert(Slot(fireAt: fireAt, id: id))
        return id
    }

    /// Removes a pending entry; cancelling one that already fired or was cancelled does nothing.
    @discardableResult
    package mutating func cancel(_ id: EntryID) -> TimetableEntry? {
        live.removeValue(forKey: id)
    }

    package func entry(_ id: EntryID) -> TimetableEntry? { live[id] }

    /// The live entries a run owns.
    package func entries(ownedBy runID: String) -> [TimetableEntry] {
        (owned[runID] ?? [:]).values.compactMap { live[$0.id] }.sorted { ($0.fireAt, $0.id) < ($1.fireAt, $1.id) }
    }

    /// Makes the entries `owner` has exactly `desired` (kind and fire time, in the order new ones are to be
    /// added): entries no longer called for, or called for at another time, are cancelled; missing ones are
    /// added. An empty `desired` cancels everything the run owns, in one call.
    package mutating func sync(owner: RunRef, desired: [(kind: TimetableEntry.Kind, fireAt: Instant)]) {
        var mine = owned.removeValue(forKey: owner.runID) ?? [:]
        if mine.isEmpty && desired.isEmpty { return }
        var wanted: [TimetableEntry.Kind: Instant] = [:]
        for entry in desired { wanted[entry.kind] = entry.fireAt }
        for (kind, entry) in mine where wanted[kind] != entry.fireAt {
            live.removeValue(forKey: entry.id)
            mine[kind] = nil
        }
        for entry in desired where mine[entry.kind] == nil {
            mine[entry.kind] = (add(at: entry.fireAt, entry.kind, owner: owner), entry.fireAt)
        }
        if !mine.isEmpty { owned[owner.runID] = mine }
    }

    /// The soonest live entry.
    package mutating func next() -> TimetableEntry? {
        while let top = heap.min {
            if let entry = live[top.id] { return entry }
            heap.removeMin()
        }
        return nil
    }

    /// Removes and returns the soonest live entry if it is due at `now`.
    package mutating func popDue(at now: Instant) -> TimetableEntry? {
        guard let head = next(), head.fireAt <= now else { return nil }
        heap.removeMin()
        return live.removeValue(forKey: head.id)
    }

    /// Every live entry, soonest first (for inspection; O(n log n)).
    package var pending: [TimetableEntry] {
        live.values.sorted { ($0.fireAt, $0.id) < ($1.fireAt, $1.id) }
    }
}
