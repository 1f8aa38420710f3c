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
