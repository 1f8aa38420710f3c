/// The V1 time-skipping clock: virtual time that flows at wall speed while anything holds it and may
/// jump to the next timetable entry when nothing does.
///
/// One lock count is shared by test clients (`LockTimeSkipping` / `UnlockTimeSkipping`) and in-flight
/// work (outstanding workflow tasks, …), exactly as Temporal's Java test server shares one counter; a
/// client's unlock may therefore "borrow" a hold taken by work, as the Python SDK's own tests rely on.
/// The count is kept split by holder so the clock can say who is holding it.
package struct VirtualClock: Sendable {
    /// Whether the clock may ever jump. `false` is a plain wall clock (dev mode).
    package let skipsTime: Bool
    /// Where the clock started: virtual and wall time were equal then.
    package let startedAt: Instant
    /// Virtual time as of the last `refresh`.
    package private(set) var now: Instant
    /// Locks taken by test clients, net of their unlocks. May go below zero while work holds the clock.
    package private(set) var clientLocks: Int
    /// Holds taken by in-flight work, counted by holder.
    package private(set) var holds: [Hold: Int] = [:]
    /// The sum of `holds`, kept as they change: every transition asks for the count, and with thousands of
    /// workflow tasks in flight summing the dictionary each time made every call O(open work).
    private var heldByWork = 0
    /// The client action that last let the count fall: what permits the next jump.
    package private(set) var permission: JumpPermission
    /// Whether client locks are set aside because a client awaits an update's outcome: awaiting an update
    /// lets the clock skip as awaiting `result()` does (the SDKs unlock for `result()` only; the Java test
    /// server never skips for an update, so users' update tests wait out their timers in real time).
    package private(set) var clientLocksWaived = false
    /// Wall time of the last refresh if time was flowing then; `nil` while skipping.
    private var wallAnchor: Instant?

    package init(startingAt wallNow: Instant, skipsTime: Bool, startsLocked: Bool) {
        self.skipsTime = skipsTime
        self.startedAt = wallNow
        self.now = wallNow
        self.clientLocks = startsLocked ? 1 : 0
        self.permission = startsLocked ? .clientUnlocked : .startedUnlocked
        self.wallAnchor = wallNow
    }

    /// The unified lock count: client locks plus every hold.
    package var lockCount: Int { clientLocks + heldByWork }

    /// Whether the clock may jump now, given whether the timetable has anything in it. An empty
    /// timetable makes time flow, as the Java server's "empty queue" hold does.
    package func maySkip(timetableIsEmpty: Bool) -> Bool {
        skipsTime && skippingLockCount == 0 && !timetableIsEmpty
    }

    /// The count that decides skipping: `lockCount`, less the client locks while they are waived.
    private var skippingLockCount: Int { (clientLocksWaived ? min(clientLocks, 0) : clientLocks) + heldByWork }

    /// Whether only the waiver lets the clock skip (a client lock is held, and set aside).
    package var skipsForAwaitedUpdate: Bool { clientLocksWaived && clientLocks > 0 }

    mutating func waiveClientLocks(_ waived: Bool) { clientLocksWaived = waived }

    /// Brings virtual time up to `wallNow`: wall time that passed while flowing is added, time that
    /// passed while skipping is not. `flowing` says whether time flows from here on.
    package mutating func refresh(wallNow: Instant, flowing: Bool) {
        if let anchor = wallAnchor, wallNow > anchor {
            now = now + (wallNow - anchor)
        }
        wallAnchor = flowing ? wallNow : nil
    }

    /// Moves virtual time forward to `instant` (never backward).
    package mutating func jump(to instant: Instant) {
        if instant > now { now = instant }
    }

    package mutating func lock() { clientLocks += 1 }

    /// A client's unlock (the caller has checked that the unified count is above zero).
    package mutating func unlock(_ permission: JumpPermission = .clientUnlocked) {
        clientLocks -= 1
        self.permission = permission
    }

    /// Keeps the count from staying below zero after a transition. A client unlock that borrowed a hold
    /// leaves the count at -1 when that hold's work ends without new work taking its place (the Java
    /// server throws "Unbalanced lock and unlock calls" from inside the workflow update there); we forgive
    /// the borrowed unlock instead, so the run's state is never left half-updated.
    package mutating func settleBorrowedUnlocks() {
        let count = lockCount
        if count < 0 { clientLocks -= count }
    }

    package mutating func take(_ hold: Hold) {
        holds[hold, default: 0] += 1
        heldByWork += 1
    }

    package mutating func release(_ hold: Hold) {
        guard let count = holds[hold] else { return }
        holds[hold] = count > 1 ? count - 1 : nil
        heldByWork -= 1
    }
}

/// What allowed the clock to skip: the client call that released the last lock, or the server's start mode.
package enum JumpPermission: Sendable, Equatable {
    case startedUnlocked
    case clientUnlocked
    case clientSleep(Duration)
    /// A client holding a lock awaits an update's outcome (see `VirtualClock.clientLocksWaived`).
    case clientAwaitingUpdate

    /// The permission as a phrase, naming the workflows whose results a client was awaiting, if any, and
    /// the updates whose outcomes it was awaiting.
    package func explanation(awaiting workflowIDs: [String], updates: [AwaitedUpdate] = []) -> String {
        let updateList = updates.map { "update \($0.updateID) of workflow \($0.workflowID)" }.joined(separator: ", ")
        var awaited = workflowIDs.isEmpty
            ? ""
            : " while it awaited the result of workflow \(workflowIDs.sorted().joined(separator: ", "))"
        if !updates.isEmpty && self != .clientAwaitingUpdate { awaited += " and the outcome of \(updateList)" }
        switch self {
        case .clientAwaitingUpdate:
            return "permitted by a client awaiting \(updates.isEmpty ? "an update" : updateList)"
                + (workflowIDs.isEmpty ? "" : " and the result of workflow \(workflowIDs.sorted().joined(separator: ", "))")
        case .startedUnlocked: return "permitted because the server was started with --enable-time-skipping"
        case .clientUnlocked: return "permitted by a client's UnlockTimeSkipping\(awaited)"
        case .clientSleep(let duration):
            return "permitted by a client's UnlockTimeSkippingWithSleep(\(Int(duration.secondsValue)) s), as env.sleep sends\(awaited)"
        }
    }
}
