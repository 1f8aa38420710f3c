import NIOCore
import NIOPosix
import Testing
import TimekeeperEngine
@testable import TimekeeperServer

/// The engine's waits on an event loop's timers.
@Suite struct EventLoopWallClockTests {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    @Test func aSleepLastsItsDuration() async throws {
        let clock = EventLoopWallClock(loop: group.next())
        let start = ContinuousClock.now
        await clock.sleep(for: .milliseconds(300))
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(300))
        #expect(elapsed < .seconds(5))
    }

    @Test func cancellingTheTaskEndsTheSleepAtOnce() async throws {
        let clock = EventLoopWallClock(loop: group.next())
        let start = ContinuousClock.now
        let sleeper = Task { await clock.sleep(for: .seconds(3600)) }
        try await Task.sleep(for: .milliseconds(50))
        sleeper.cancel()
        await sleeper.value
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func aTaskCancelledBeforeItSleepsDoesNotWait() async throws {
        let clock = EventLoopWallClock(loop: group.next())
        let start = ContinuousClock.now
        let sleeper = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            await clock.sleep(for: .seconds(3600))
        }
        await sleeper.value
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func nowIsTheSystemWallTime() {
        let clock = EventLoopWallClock(loop: group.next())
        let difference = clock.now() - SystemWallClock().now()
        #expect(abs(difference.components.seconds) < 1)
    }
}
