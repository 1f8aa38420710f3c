internal import GRPCCore
internal import Logging
internal import NIOCore
internal import Synchronization
internal import TemporalAPI
internal import TimekeeperEngine

/// The whole server for one fuzz input: a real engine, the router with every real service, and the
/// engine's clock task, all on a `ManuallyRunLoop`. Shared by the fuzz targets (Fuzz/) and their regression
/// tests, so that a crash input replays through exactly the code that found it.
///
/// Everything is deterministic: the wall clock is the loop's, run ids count up, and nothing runs unless the
/// loop is run. Each input gets a fresh server on a fresh loop; `shutDown` cancels what is left, and the
/// caller checks that nothing outlived it (see `expectNothingLeft`).
final class FuzzServer {
    let engine: Engine
    let router: UnaryRouter
    let executor: EventLoopTaskExecutor
    private let loop: any ManuallyRunLoop
    private var clockTask: Task<Void, Never>?

    /// Logs are formatted (so their descriptions run) and dropped.
    static let logger = Logger(label: "timekeeper.fuzz") { _ in DiscardingLogHandler() }

    /// As `timekeeper PORT` runs for an SDK's test environment: time skipping, one client lock at start.
    init(loop: any ManuallyRunLoop) {
        self.loop = loop
        let runIDs = RunIDs()
        engine = Engine(configuration: .init(skipsTime: true, startsLocked: true), wall: ManualWallClock(loop: loop),
                        logger: Self.logger, makeRunID: { runIDs.next() })
        router = UnaryRouter.allServices(engine: engine)
        executor = EventLoopTaskExecutor(loop)
        let engine = self.engine
        // Started like TimekeeperServer.run's clock task; it runs only when the loop is run.
        clockTask = Task(executorPreference: executor) { await engine.runClock() }
        loop.run()
    }

    /// Cancels the clock task and runs the loop until everything cancelled has finished.
    func shutDown() {
        clockTask?.cancel()
        clockTask = nil
        loop.run()
        // Timers whose cancellation is still on its way (a wall-clock sleep's cancelled timer fires its
        // failure on the loop) and anything scheduled a little later.
        loop.advanceTime(by: .seconds(1))
        loop.run()
    }

    /// Crashes (a fuzzing finding) if a call's task, a waiter or a timer outlived the server: then the engine
    /// would still be referenced (by a parked continuation's task) once the server is dropped.
    static func expectNothingLeft(_ engine: () -> Engine?, input: String) {
        precondition(engine() == nil, "something still references the engine after \(input) was served and shut down")
    }

    /// Run ids as a fresh server hands them out: `00000000-0000-4000-8000-000000000001`, …-000000000002, …
    /// (UUID-shaped, so that the corpus's recorded run ids can be rewritten to these, same length).
    static func runID(_ number: Int) -> String {
        let digits = String(number)
        return "00000000-0000-4000-8000-" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }

    private final class RunIDs: Sendable {
        private let count = Atomic<Int>(0)

        func next() -> String { FuzzServer.runID(count.add(1, ordering: .relaxed).newValue) }
    }
}

/// Formats every log message (the level is trace) and keeps none of them.
private struct DiscardingLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        _ = event.message.description
    }
}
