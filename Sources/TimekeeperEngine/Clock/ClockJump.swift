internal import Foundation

/// One clock movement that was not wall time flowing: from where, to where, and the entry it went to.
package struct ClockJump: Sendable, CustomStringConvertible {
    package var from: Instant
    package var to: Instant
    package var target: TimetableEntry
    package var wallTime: Instant
    /// What allowed the clock to move: the client call that released the last lock (or the start mode).
    package var permittedBy: JumpPermission
    /// The workflows whose results a client was awaiting when it moved.
    package var awaitedWorkflowIDs: [String] = []
    /// The updates whose outcomes a client was awaiting when it moved.
    package var awaitedUpdates: [AwaitedUpdate] = []

    /// The permission as a phrase, for the log and the inspection tools.
    package var permission: String { permittedBy.explanation(awaiting: awaitedWorkflowIDs, updates: awaitedUpdates) }

    package var distance: Duration { to - from }

    package var description: String {
        "clock jumped \(String(format: "%.3f", distance.secondsValue)) s to \(target.fireAt) for the \(target); "
            + "\(permission); nothing was in flight"
    }
}

/// An update whose outcome a client awaits.
package struct AwaitedUpdate: Sendable, Equatable {
    package var workflowID: String
    package var updateID: String
}

/// The most recent jumps, oldest first, bounded so that a long test run cannot grow it without end.
package struct RecentJumps: Sendable {
    package let capacity: Int
    package private(set) var jumps: [ClockJump] = []
    private var start = 0

    package init(capacity: Int) { self.capacity = capacity }

    package mutating func append(_ jump: ClockJump) {
        if jumps.count < capacity {
            jumps.append(jump)
        } else {
            jumps[start] = jump
            start = (start + 1) % capacity
        }
    }

    package var inOrder: [ClockJump] { Array(jumps[start...] + jumps[..<start]) }
}

/// The trap users fall into, caught: a jump fired a timeout on a workflow that was blocked with no timer
/// of its own (waiting for a signal or an update), so only the jump could have ended it.
package struct TimeSkippingTrap: Sendable, CustomStringConvertible {
    package var run: RunRef
    package var jump: ClockJump

    package var description: String {
        "workflow \(run.workflowID) (run \(run.runID)) timed out because the clock jumped "
            + "\(String(format: "%.0f", jump.distance.secondsValue)) s to its \(Self.what(jump.target.kind)) while it was "
            + "blocked waiting for a signal or update with no timer of its own; \(jump.permission). "
            + "Fix: signal before awaiting the result, poll with queries, or disable auto time skipping."
    }

    private static func what(_ kind: TimetableEntry.Kind) -> String {
        switch kind {
        case .workflowRunTimeout: "execution timeout"
        default: "timeout"
        }
    }
}
