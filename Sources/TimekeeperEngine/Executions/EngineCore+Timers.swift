internal import SwiftProtobuf
internal import TemporalAPI

extension EngineCore {
    mutating func startTimer(_ attributes: Temporal_Api_Command_V1_StartTimerCommandAttributes, runID: String,
                             completedEventID: Int64) {
        // The run's reducer sets the timer's fire time from the event, and `Refresher` its entry.
        record(runID, .timerStarted) { event in
            event.timerStartedEventAttributes = .with {
                $0.timerID = attributes.timerID
                $0.startToFireTimeout = attributes.startToFireTimeout
                $0.workflowTaskCompletedEventID = completedEventID
            }
        }
    }

    mutating func cancelTimer(_ timerID: String, runID: String, completedEventID: Int64, identity: String) {
        guard let timer = runs[runID]!.timers[timerID] else { return }
        record(runID, .timerCanceled) { event in
            event.timerCanceledEventAttributes = .with {
                $0.timerID = timerID
                $0.startedEventID = timer.startedEventID
                $0.workflowTaskCompletedEventID = completedEventID
                $0.identity = identity
            }
        }
    }

    /// The timers that came due while the run's workflow task was started (they wait, see `Refresher`)
    /// fire now, after that task's completion and before its next task is scheduled, so that the next
    /// task carries them even when a worker takes it at once (a local activity's heartbeat).
    mutating func fireTimersDueDuringTask(_ runID: String) {
        guard let run = runs[runID], run.isOpen else { return }
        for (timerID, timer) in run.timers.sorted(by: { $0.value.startedEventID < $1.value.startedEventID })
        where timer.fireAt <= runNow(runID) {
            fireTimer(runID, timerID: timerID, startedEventID: timer.startedEventID)
        }
    }

    mutating func fireTimer(_ runID: String, timerID: String, startedEventID: Int64) {
        guard runs[runID]?.isOpen == true, let timer = runs[runID]!.timers[timerID],
            timer.startedEventID == startedEventID
        else { return }  // cancelled, or a newer timer reuses the id
        record(runID, .timerFired) { event in
            event.timerFiredEventAttributes = .with {
                $0.timerID = timerID
                $0.startedEventID = startedEventID
            }
        }
        workflowNeedsTask(runID)
    }
}
