internal import Foundation

/// The source of wall time for the engine's shell. The core never reads it: it is handed `wallNow`.
package protocol WallClock: Sendable {
    func now() -> Instant
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
