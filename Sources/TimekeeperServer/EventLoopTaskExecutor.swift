internal import NIOCore

/// Runs tasks on one NIO event loop: the server's tasks prefer it (`withTaskExecutorPreference`), so a
/// handler runs on the thread that read its request instead of crossing to Swift's default pool and back
/// (on Swift 6.3 the global-executor takeover hook alone left a third of the jobs on Dispatch threads).
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    // Immutable after init; EventLoop is thread-safe.
    private let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
