internal import SwiftProtobuf
internal import TemporalAPI

/// Cron workflows (a start's `cron_schedule`, the legacy form of schedules): each run waits for the next
/// time the schedule names, and when a run completes, fails for good or times out, the next run starts
/// with a backoff to the following time. A terminate or a cancel ends the chain.
extension EngineCore {
    static func validateCron(_ cron: String) throws(EngineError) {
        guard !cron.isEmpty else { return }
        guard cron.utf8.count <= 1000, (try? legacyCronNextTime(cron, after: 0)) != nil else {
            throw .invalidArgument("invalid CronSchedule.")
        }
    }

    /// How long a cron run waits: until the first schedule time at or after now, counting from the
    /// run's scheduled time, in whole seconds rounded up (Temporal's `GetBackoffForNextSchedule`); nil
    /// without a schedule or when no time can be found.
    static func cronBackoff(_ cron: String, scheduledAt: Instant, now: Instant) -> Duration? {
        guard !cron.isEmpty else { return nil }
        var next: Instant
        if now < scheduledAt {
            next = scheduledAt
        } else {
            guard let first = try? legacyCronNextTime(cron, after: scheduledAt.unixSeconds) else { return nil }
            var seconds = first
            // The first time after now; bounded, since a client chose the schedule.
            for _ in 0..<100_000 where Instant(unixSeconds: seconds) < now {
                guard let later = try? legacyCronNextTime(cron, after: seconds) else { return nil }
                seconds = later
            }
            next = Instant(unixSeconds: seconds)
            guard next >= now else { return nil }
        }
        let nanoseconds = (next - now).nanoseconds
        return .seconds((nanoseconds + 999_999_999) / 1_000_000_000)
    }

    /// If `runID` is a cron run, how long the chain's next run waits once this one closes.
    func cronBackoff(after runID: String) -> Duration? {
        guard let run = runs[runID], let request = run.startRequest, !request.cronSchedule.isEmpty else { return nil }
        return Self.cronBackoff(request.cronSchedule, scheduledAt: run.startedAt + run.backoff, now: runNow(runID))
    }

    /// Records a run's close event (`fill` gets the id of the run that continues the chain, or "") and
    /// closes the run; a cron run's chain then goes on in that run, carrying `result` or `failure`.
    mutating func closeRun(
        _ runID: String, _ type: Temporal_Api_Enums_V1_EventType, _ status: ExecutionStatus, result: Payloads? = nil,
        failure: Failure? = nil, _ fill: (inout HistoryEvent, _ nextRunID: String) -> Void
    ) {
        let cron = cronBackoff(after: runID)
        let nextRunID = cron == nil ? "" : makeRunIDPeek()
        record(runID, type) { fill(&$0, nextRunID) }
        close(runID, status)
        guard let cron, let run = runs[runID], let request = run.startRequest else { return }
        startRun(
            request, key: WorkflowKey(namespace: run.ref.namespace, workflowID: run.ref.workflowID),
            continuing: Continuation(
                previousRunID: runID, firstRunID: run.firstRunID, attempt: 1, initiator: .cronSchedule,
                backoff: cron, lastFailure: failure, lastResult: result))
    }
}
