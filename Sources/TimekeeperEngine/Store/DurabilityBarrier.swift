internal import Synchronization

/// Where a store that commits behind the engine (group commit, `SQLiteExecutionStore`) tells the server
/// how far it has got, so that no answer leaves before the store holds what the answer was made from.
///
/// The store numbers each transition it accepts (`admit`, under the engine's lock, so in the engine's
/// order) and says when a prefix of them is durable (`markDurable`). An answer is held until everything
/// admitted before it was made is durable (`whenDurable`): whatever the answer tells (a task handed to a
/// poller, a run started, a state read) came from transitions admitted by then. Test mode's store commits
/// in place and has no barrier.
package final class DurabilityBarrier: Sendable {
    private let admitted = Atomic<UInt64>(0)
    private let durable = Atomic<UInt64>(0)
    private let waiting = Mutex<[(through: UInt64, action: @Sendable () -> Void)]>([])

    package init() {}

    /// The next transition's number (1, 2, …). Called in the engine's order.
    package func admit() -> UInt64 {
        admitted.add(1, ordering: .acquiringAndReleasing).newValue
    }

    /// Whether everything admitted so far is durable.
    package var isCaughtUp: Bool {
        durable.load(ordering: .acquiring) >= admitted.load(ordering: .acquiring)
    }

    /// Transitions 1...`number` are durable: runs the actions that waited for them.
    package func markDurable(through number: UInt64) {
        let ready = waiting.withLock { waiting -> [@Sendable () -> Void] in
            durable.store(number, ordering: .releasing)
            guard waiting.contains(where: { $0.through <= number }) else { return [] }
            let ready = waiting.filter { $0.through <= number }.map(\.action)
            waiting.removeAll { $0.through <= number }
            return ready
        }
        for action in ready { action() }
    }

    /// `false` when everything admitted so far is durable already (the caller goes on at once, and
    /// `action` is not run); otherwise `action` runs once it is, on the store's thread, and this is `true`.
    package func whenDurable(_ action: @escaping @Sendable () -> Void) -> Bool {
        let through = admitted.load(ordering: .acquiring)
        if durable.load(ordering: .acquiring) >= through { return false }
        let held = waiting.withLock { waiting in
            // Checked again under the lock `markDurable` takes, so that no mark slips between.
            guard durable.load(ordering: .acquiring) < through else { return false }
            waiting.append((through, action))
            return true
        }
        return held
    }

    /// Returns once everything admitted before the call is durable.
    package func durableNow() async {
        if isCaughtUp { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !whenDurable({ continuation.resume() }) { continuation.resume() }
        }
    }
}
