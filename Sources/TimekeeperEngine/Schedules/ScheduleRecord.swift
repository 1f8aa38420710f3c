internal import Foundation
internal import SwiftProtobuf
package import TemporalAPI

package typealias Schedule = Temporal_Api_Schedule_V1_Schedule
package typealias ScheduleSpec = Temporal_Api_Schedule_V1_ScheduleSpec
package typealias ScheduleActionResult = Temporal_Api_Schedule_V1_ScheduleActionResult
package typealias OverlapPolicy = Temporal_Api_Enums_V1_ScheduleOverlapPolicy

package struct ScheduleKey: Hashable, Sendable {
    package var namespace: String
    package var scheduleID: String

    package init(namespace: String, scheduleID: String) {
        self.namespace = namespace
        self.scheduleID = scheduleID
    }
}

/// One schedule (Temporal's Schedules API): what it starts and when, and what it has done. Kept as engine
/// state, not as a scheduler workflow the way Temporal's server keeps it, so no system run shows up in
/// list results; the answers and errors are Temporal's.
package struct ScheduleRecord: Sendable, Equatable {
    /// As Describe answers it: the spec in canonical form, policies with their defaults filled in.
    package var schedule: Schedule
    package var times: ScheduleTimes
    package var memo: Temporal_Api_Common_V1_Memo?
    package var searchAttributes: Temporal_Api_Common_V1_SearchAttributes?
    package var createRequestID: String
    package var createdAt: Instant
    package var updatedAt: Instant?
    /// Starts with 1 and grows with each update, pause and unpause (Temporal's rule).
    package var conflictToken: Int64 = 1
    package var actionCount: Int64 = 0
    package var missedCatchupWindow: Int64 = 0
    package var overlapSkipped: Int64 = 0
    package var bufferDropped: Int64 = 0
    /// The last ten actions, oldest first.
    package var recentActions: [ScheduleActionResult] = []
    /// Starts waiting for a running one to close (buffer-one, buffer-all, cancel-other, terminate-other).
    package var buffered: [BufferedStart] = []
    /// Matching times up to here have been handled.
    package var processedUntil: Instant
    /// The timetable entry of the next matching time, if it is armed.
    package var wakeup: EntryID?
    /// Runs started under the allow-all overlap policy, which Temporal does not track as running.
    package var untrackedRunIDs: Set<String> = []

    package struct BufferedStart: Sendable, Equatable {
        package var nominal: Instant
        package var overlap: OverlapPolicy
        package var manual: Bool

        package init(nominal: Instant, overlap: OverlapPolicy, manual: Bool) {
            self.nominal = nominal
            self.overlap = overlap
            self.manual = manual
        }
    }

    static let recentActionLimit = 10
    /// Temporal's default catch-up window (one year) and its floor (ten seconds).
    static let defaultCatchupWindow = Duration.seconds(365 * 24 * 3600)
    static let minimumCatchupWindow = Duration.seconds(10)

    var isPaused: Bool { schedule.state.paused }
    var overlapPolicy: OverlapPolicy { schedule.policies.overlapPolicy }
    var catchupWindow: Duration { Duration(protobuf: schedule.policies.catchupWindow) }
    /// Whether scheduled (not manual) actions may still run: not paused, and actions left if limited.
    var takesScheduledActions: Bool {
        !isPaused && (!schedule.state.limitedActions || schedule.state.remainingActions > 0)
    }

    /// The next `count` matching times after `time` (capped by the remaining actions when limited).
    func futureTimes(after time: Instant, count: Int) -> [Instant] {
        let limit = schedule.state.limitedActions ? min(count, Int(clamping: max(0, schedule.state.remainingActions))) : count
        guard limit > 0 else { return [] }
        return times.nextTimes(after: time.unixSeconds, count: limit).map { Instant(unixSeconds: $0) }
    }

    var conflictTokenData: Data { withUnsafeBytes(of: conflictToken.bigEndian) { Data($0) } }

    /// Whether `other` keeps what this one keeps: all but the timetable entry, which is derived.
    func keepsTheSameAs(_ other: ScheduleRecord) -> Bool {
        var mine = self, theirs = other
        mine.wakeup = nil
        theirs.wakeup = nil
        return mine == theirs
    }
}

extension ScheduleRecord {
    /// A schedule as a store kept it: its matching rules compiled again from the canonical spec (which
    /// compiles to the same rules), no timetable entry yet (recovery arms one).
    package init(
        restoring schedule: Schedule, memo: Temporal_Api_Common_V1_Memo?,
        searchAttributes: Temporal_Api_Common_V1_SearchAttributes?, createRequestID: String, createdAt: Instant,
        updatedAt: Instant?, conflictToken: Int64, actionCount: Int64, missedCatchupWindow: Int64,
        overlapSkipped: Int64, bufferDropped: Int64, recentActions: [ScheduleActionResult],
        buffered: [BufferedStart], processedUntil: Instant, untrackedRunIDs: Set<String>
    ) throws(EngineError) {
        let (times, _) = try Self.compile(schedule.spec)
        self.init(schedule: schedule, times: times, memo: memo, searchAttributes: searchAttributes,
                  createRequestID: createRequestID, createdAt: createdAt, updatedAt: updatedAt,
                  conflictToken: conflictToken, actionCount: actionCount, missedCatchupWindow: missedCatchupWindow,
                  overlapSkipped: overlapSkipped, bufferDropped: bufferDropped, recentActions: recentActions,
                  buffered: buffered, processedUntil: processedUntil, untrackedRunIDs: untrackedRunIDs)
    }
}

