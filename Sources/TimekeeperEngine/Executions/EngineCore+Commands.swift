internal import SwiftProtobuf
package import TemporalAPI

package typealias Command = Temporal_Api_Command_V1_Command

extension EngineCore {
    /// Checks one command of a workflow task completion before anything is applied, so that a bad
    /// command leaves the run untouched.
    static func validate(_ command: Command, at index: Int) throws(EngineError) {
        let field = "commands[\(index)]"
        switch command.commandType {
        case .completeWorkflowExecution:
            guard case .completeWorkflowExecutionCommandAttributes = command.attributes else {
                throw .invalidArgument("\(field) is COMPLETE_WORKFLOW_EXECUTION but has no complete_workflow_execution_command_attributes")
            }
        case .failWorkflowExecution:
            guard case .failWorkflowExecutionCommandAttributes = command.attributes else {
                throw .invalidArgument("\(field) is FAIL_WORKFLOW_EXECUTION but has no fail_workflow_execution_command_attributes")
            }
        case .unspecified:
            throw .invalidArgument("\(field).command_type is not set")
        default:
            throw EngineError(.unimplemented, "\(field): command \(command.commandType) is not supported by this server yet")
        }
    }

    /// Applies one validated command of a completed workflow task.
    mutating func apply(_ command: Command, runID: String, completedEventID: Int64) {
        switch command.attributes {
        case .completeWorkflowExecutionCommandAttributes(let attributes):
            appendEvent(runID, .workflowExecutionCompleted) { event in
                event.workflowExecutionCompletedEventAttributes = .with {
                    if attributes.hasResult { $0.result = attributes.result }
                    $0.workflowTaskCompletedEventID = completedEventID
                }
            }
            close(runID, .completed)
        case .failWorkflowExecutionCommandAttributes(let attributes):
            appendEvent(runID, .workflowExecutionFailed) { event in
                event.workflowExecutionFailedEventAttributes = .with {
                    if attributes.hasFailure { $0.failure = attributes.failure }
                    $0.retryState = .retryPolicyNotSet
                    $0.workflowTaskCompletedEventID = completedEventID
                }
            }
            close(runID, .failed)
        default:
            preconditionFailure("validate(_:at:) admits only the commands handled here")
        }
    }
}
