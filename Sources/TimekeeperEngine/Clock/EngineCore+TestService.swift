/// TestService: the client side of the V1 lock counter, and sleeps on the virtual clock.
extension EngineCore {
    package mutating func lockTimeSkipping(wallNow: Instant) {
        refresh(wallNow)
        defer { settle(wallNow) }
        lockClock()
    }

    package mutating func unlockTimeSkipping(wallNow: Instant) throws(EngineError) {
        refresh(wallNow)
        defer { settle(wallNow) }
        try unlockClock()
    }

    /// Registers a sleep that finishes (with a `.finishSleep` effect) when virtual time reaches `until`.
    /// With `unlocking`, the call also unlocks now and re-locks when the sleep fires
    /// (`UnlockTimeSkippingWithSleep`); an unbalanced unlock is refused before anything is registered.
    package mutating func sleep(_ id: SleepID, until deadline: SleepDeadline, unlocking: Bool, wallNow: Instant)
        throws(EngineError)
    {
        refresh(wallNow)
        defer { settle(wallNow) }
        // Everything that can refuse the request is checked before the unlock: a refused request changes
        // nothing (an unlock followed by a throw would leave the clock free to jump).
        let fireAt: Instant
        let slept: Duration
        switch deadline {
        case .after(let duration):
            guard duration >= .zero else { throw .invalidArgument("duration must not be negative") }
            fireAt = now + duration
            slept = duration
        case .at(let instant):
            fireAt = instant
            slept = .zero
        }
        if unlocking { try unlockClock(.clientSleep(slept)) }
        sleeps[id] = timetable.add(at: fireAt, .testClientSleep(id, relocks: unlocking), owner: nil)
    }

    /// The sleeping call went away before its time: drop the entry, and give back the lock an unlocking
    /// sleep took so that the count stays balanced.
    package mutating func cancelSleep(_ id: SleepID, wallNow: Instant) {
        refresh(wallNow)
        defer { settle(wallNow) }
        guard let entryID = sleeps.removeValue(forKey: id), let entry = timetable.cancel(entryID) else { return }
        if case .testClientSleep(_, relocks: true) = entry.kind { lockClock() }
    }

    package mutating func currentTime(wallNow: Instant) -> Instant {
        settle(wallNow)
        return now
    }
}

package enum SleepDeadline: Sendable {
    case after(Duration)
    case at(Instant)
}
