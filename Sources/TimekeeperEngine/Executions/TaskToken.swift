package import Foundation

/// What a task token names: one attempt of one task of one run.
///
/// Encoded as a short text so that a token from a client is easy to check and to read in a log:
/// `<kind>/<run id>/<scheduled event id>/<attempt>`. Anything else is "malformed".
package struct TaskToken: Hashable, Sendable {
    package enum Kind: String, Sendable {
        case workflowTask = "wt"
        case queryTask = "qt"
        case activityTask = "at"
    }

    package var kind: Kind
    package var runID: String
    package var scheduledEventID: Int64
    package var attempt: Int32

    package init(kind: Kind, runID: String, scheduledEventID: Int64, attempt: Int32) {
        self.kind = kind
        self.runID = runID
        self.scheduledEventID = scheduledEventID
        self.attempt = attempt
    }

    package var data: Data { Data("\(kind.rawValue)/\(runID)/\(scheduledEventID)/\(attempt)".utf8) }

    /// Decodes a token from a client, naming `field` in the error when it is not one of ours.
    package init(_ data: Data, field: String = "task_token") throws(EngineError) {
        guard !data.isEmpty else { throw .invalidArgument("\(field) is not set") }
        let parts = String(decoding: data, as: UTF8.self).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, let kind = Kind(rawValue: String(parts[0])), !parts[1].isEmpty,
            let scheduled = Int64(parts[2]), scheduled > 0, let attempt = Int32(parts[3]), attempt > 0
        else {
            throw .invalidArgument("\(field) is malformed: it is not a token this server issued")
        }
        self.init(kind: kind, runID: String(parts[1]), scheduledEventID: scheduled, attempt: attempt)
    }
}
