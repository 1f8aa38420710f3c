internal import TemporalAPI

/// A user timer between its TimerStarted event and the TimerFired or TimerCanceled event that ends it.
///
/// A run keeps its pending timers by timer id (`[String: TimerState]`); an id is reused only after the
/// timer with it ended. The transitions below refuse an event that does not fit.
package struct TimerState: Sendable, Equatable {
    package var startedEventID: Int64
    package var fireAt: Instant
}

extension Dictionary where Key == String, Value == TimerState {
    mutating func startTimer(_ timerID: String, eventID: Int64, fireAt: Instant) throws(RunChangeError) {
        guard self[timerID] == nil else {
            throw RunChangeError(.invalidTransition, "TimerStarted (event \(eventID)) reuses the id of open timer \(timerID)")
        }
        self[timerID] = TimerState(startedEventID: eventID, fireAt: fireAt)
    }

    /// TimerFired or TimerCanceled: the timer started by `startedEventID` ends.
    mutating func endTimer(_ timerID: String, startedEventID: Int64, event name: String, eventID: Int64)
        throws(RunChangeError)
    {
        guard self[timerID]?.startedEventID == startedEventID else {
            throw RunChangeError(
                .unknownEntity,
                "\(name) (event \(eventID)) names timer \(timerID) started by event \(startedEventID), which is not open")
        }
        self[timerID] = nil
    }
}