extension Instant {
    /// Whole seconds since the epoch, rounded down.
    var unixSeconds: Int64 {
        let (quotient, remainder) = nanosecondsSinceEpoch.quotientAndRemainder(dividingBy: 1_000_000_000)
        return remainder < 0 ? quotient - 1 : quotient
    }

    init(unixSeconds: Int64) {
        let (nanoseconds, overflow) = unixSeconds.multipliedReportingOverflow(by: 1_000_000_000)
        self.init(nanosecondsSinceEpoch: overflow ? (unixSeconds < 0 ? .min : .max) : nanoseconds)
    }
}

// MARK: The spec, from the client's form to the canonical one

extension ScheduleRecord {
    /// Reads a client's spec into matching rules and the canonical spec Describe answers: string calendars
    /// and cron strings become structured calendars (after the given ones), `@every` cron strings become
    /// intervals (after the given ones), and every range is cleaned (end at least start, step at least 1).
    static func compile(_ spec: ScheduleSpec) throws(EngineError) -> (ScheduleTimes, ScheduleSpec) {
        func invalid(_ message: String) -> EngineError { .invalidArgument("Invalid schedule spec: \(message)") }
        do throws(ScheduleTimesError) {
            var calendars = spec.structuredCalendar.map(CalendarRule.init(proto:))
            var intervals: [IntervalRule] = []
            for interval in spec.interval {
                intervals.append(IntervalRule(
                    every: Duration(protobuf: interval.interval).wholeSeconds, phase: Duration(protobuf: interval.phase).wholeSeconds))
            }
            for calendar in spec.calendar { calendars.append(try calendar.rule()) }
            var timeZone = spec.timezoneName
            for cron in spec.cronString {
                let parsed = try parseCronString(cron)
                calendars += parsed.calendars
                intervals += parsed.intervals
                if let zone = parsed.timeZoneName { timeZone = zone }
            }
            let excluded = spec.excludeStructuredCalendar.map(CalendarRule.init(proto:))
                + (try spec.excludeCalendar.map { calendar throws(ScheduleTimesError) in try calendar.rule() })
            // Validated as sent (Temporal refuses a range whose end is before its start), then cleaned.
            let raw = ScheduleTimes(
                calendars: calendars, intervals: intervals, excludedCalendars: excluded,
                startTime: spec.hasStartTime ? Instant(spec.startTime).unixSeconds : nil,
                endTime: spec.hasEndTime ? Instant(spec.endTime).unixSeconds : nil, timeZoneName: timeZone)
            try raw.validate()
            var times = raw
            times.calendars = raw.calendars.map(\.cleaned)
            times.excludedCalendars = raw.excludedCalendars.map(\.cleaned)
            var canonical = ScheduleSpec()
            canonical.structuredCalendar = times.calendars.map(\.proto)
            canonical.interval = times.intervals.map { rule in
                .with {
                    $0.interval = Duration.seconds(rule.every).protobuf
                    if rule.phase != 0 { $0.phase = Duration.seconds(rule.phase).protobuf }
                }
            }
            canonical.excludeStructuredCalendar = times.excludedCalendars.map(\.proto)
            if spec.hasStartTime { canonical.startTime = spec.startTime }
            if spec.hasEndTime { canonical.endTime = spec.endTime }
            if spec.hasJitter { canonical.jitter = spec.jitter }
            canonical.timezoneName = timeZone
            return (times, canonical)
        } catch {
            throw invalid(error.message)
        }
    }
}

extension Duration {
    var wholeSeconds: Int64 { components.seconds }
}

extension CalendarRule {
    init(proto: Temporal_Api_Schedule_V1_StructuredCalendarSpec) {
        func ranges(_ list: [Temporal_Api_Schedule_V1_Range]) -> [ScheduleRange] {
            list.map { ScheduleRange(start: $0.start, end: $0.end, step: $0.step) }
        }
        self.init(
            seconds: ranges(proto.second), minutes: ranges(proto.minute), hours: ranges(proto.hour),
            daysOfMonth: ranges(proto.dayOfMonth), months: ranges(proto.month), years: ranges(proto.year),
            daysOfWeek: ranges(proto.dayOfWeek), comment: proto.comment)
    }

    var proto: Temporal_Api_Schedule_V1_StructuredCalendarSpec {
        func ranges(_ list: [ScheduleRange]) -> [Temporal_Api_Schedule_V1_Range] {
            list.map { range in .with { $0.start = range.start; $0.end = range.end; $0.step = range.step } }
        }
        return .with {
            $0.second = ranges(seconds)
            $0.minute = ranges(minutes)
            $0.hour = ranges(hours)
            $0.dayOfMonth = ranges(daysOfMonth)
            $0.month = ranges(months)
            $0.year = ranges(years)
            $0.dayOfWeek = ranges(daysOfWeek)
            $0.comment = comment
        }
    }
}

extension Temporal_Api_Schedule_V1_CalendarSpec {
    /// Temporal's defaults for a string calendar's empty fields: midnight, every day of every month and year.
    func rule() throws(ScheduleTimesError) -> CalendarRule {
        func or(_ value: String, _ fallback: String) -> String { value.isEmpty ? fallback : value }
        return try parseCalendarFields(
            second: or(second, "0"), minute: or(minute, "0"), hour: or(hour, "0"), dayOfMonth: or(dayOfMonth, "*"),
            month: or(month, "*"), year: or(year, "*"), dayOfWeek: or(dayOfWeek, "*"), comment: comment)
    }
}
