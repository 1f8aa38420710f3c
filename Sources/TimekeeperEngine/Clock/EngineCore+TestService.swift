/// TestService: the client side of the V1 lock counter, and sleeps on the virtual clock.
extension EngineCore {
    package mutating func lockTimeSkipping(wallNow: Instant) {
        commit(wallNow) { core in core.lockClock() }
    }

    package mutating func unlockTimeSkipping(wallNow: Instant) throws(EngineError) {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            try core.checkUnlock()
            return { core in core.clock.unlock(.clientUnlocked) }
        }
    }

    /// An unlock is refused when it would take the unified count below zero.
    private func checkUnlock() throws(EngineError) {
        guard clock.lockCount > 0 else {
            throw EngineError(
                .failedPrecondition,
                "Unbalanced lock and unlock calls: UnlockTimeSkipping called while the time-skipping lock count is 0")
        }
    }

    /// Registers a sleep that finishes (with a `.finishSleep` effect) when virtual time reaches `until`.
    /// With `unlocking`, the call also unlocks now and re-locks when the sleep fires
    /// (`UnlockTimeSkippingWithSleep`); an unbalanced unlock is refused before anything is registered.
    package mutating func sleep(_ id: SleepID, until deadline: SleepDeadline, unlocking: Bool, wallNow: Instant)
        throws(EngineError)
    {
        try transition(wallNow) { (core: EngineCore) throws(EngineError) in
            if case .after(let duration) = deadline, duration < .zero {
                throw .invalidArgument("duration must not be negative")
            }
            if unlocking { try core.checkUnlock() }
            return { core in
                let (fireAt, slept): (Instant, Duration) =
                    switch deadline {
                    case .after(let duration): (core.now + duration, duration)
                    case .at(let instant): (instant, .zero)
                    }
                if unlocking { core.clock.unlock(.clientSleep(slept)) }
                core.sleeps[id] = core.timetable.add(at: fireAt, .testClientSleep(id, relocks: unlocking), owner: nil)
            }
        }
    }

    /// The sleeping call went away before its time: drop the entry, and give back the lock an unlocking
    /// sleep took so that the count stays balanced.
    package mutating func cancelSleep(_ id: SleepID, wallNow: Instant) {
        commit(wallNow) { core in
            guard let entryID = core.sleeps.removeValue(forKey: id), let entry = core.timetable.cancel(entryID) else { return }
            if case .testClientSleep(_, relocks: true) = entry.kind { core.lockClock() }
        }
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
