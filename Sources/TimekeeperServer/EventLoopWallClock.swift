internal import NIOCore
internal import Synchronization
internal import TimekeeperEngine

/// The system's wall time, with the timers of the engine's waits (long-poll deadlines, the clock task's
/// wait for its next entry) on the server's event loop.
///
/// Swift's `Task.sleep` arms a Dispatch timer: from the event loop that is a write to Dispatch's eventfd and a
/// wake-up of its manager thread for every long poll, ~4 per one-activity workflow (seen with perf's
/// syscall tracepoints in a burst). A timer on the loop itself costs a heap entry.
struct EventLoopWallClock: WallClock {
    let loop: any EventLoop
    private let system = SystemWallClock()

    init(loop: any EventLoop) {
        self.loop = loop
    }

    func now() -> Instant { system.now() }

    func after(_ duration: Duration, run action: @escaping @Sendable () -> Void) {
        loop.scheduleTask(in: .nanoseconds(duration.nanoseconds)) { action() }
    }

    func sleep(for duration: Duration) async {
        let timer = Mutex<Scheduled<Void>?>(nil)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let scheduled = loop.scheduleTask(in: .nanoseconds(duration.nanoseconds)) {}
                // Fires once: when the time comes (success) or when cancelled (failure).
                scheduled.futureResult.whenComplete { _ in continuation.resume() }
                timer.withLock { $0 = scheduled }
                // Cancelled before the timer was stored: `onCancel` found nothing to cancel.
                if Task.isCancelled { scheduled.cancel() }
            }
        } onCancel: {
            timer.withLock { $0 }?.cancel()
        }
    }
}

extension Duration {
    /// The whole duration in nanoseconds, saturating at Int64's range (~292 years).
    fileprivate var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        guard abs(seconds) < Int64.max / 1_000_000_000 else { return seconds < 0 ? .min : .max }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
