internal import Synchronization

/// Open once the engine can serve (at once, unless it is recovering from a store in the background).
/// Callers on the event loop check `isOpen` (one atomic load) and run at once; the others wait for
/// `opened()` without blocking a thread, so the loop stays free to answer `GetSystemInfo` meanwhile.
package final class ReadinessGate: Sendable {
    private let open = Atomic<Bool>(true)
    private let waiting = Mutex<[CheckedContinuation<Void, Never>]>([])
    private let whenWaitedFor = Mutex<(@Sendable () -> Void)?>(nil)

    package init() {}

    package var isOpen: Bool { open.load(ordering: .acquiring) }

    func close() { open.store(false, ordering: .releasing) }

    /// `action` runs each time a caller starts waiting while the gate is closed.
    func onWait(_ action: @escaping @Sendable () -> Void) { whenWaitedFor.withLock { $0 = action } }

    func openGate() {
        let resumed = waiting.withLock { waiting in
            open.store(true, ordering: .releasing)
            defer { waiting = [] }
            return waiting
        }
        for continuation in resumed { continuation.resume() }
    }

    /// Returns once the gate is open.
    package func opened() async {
        if isOpen { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let openAlready = waiting.withLock { waiting in
                if open.load(ordering: .acquiring) { return true }
                waiting.append(continuation)
                return false
            }
            if openAlready { continuation.resume() } else { whenWaitedFor.withLock { $0 }?() }
        }
    }
}
