internal import Foundation

/// One clock movement that was not wall time flowing: from where, to where, and the entry it went to.
package struct ClockJump: Sendable, CustomStringConvertible {
    package var from: Instant
    package var to: Instant
    package var target: TimetableEntry
    package var wallTime: Instant

    package var distance: Duration { to - from }

    package var description: String {
        let seconds = distance.secondsValue
        return "clock jumped \(String(format: "%.3f", seconds)) s to \(target.fireAt) for the \(target); nothing was in flight and no client held the lock"
    }
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
