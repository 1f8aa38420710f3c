internal import Foundation
internal import GRPCCore
internal import SwiftProtobuf
internal import TemporalAPI
internal import TimekeeperEngine

private typealias IS = Timekeeper_Inspection_V1_InspectionService

/// `timekeeper.inspection.v1.InspectionService`: the read-only view behind `timekeeper clock`,
/// `timekeeper timetable`, `timekeeper workflow list` and the web page.
struct InspectionHandlers: UnaryService {
    let engine: Engine

    func register(with router: inout UnaryRouter) {
        let engine = self.engine
        router.registerUnary(IS.Method.GetClock.descriptor) { (_: Timekeeper_Inspection_V1_GetClockRequest, _) in
            Inspection.clock(engine)
        }
        router.registerUnary(IS.Method.ListTimetable.descriptor) {
            (_: Timekeeper_Inspection_V1_ListTimetableRequest, _) in
            Inspection.timetable(engine)
        }
        router.registerUnary(IS.Method.ListWorkflows.descriptor) {
            (request: Timekeeper_Inspection_V1_ListWorkflowsRequest, _) in
            try Inspection.workflows(engine, namespace: request.namespace, query: request.query)
        }
    }
}

/// Engine state → inspection messages (shared by the gRPC service and the web page's JSON).
enum Inspection {
    static func clock(_ engine: Engine) -> Timekeeper_Inspection_V1_GetClockResponse {
        engine.inspect { core, wallNow in
            .with {
                $0.virtualTime = core.now.timestamp
                $0.wallTime = wallNow.timestamp
                $0.skipsTime = core.clock.skipsTime
                $0.lockCount = Int32(core.clock.lockCount)
                $0.clientLocks = Int32(core.clock.clientLocks)
                $0.holders = core.clock.holds.sorted { $0.key.description < $1.key.description }.map { hold, count in
                    .with { $0.description_p = hold.description; $0.count = Int32(count) }
                }
                if core.clock.clientLocks != 0 {
                    $0.holders.insert(.with {
                        $0.description_p = "test clients (LockTimeSkipping net of unlocks)"
                        $0.count = Int32(core.clock.clientLocks)
                    }, at: 0)
                }
                $0.recentJumps = core.recentJumps.inOrder.map { jump($0, now: core.now) }
                $0.traps = core.traps.values.sorted { $0.jump.wallTime < $1.jump.wallTime }.map { trap in
                    .with {
                        $0.namespace = trap.run.namespace
                        $0.workflowID = trap.run.workflowID
                        $0.runID = trap.run.runID
                        $0.explanation = trap.description
                        $0.jump = jump(trap.jump, now: core.now)
                    }
                }
                $0.startedVirtualTime = core.clock.startedAt.timestamp
                $0.startedWallTime = core.clock.startedAt.timestamp
            }
        }
    }

    static func timetable(_ engine: Engine) -> Timekeeper_Inspection_V1_ListTimetableResponse {
        engine.inspect { core, _ in
            .with {
                $0.virtualTime = core.now.timestamp
                $0.entries = core.timetable.pending.map { entry($0, now: core.now) }
            }
        }
    }

