/// A run's timeouts after normalisation.
///
/// Matches Temporal's Java test server (`overrideStartWorkflowExecutionRequest`): an unset execution
/// timeout becomes 10 years (and none may exceed that), the run timeout is capped by it, and the
/// workflow task timeout defaults to 10 s and is capped at 2 minutes and by the run timeout. The
/// normalised values are what the started event records, as the Java server's do.
package struct WorkflowTimeouts: Sendable, Equatable {
    package static let tenYears: Duration = .seconds(10 * 365 * 24 * 3600)
    package static let defaultWorkflowTask: Duration = .seconds(10)
    package static let maximumWorkflowTask: Duration = .seconds(120)

    package var execution: Duration
    package var run: Duration
    package var workflowTask: Duration

    /// The timeouts a started event records, as Temporal's server records them: an unset execution
    /// timeout stays unset (zero), an unset run timeout is the execution timeout, or unset too. Reading
    /// them back (`init`) gives these normalised timeouts again.
    func recorded(requestedExecution: Duration, requestedRun: Duration) -> (execution: Duration, run: Duration) {
        guard requestedExecution > .zero || requestedRun > .zero else { return (.zero, .zero) }
        return (requestedExecution > .zero ? execution : .zero, run)
    }

    /// How long attempt `attempt` of a workflow task may run: the run's task timeout, plus from the fourth
    /// attempt on 5 s doubling per attempt up to 10 minutes (Temporal's `history.workflowTaskRetryMaxInterval`),
    /// so that a task that keeps failing is retried ever more slowly. Temporal also jitters the extra time
    /// down by up to 20 %; we do not, so that a test sees the same timeouts every time.
    func workflowTask(attempt: Int32) -> Duration {
        guard attempt >= 4 else { return workflowTask }
        let doublings = min(Int(attempt) - 4, 7)  // 5 s × 2^7 = 640 s, past the 10-minute cap
        return workflowTask + min(.seconds(5) * (1 << doublings), .seconds(600))
    }

    /// Normalises requested timeouts, where `.zero` means "not set".
    package init(execution: Duration, run: Duration, workflowTask: Duration) {
        let execution = execution == .zero ? Self.tenYears : min(execution, Self.tenYears)
        let run = min(run == .zero ? Self.tenYears : run, Self.tenYears, execution)
        let task = min(workflowTask == .zero ? Self.defaultWorkflowTask : workflowTask, Self.maximumWorkflowTask, run)
        self.execution = execution
        self.run = run
        self.workflowTask = task
    }
}
