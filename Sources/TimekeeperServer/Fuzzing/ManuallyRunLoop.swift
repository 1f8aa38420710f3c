package import NIOCore
internal import TimekeeperEngine

/// An event loop whose caller runs it by hand, on one thread, with its own time: NIO's `EmbeddedEventLoop`
/// (`extension EmbeddedEventLoop: ManuallyRunLoop {}`; TimekeeperServer does not depend on NIOEmbedded).
/// The fuzz targets and their regression tests run the whole server on one, so that an input always takes
/// the same path: no threads, no wall time.
package protocol ManuallyRunLoop: EventLoop {
    /// Runs every task that is due now, including the ones they enqueue.
    func run()
    /// Moves the loop's time forward, running every task that comes due on the way.
    func advanceTime(by increment: TimeAmount)
}

/// Wall time for an engine on a `ManuallyRunLoop`: a fixed origin plus the loop's own time, with the
/// engine's waits on the loop's timers (as `EventLoopWallClock` has them on a real loop).
struct ManualWallClock: WallClock {
    /// 2026-01-01T00:00:00Z: any fixed instant keeps runs repeatable.
    static let origin = Instant(nanosecondsSinceEpoch: 1_767_225_600 * 1_000_000_000)

    private let loop: any ManuallyRunLoop
    private let timers: EventLoopWallClock

    init(loop: any ManuallyRunLoop) {
        self.loop = loop
        timers = EventLoopWallClock(loop: loop)
    }

    func now() -> Instant { Self.origin + .nanoseconds(Int64(clamping: loop.now.uptimeNanoseconds)) }

    func sleep(for duration: Duration) async { await timers.sleep(for: duration) }

    func after(_ duration: Duration, run action: @escaping @Sendable () -> Void) { timers.after(duration, run: action) }
}
