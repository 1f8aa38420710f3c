internal import SwiftProtobuf
internal import TemporalAPI

extension EngineCore {
    mutating func startTimer(_ attributes: Temporal_Api_Command_V1_StartTimerCommandAttributes, runID: String,
                             completedEventID: Int64) {
        let fireAfter = Duration(protobuf: attributes.startToFireTimeout)
        let startedID = appendEvent(runID, .timerStarted) { event in
            event.timerStartedEventAttributes = .with {
                $0.timerID = attributes.timerID
                $0.startToFireTimeout = attributes.startToFireTimeout
                $0.workflowTaskCompletedEventID = completedEventID
            }
        }
        let entry = timetable.add(
            at: now + fireAfter, .userTimer(timerID: attributes.timerID, startedEventID: startedID), owner: runs[runID]!.ref)
        runs[runID]!.timers[attributes.timerID] = (startedID, entry)
    }

    mutating func cancelTimer(_ timerID: String, runID: String, completedEventID: Int64, identity: String) {
        guard let timer = runs[runID]!.timers.removeValue(forKey: timerID) else { return }
        timetable.cancel(timer.entry)
        appendEvent(runID, .timerCanceled) { event in
            event.timerCanceledEventAttributes = .with {
                $0.timerID = timerID
                $0.startedEventID = timer.startedEventID
                $0.workflowTaskCompletedEventID = completedEventID
                $0.identity = identity
            }
        }
    }

    mutating func fireTimer(_ runID: String, timerID: String, startedEventID: Int64) {
        guard runs[runID]?.isOpen == true, let timer = runs[runID]!.timers[timerID],
            timer.startedEventID == startedEventID
        else { return }  // cancelled, or a newer timer reuses the id
        runs[runID]!.timers[timerID] = nil
        appendEvent(runID, .timerFired) { event in
            event.timerFiredEventAttributes = .with {
                $0.timerID = timerID
                $0.startedEventID = startedEventID
            }
        }
        workflowNeedsTask(runID)
    }
}
