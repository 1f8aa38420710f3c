internal import Foundation

/// The source of wall time for the engine's shell. The core never reads it: it is handed `wallNow`.
package protocol WallClock: Sendable {
    func now() -> Instant
    /// Waits `duration` of wall time; returns early, without an error, if the task is cancelled. The shell's
    /// timeouts (long polls, the clock task's wait for the next entry) wait here.
    func sleep(for duration: Duration) async
    /// Runs `action` once `duration` of wall time has passed, armed from the caller's thread (no task: a
    /// clock on a loop that only its own thread may touch, as the fuzz targets' is, stays on it).
    func after(_ duration: Duration, run action: @escaping @Sendable () -> Void)
}

extension WallClock {
    /// Swift's own timer (on Linux a Dispatch timer, armed from another thread). The server passes a clock
    /// whose timers live on its event loop instead.
    package func sleep(for duration: Duration) async {
        try? await Task.sleep(for: duration)
    }

    package func after(_ duration: Duration, run action: @escaping @Sendable () -> Void) {
        Task {
            try? await Task.sleep(for: duration)
            action()
        }
    }
}

/// Real wall time that never goes backwards: the system time at start plus monotonic elapsed time.
package struct SystemWallClock: WallClock {
    private let origin: Instant
    private let start: ContinuousClock.Instant

    package init() {
        origin = Instant(nanosecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1e9))
        start = ContinuousClock.now
    }

    package func now() -> Instant { origin + (ContinuousClock.now - start) }
}
