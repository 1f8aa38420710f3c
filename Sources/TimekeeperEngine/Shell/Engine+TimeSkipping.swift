internal import SwiftProtobuf
package import TemporalAPI

/// Per-workflow time skipping (V2) through the shell: options updates are transitions, and the
/// fast-forward poll waits for the workflow's runs to change.
extension Engine {
    package func updateWorkflowOptions(_ request: UpdateWorkflowOptionsRequest) throws(EngineError) -> UpdateWorkflowOptionsResponse {
        try transact { (core: inout EngineCore, now: Instant) throws(EngineError) in try core.updateWorkflowOptions(request, wallNow: now) }
    }

    /// `PollWorkflowExecutionTimeSkipping`: waits at most `timeout` for the fast-forward to end (completed
    /// or failed), following the workflow's current run; then POLL_TIMEOUT, and the SDK polls again.
    package func pollTimeSkipping(_ request: PollTimeSkippingRequest, timeout: Duration) async throws(EngineError)
        -> PollTimeSkippingResponse
    {
        try await longPoll(timeout: timeout, awaitsResult: false) {
            (core: inout EngineCore) throws(EngineError) -> RunRead<PollTimeSkippingResponse> in
            let (answer, runID) = try core.pollTimeSkipping(request)
            if let answer { return .answer(answer) }
            return .waitForChange(runID: runID, answerIfUnchanged: .with { $0.fastForwardPollingResult = .pollTimeout })
        }
    }
}
