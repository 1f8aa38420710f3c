
/// Runs `body` for at most `timeout` of `clock`'s wall time: when time is up, `body`'s task is cancelled
/// and its answer (which it must give promptly once cancelled) is returned.
func withTimeout<T: Sendable>(_ timeout: Duration, clock: any WallClock, _ body: @escaping @Sendable () async -> T)
    async -> T
{
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await body() }
        group.addTask {
            await clock.sleep(for: timeout)
            return nil
        }
        while let next = await group.next() {
            if let value = next {
                group.cancelAll()
                return value
            }
            group.cancelAll()  // time is up: cancel `body` and take its answer
        }
        preconditionFailure("the body task always produces a value")
    }
}
