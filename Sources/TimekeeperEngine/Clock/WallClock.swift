internal import Foundation

/// The source of wall time for the engine's shell. The core never reads it: it is handed `wallNow`.
package protocol WallClock: Sendable {
    func now() -> Instant
    /// Waits `duration` of wall time; returns early, without an error, if the task is cancelled. The shell's
    /// timeouts (long polls, the clock task's wait for the next entry) wait here.
    func sleep(for duration: Duration) async
}

extension WallClock {
    /// Swift's own timer (on Linux a Dispatch timer, armed from another thread). The server passes a clock
    /// whose timers live on its event loop instead.
    package func sleep(for duration: Duration) async {
        try? await Task.sleep(for: duration)
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