    /// The runs of `namespace` (empty: every namespace), newest first; with a list-filter `query`, only
    /// the runs `ListWorkflowExecutions` would answer for it, in its order. A query that does not parse
    /// throws the list's invalid-argument error (its message names where the query went wrong).
    static func workflows(_ engine: Engine, namespace: String, query: String = "") throws(EngineError)
        -> Timekeeper_Inspection_V1_ListWorkflowsResponse
    {
        guard !query.allSatisfy(\.isWhitespace) else {
            return engine.inspect { core, _ in
                .with {
                    $0.workflows = core.runs.values
                        .filter { namespace.isEmpty || $0.ref.namespace == namespace }
                        .sorted { ($0.startedAt, $0.ref.runID) > ($1.startedAt, $1.ref.runID) }
                        .map { summary($0, core: core) }
                }
            }
        }
        // Every namespace runs were started in (the default one when there are none, so that a bad query is
        // still reported), each listed as the workflow service would list it. A namespace whose runs lack a
        // custom attribute the query names refuses it; the query fails only if every namespace refuses it.
        let namespaces = namespace.isEmpty
            ? engine.inspect { core, _ in Set(core.runs.values.map(\.ref.namespace)).sorted() }
            : [namespace]
        var runIDs: [String] = []
        var refusal: EngineError?
        var answered = false
        for namespace in namespaces.isEmpty ? ["default"] : namespaces {
            var token = Data()
            do throws(EngineError) {
                repeat {
                    let page = try engine.listWorkflows(.with {
                        $0.namespace = namespace
                        $0.query = query
                        $0.nextPageToken = token
                    })
                    runIDs += page.executions.map(\.execution.runID)
                    token = page.nextPageToken
                } while !token.isEmpty
                answered = true
            } catch {
                refusal = refusal ?? error
            }
        }
        if !answered, let refusal { throw refusal }
        return engine.inspect { core, _ in
            .with { $0.workflows = runIDs.compactMap { core.runs[$0] }.map { summary($0, core: core) } }
        }
    }

    static func summary(_ run: WorkflowRun, core: EngineCore) -> Timekeeper_Inspection_V1_WorkflowSummary {
        .with {
            $0.namespace = run.ref.namespace
            $0.workflowID = run.ref.workflowID
            $0.runID = run.ref.runID
            $0.workflowType = run.workflowType
            $0.taskQueue = run.taskQueue
            $0.status = statusName(run.status)
            $0.startTime = run.startedAt.timestamp
            if let closedAt = run.closedAt { $0.closeTime = closedAt.timestamp }
            $0.historyLength = run.lastEventID
            if let trap = core.traps[run.ref.runID] { $0.trap = trap.description }
        }
    }

    static func entry(_ entry: TimetableEntry, now: Instant) -> Timekeeper_Inspection_V1_TimetableEntry {
        .with {
            $0.fireTime = entry.fireAt.timestamp
            $0.timeLeft = max(.zero, entry.fireAt - now).protobuf
            $0.kind = kindName(entry.kind)
            $0.description_p = entry.description
            if let owner = entry.owner {
                $0.namespace = owner.namespace
                $0.workflowID = owner.workflowID
                $0.runID = owner.runID
            }
        }
    }

    static func jump(_ jump: ClockJump, now: Instant) -> Timekeeper_Inspection_V1_Jump {
        .with {
            $0.fromTime = jump.from.timestamp
            $0.toTime = jump.to.timestamp
            $0.distance = jump.distance.protobuf
            $0.wallTime = jump.wallTime.timestamp
            $0.target = entry(jump.target, now: now)
            $0.permission = jump.permission
            $0.summary = jump.description
        }
    }

    static func kindName(_ kind: TimetableEntry.Kind) -> String {
        switch kind {
        case .workflowRunTimeout: "workflow-run-timeout"
        case .workflowTaskTimeout: "workflow-task-timeout"
        case .stickyScheduleToStart: "sticky-schedule-to-start-timeout"
        case .userTimer: "user-timer"
        case .activityTimeout(_, _, let type): "activity-\(TimetableEntry.timeoutName(type))-timeout"
        case .activityRetry: "activity-retry"
        case .workflowBackoff: "workflow-backoff"
        case .fastForwardEnd: "fast-forward-end"
        case .retentionEnds: "retention-end"
        case .testClientSleep: "test-client-sleep"
        case .scheduleWakeup: "schedule"
        }
    }

    /// The status by the name list filters use ("Running", "ContinuedAsNew", …).
    static func statusName(_ status: ExecutionStatus) -> String {
        ExecutionStatusName(status)?.name ?? "Unknown"
    }
}
