import Foundation

// Time matching for Temporal schedules (the V1 scheduler's `service/worker/scheduler/spec.go` and `calendar.go`)
// and for legacy workflow `cron_schedule` (robfig/cron v3, as `common/backoff/cron.go` uses it).
// All inputs are untrusted client data: every loop is bounded and all arithmetic is overflow-checked.

/// One field range, as Temporal's `schedule.v1.Range`: `start...end` stepping by `step`. As in the proto,
/// `end < start` means `end = start` and `step == 0` means 1, so `ScheduleRange(start: 5)` is just 5.
package struct ScheduleRange: Sendable, Equatable {
    package var start, end, step: Int32
    package init(start: Int32, end: Int32 = 0, step: Int32 = 0) { self.start = start; self.end = end; self.step = step }
}

/// A structured calendar (`StructuredCalendarSpec`): a time matches when every field matches. An empty list
/// matches nothing, except `years`, where empty means every year. `daysOfWeek` is 0-6 with Sunday = 0.
package struct CalendarRule: Sendable, Equatable {
    package var seconds, minutes, hours, daysOfMonth, months, years, daysOfWeek: [ScheduleRange]
    package var comment: String
    /// The defaults equal what `parseCalendarFields()` gives for all-default strings: every day at midnight.
    package init(
        seconds: [ScheduleRange] = [ScheduleRange(start: 0)], minutes: [ScheduleRange] = [ScheduleRange(start: 0)],
        hours: [ScheduleRange] = [ScheduleRange(start: 0)], daysOfMonth: [ScheduleRange] = [ScheduleRange(start: 1, end: 31)],
        months: [ScheduleRange] = [ScheduleRange(start: 1, end: 12)], years: [ScheduleRange] = [],
        daysOfWeek: [ScheduleRange] = [ScheduleRange(start: 0, end: 6)], comment: String = ""
    ) {
        (self.seconds, self.minutes, self.hours, self.daysOfMonth) = (seconds, minutes, hours, daysOfMonth)
        (self.months, self.years, self.daysOfWeek, self.comment) = (months, years, daysOfWeek, comment)
    }

    /// Temporal's `CleanSpec` (as DescribeSchedule shows it): `end < start` becomes `end = start`, `step 0` becomes 1.
    package var cleaned: CalendarRule {
        func clean(_ rs: [ScheduleRange]) -> [ScheduleRange] {
            rs.map { ScheduleRange(start: $0.start, end: max($0.end, $0.start), step: $0.step == 0 ? 1 : $0.step) }
        }
        return CalendarRule(seconds: clean(seconds), minutes: clean(minutes), hours: clean(hours), daysOfMonth: clean(daysOfMonth),
                            months: clean(months), years: clean(years), daysOfWeek: clean(daysOfWeek), comment: comment)
    }

    /// spec.go `validateStructuredCalendar`: second/minute 0-59, hour 0-23, day of month 1-31, month 1-12, year
    /// 2000-2100 (`minCalendarYear`...`maxCalendarYear`), day of week 0-6; a comment of at most 200 bytes.
    fileprivate var validationErrors: [String] {
        var errs: [String] = []
        func check(_ rs: [ScheduleRange], _ field: String, _ lo: Int32, _ hi: Int32) {
            for r in rs {
                if r.start < lo || r.start > hi { errs.append("\(field) Start is not in range [\(lo)-\(hi)]") }
                if r.end != 0 && (r.end < r.start || r.end > hi) { errs.append("\(field) End is before Start or not in range [\(lo)-\(hi)]") }
                if r.step < 0 { errs.append("\(field) has invalid Step") }
            }
        }
        check(seconds, "Second", 0, 59); check(minutes, "Minute", 0, 59); check(hours, "Hour", 0, 23)
        check(daysOfMonth, "DayOfMonth", 1, 31); check(months, "Month", 1, 12)
        check(years, "Year", 2000, 2100); check(daysOfWeek, "DayOfWeek", 0, 6)
        if comment.utf8.count > 200 { errs.append("comment is too long") }
        return errs
    }
}

/// An `IntervalSpec` in whole seconds: the times `phase + k * every`, counted from the unix epoch.
package struct IntervalRule: Sendable, Equatable {
    package var every, phase: Int64
    package init(every: Int64, phase: Int64 = 0) { self.every = every; self.phase = phase }
}

/// A validation or parse failure, worded like the Temporal server's message.
package struct ScheduleTimesError: Error, Sendable, Equatable {
    package var message: String
    package init(_ message: String) { self.message = message }
}

/// The time-matching part of a canonical `ScheduleSpec` (calendar and cron strings already parsed). Unix seconds.
package struct ScheduleTimes: Sendable, Equatable {
    package var calendars, excludedCalendars: [CalendarRule]
    package var intervals: [IntervalRule]
    package var startTime, endTime: Int64?
    /// The IANA zone the calendars are read in; "" (or "UTC") is UTC.
    package var timeZoneName: String

    package init(calendars: [CalendarRule] = [], intervals: [IntervalRule] = [], excludedCalendars: [CalendarRule] = [],
                 startTime: Int64? = nil, endTime: Int64? = nil, timeZoneName: String = "") {
        (self.calendars, self.intervals, self.excludedCalendars) = (calendars, intervals, excludedCalendars)
        (self.startTime, self.endTime, self.timeZoneName) = (startTime, endTime, timeZoneName)
    }

    /// As spec.go `canonicalizeSpec` + `NewCompiledSpec`, in their order: calendars ("invalid calendar spec: Hour Start
    /// is not in range [0-23], ..."), intervals ("interval is too small", "phase is negative", "phase cannot be greater
    /// than Interval"), the zone ("unknown time zone X"). Excluded calendars are not range-checked, as in the server.
    package func validate() throws(ScheduleTimesError) {
        for errs in calendars.map(\.validationErrors) where !errs.isEmpty {
            throw ScheduleTimesError("invalid calendar spec: " + errs.joined(separator: ", "))
        }
        for iv in intervals {
            if iv.every < 1 { throw ScheduleTimesError("interval is too small") }
            if iv.phase < 0 { throw ScheduleTimesError("phase is negative") }
            if iv.phase >= iv.every { throw ScheduleTimesError("phase cannot be greater than Interval") }
        }
        _ = try Zone(named: timeZoneName)
    }

    /// spec.go `GetNextTime` without jitter: the first time strictly after `max(after, startTime - 1)` (no start time = the
    /// epoch, as in the server) that a calendar or interval matches and no excluded calendar does. Nil past `endTime`,
    /// past 2100 (UTC), for an unknown zone, or after 100 000 excluded candidates in a row (the server's optional
    /// compute limit; whole excluded minutes, hours and days count as one).
    package func nextTime(after: Int64) -> Int64? { compile().flatMap { next(after: after, $0) } }

    /// Up to `count` successive matching times after `after` (future action times, `ListScheduleMatchingTimes`);
    /// the caller bounds `count` (the server uses 10, 5 and at most 1000).
    package func nextTimes(after: Int64, count: Int) -> [Int64] {
        guard count > 0, let c = compile() else { return [] }
        var out: [Int64] = [], cursor = after
        while out.count < count, let t = next(after: cursor, c) { out.append(t); cursor = t }
        return out
    }

    private func compile() -> (zone: Zone, calendars: [Matcher], excludes: [Matcher])? {
        guard let zone = try? Zone(named: timeZoneName) else { return nil }
        return (zone, calendars.map(Matcher.init(rule:)), excludedCalendars.map(Matcher.init(rule:)))
    }

    private func next(after: Int64, _ c: (zone: Zone, calendars: [Matcher], excludes: [Matcher])) -> Int64? {
        let start = startTime ?? 0
        var cursor = max(after, start == .min ? start : start - 1, firstSupportedSecond)
        for _ in 0..<100_000 {
            guard cursor < year2101 - 1 else { return nil }
            let fromCalendars = c.calendars.compactMap { $0.next(after: cursor, in: c.zone, lastYear: 2100) }
            let fromIntervals = intervals.compactMap { nextIntervalTime($0, after: cursor) }
            // spec.go `pastEndTime`: past EndTime or past `maxCalendarYear` (in UTC) there are no more times.
            guard let t = (fromCalendars + fromIntervals).min(), t < year2101, t <= endTime ?? .max else { return nil }
            guard let ex = c.excludes.first(where: { $0.matches(t, in: c.zone) }) else { return t }
            cursor = ex.endOfExcludedRun(from: t, in: c.zone)
        }
        return nil
    }
}

/// spec.go `nextIntervalTime`: `((after - phase) / every + 1) * every + phase`, an interval under 1 s counting as
/// 1 s and a negative phase as 0. The division is floored (Go's `/` truncates, which differs only within `phase`
/// seconds after the epoch). Nil on overflow.
private func nextIntervalTime(_ iv: IntervalRule, after: Int64) -> Int64? {
    let every = max(iv.every, 1), phase = max(iv.phase, 0)
    let (d, o1) = after.subtractingReportingOverflow(phase)
    let (q, o2) = floorDiv(d, every).addingReportingOverflow(1)
    let (p, o3) = q.multipliedReportingOverflow(by: every)
    let (t, o4) = p.addingReportingOverflow(phase)
    return o1 || o2 || o3 || o4 ? nil : t
}

private let firstSupportedSecond: Int64 = -62_135_596_800   // 0001-01-01T00:00:00Z: keeps civil arithmetic far from overflow
private let year2101: Int64 = 4_133_980_800                 // 2101-01-01T00:00:00Z
private let year10000: Int64 = 253_402_300_800              // 10000-01-01T00:00:00Z

// MARK: - Time zones and civil time

/// A zone read like Go's `time.Location`; `tz == nil` is UTC (the fast path).
private struct Zone {
    var tz: TimeZone?
    init(named name: String) throws(ScheduleTimesError) {
        let utc = name.isEmpty || name == "UTC", pathLike = name.contains("..") || name.hasPrefix("/")
        tz = utc || pathLike ? nil : name == "Local" ? TimeZone.current : TimeZone(identifier: name)
        if !utc && tz == nil { throw ScheduleTimesError("unknown time zone \(name)") }
    }

    func offset(_ t: Int64) -> Int64 { tz.map { Int64($0.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t)))) } ?? 0 }
    /// The local wall-clock fields of `t`.
    func fields(_ t: Int64) -> (y: Int64, mo: Int64, d: Int64, h: Int64, m: Int64, s: Int64) {
        let local = t + offset(t), days = floorDiv(local, 86_400), sod = local - days * 86_400
        let (y, mo, d) = civilFromDays(days)
        return (y, mo, d, sod / 3600, sod / 60 % 60, sod % 60)
    }

    /// Go's `time.Date` in this zone, with its lookups: the local time read as UTC gives a first offset, kept unless the
    /// result falls outside it. So a nonexistent 02:30 (US spring forward) is 01:30 standard time, and a repeated time
    /// gives the first copy west of Greenwich, the second east of it. Fields may overflow (hour 24 is the next day).
    func unix(_ y: Int64, _ mo: Int64, _ d: Int64, _ h: Int64, _ m: Int64, _ s: Int64) -> Int64 {
        let local = daysFromCivil(y, mo, d) * 86_400 + h * 3600 + m * 60 + s
        return tz == nil ? local : local - offset(local - offset(local))
    }

    /// The weekday as calendar.go reads it, `time.Date(y, mo, d, h, m, s, tz).Weekday()`: a nonexistent midnight
    /// (DST starting at 00:00) normalizes into the previous day.
    func weekday(_ y: Int64, _ mo: Int64, _ d: Int64, _ h: Int64, _ m: Int64, _ s: Int64) -> Int64 {
        guard tz != nil else { return civilWeekday(y, mo, d) }
        let f = fields(unix(y, mo, d, h, m, s))
        return civilWeekday(f.y, f.mo, f.d)
    }
}

private func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a / b - (a % b < 0 ? 1 : 0) }

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12; the day may run past the month's end).
private func daysFromCivil(_ year: Int64, _ m: Int64, _ d: Int64) -> Int64 {
    let y = m <= 2 ? year - 1 : year, era = floorDiv(y, 400), yoe = y - era * 400
    let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
    return era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

private func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
    let z = days + 719_468, era = floorDiv(z, 146_097), doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153, m = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, doy - (153 * mp + 2) / 5 + 1)
}

/// calendar.go `daysInMonth`; a month 13 (seen only while carrying) counts 30 days.
private func daysInMonth(_ m: Int64, _ y: Int64) -> Int64 {
    m == 2 ? (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) ? 29 : 28) : 30 + ((0b1010110101010 >> m) & 1)
}

/// 0 = Sunday (1970-01-01 was a Thursday).
private func civilWeekday(_ y: Int64, _ m: Int64, _ d: Int64) -> Int64 { let z = daysFromCivil(y, m, d) + 4; return z - floorDiv(z, 7) * 7 }

// MARK: - Compiled calendar

/// The values of `ranges` within `base ..< base + 64 * words` as a bit set; values outside are ignored.
private func bitset(_ ranges: [ScheduleRange], base: Int64, words: Int) -> [UInt64] {
    var out = [UInt64](repeating: 0, count: words)
    for r in ranges {
        let step = Int64(max(r.step, 1)), start = Int64(r.start), end = min(Int64(max(r.end, r.start)), base + Int64(words * 64) - 1)
        var v = start < base ? start + (base - start + step - 1) / step * step : start
        while v <= end { out[Int((v - base) / 64)] |= 1 << UInt64((v - base) % 64); v += step }
    }
    return out
}

private func has(_ mask: UInt64, _ v: Int64) -> Bool { v >= 0 && v < 64 && (mask >> UInt64(v)) & 1 == 1 }
private let sixty: UInt64 = (1 << 60) - 1, twentyFour: UInt64 = (1 << 24) - 1

/// calendar.go `compiledCalendar`: a bit mask per field; `years` covers 1900-2155 (nil: every year).
private struct Matcher {
    var second, minute, hour, dom, month, dow: UInt64
    var years: [UInt64]?
    /// robfig/cron `dayMatches`: day of month OR day of week when neither field is a `*`. Temporal's calendars need
    /// BOTH (calendar.go `next`: `for !cc.dayOfMonth(d) || !cc.dayOfWeek(...)`; `matches` ANDs every field).
    var orDays = false
    func year(_ y: Int64) -> Bool { years.map { y >= 1900 && y < 2156 && has($0[Int((y - 1900) / 64)], (y - 1900) % 64) } ?? true }
    func day(_ d: Int64, _ weekday: () -> Int64) -> Bool { has(dom, d) ? orDays || has(dow, weekday()) : orDays && has(dow, weekday()) }

    /// False when a field can never match, so `next` gives up at once instead of scanning to the last year.
    var canMatch: Bool {
        let days = dom & 0xFFFF_FFFE, weekdays = dow & 0x7F
        return second & sixty != 0 && minute & sixty != 0 && hour & twentyFour != 0 && month & 0x1FFE != 0
            && (orDays ? days | weekdays != 0 : days != 0 && weekdays != 0) && (years?.contains { $0 != 0 } ?? true)
    }

    func matches(_ t: Int64, in z: Zone) -> Bool {
        let f = z.fields(t)
        return year(f.y) && has(month, f.mo) && day(f.d) { civilWeekday(f.y, f.mo, f.d) } && has(hour, f.h) && has(minute, f.m) && has(second, f.s)
    }

    /// For a matched `t`: the last second of the local day, hour or minute around `t` that this calendar matches
    /// entirely (to skip an exclusion in one step), else `t`. Only spans without an offset change are taken.
    func endOfExcludedRun(from t: Int64, in z: Zone) -> Int64 {
        let f = z.fields(t), off = z.offset(t)
        guard second & sixty == sixty else { return t }
        var spans = [59 - f.s]
        if minute & sixty == sixty { spans.append(spans[0] + (59 - f.m) * 60) }
        if spans.count == 2 && hour & twentyFour == twentyFour { spans.append(spans[1] + (23 - f.h) * 3600) }
        return spans.reversed().first { z.offset(t + $0) == off }.map { t + $0 } ?? t
    }

    /// calendar.go `compiledCalendar.next`: the first match strictly after `after`, stepping field by field in local
    /// time with the server's DST rules: a nonexistent time (spring-forward gap) moves on to the next hour, and a
    /// repeated hour (fall back) is searched in both copies (`dstoffset`). Nil if none up to `lastYear` (local).
    func next(after: Int64, in z: Zone, lastYear: Int64) -> Int64? {
        guard canMatch else { return nil }
        var (y, mo, d, h, m, s) = z.fields(after)
        var dst: Int64 = z.fields(after - 3600).h == h ? 3600 : 0   // `after` is in the second copy of a repeated hour
        s += 1
        outer: for _ in 0..<1_000_000 {
            if s >= 60 { (m, s) = (m + 1, 0) }
            if m >= 60 {
                let prev = z.unix(y, mo, d, h, 0, 0); (h, m) = (h + 1, 0)
                // The next hour starts two hours later: we left the first copy of a repeated hour, so search the second.
                if dst == 0 && z.unix(y, mo, d, h, 0, 0) - prev > 3600 { (h, dst) = (h - 1, 3600) } else { dst = 0 }
            }
            if h >= 24 { (d, h) = (d + 1, 0) }
            if d > daysInMonth(mo, y) { (mo, d) = (mo + 1, 1) }
            if mo > 12 { (y, mo) = (y + 1, 1) }
            if y > lastYear { return nil }
            if !year(y) { (y, mo, d, h, m, s, dst) = (y + 1, 1, 1, 0, 0, 0, 0); continue }
            while !has(month, mo) { (mo, d, h, m, s, dst) = (mo + 1, 1, 0, 0, 0, 0); if mo > 12 { continue outer } }
            while !day(d, { z.weekday(y, mo, d, h, m, s) }) { (d, h, m, s, dst) = (d + 1, 0, 0, 0, 0); if d > daysInMonth(mo, y) { continue outer } }
            while !has(hour, h) { (h, m, s, dst) = (h + 1, 0, 0, 0); if h >= 24 { continue outer } }
            while !has(minute, m) { (m, s) = (m + 1, 0); if m >= 60 { continue outer } }
            while !has(second, s) { s += 1; if s >= 60 { continue outer } }
            let t = z.unix(y, mo, d, h, m, s)
            if z.fields(t).h != h { (h, m, s) = (h + 1, 0, 0); continue }   // skipped by a DST gap
            return t + dst
        }
        return nil
    }
}

extension Matcher {
    init(rule r: CalendarRule) {
        func mask(_ rs: [ScheduleRange]) -> UInt64 { bitset(rs, base: 0, words: 1)[0] }
        self.init(second: mask(r.seconds), minute: mask(r.minutes), hour: mask(r.hours), dom: mask(r.daysOfMonth),
                  month: mask(r.months), dow: mask(r.daysOfWeek), years: r.years.isEmpty ? nil : bitset(r.years, base: 1900, words: 4))
    }
}

// MARK: - Parsing (calendar.go `parseCalendarToStructured`, `makeRange`, `parseValue`, `parseCronString`)

private enum ParseMode { case int, year, month, dow }
private let monthNames = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                          "november", "december"]
private let dowNames = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]

/// Temporal's `CalendarSpec` strings to a `CalendarRule`: comma lists of `*`, `x`, `x-z`, `x-z/y`, `x/y` (x to the max)
/// or `*/y`; month names (3+ letters), day names (2+ letters), 7 = Sunday. Empty strings take the defaults (second,
/// minute, hour "0", the rest "*"; year "*" = []). Ranges come in the server's stored form (`end` 0 when equal to
/// `start`, `step` 0 for 1). Errors of several fields are joined with ", ", e.g. "Hour is not in range [0-23]".
package func parseCalendarFields(second: String = "", minute: String = "", hour: String = "", dayOfMonth: String = "",
                                 month: String = "", year: String = "", dayOfWeek: String = "",
                                 comment: String = "") throws(ScheduleTimesError) -> CalendarRule {
    var errs: [String] = []
    func field(_ s: String, _ name: String, _ def: String, _ lo: Int, _ hi: Int, _ mode: ParseMode) -> [ScheduleRange] {
        do throws(ScheduleTimesError) { return try makeRange(s, name, def, lo, hi, mode) } catch { errs.append(error.message); return [] }
    }
    // The server's order, so that joined errors read the same.
    let sec = field(second, "Second", "0", 0, 59, .int), min = field(minute, "Minute", "0", 0, 59, .int)
    let hr = field(hour, "Hour", "0", 0, 23, .int), dow = field(dayOfWeek, "DayOfWeek", "*", 0, 7, .dow)
    let dom = field(dayOfMonth, "DayOfMonth", "*", 1, 31, .int), mon = field(month, "Month", "*", 1, 12, .month)
    let yr = field(year, "Year", "*", 2000, 2100, .year)
    if !errs.isEmpty { throw ScheduleTimesError(errs.joined(separator: ", ")) }
    return CalendarRule(seconds: sec, minutes: min, hours: hr, daysOfMonth: dom, months: mon, years: yr, daysOfWeek: dow, comment: comment)
}

private func makeRange(_ raw: String, _ field: String, _ def: String, _ lo: Int, _ hi: Int,
                       _ mode: ParseMode) throws(ScheduleTimesError) -> [ScheduleRange] {
    let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines), s = trimmed.isEmpty ? def : trimmed
    if s == "*" && mode == .year { return [] }
    func fail(_ what: String) -> ScheduleTimesError { ScheduleTimesError("\(field) \(what)") }
    var out: [ScheduleRange] = []
    for var part in s.split(separator: ",", omittingEmptySubsequences: false) {
        var step = 1, hasStep = false
        let slashes = part.split(separator: "/", omittingEmptySubsequences: false)
        if slashes.count > 2 { throw fail("has too many slashes") }
        if slashes.count == 2 {
            if slashes[1].isEmpty { throw fail("missing step value") }
            guard let n = Int(slashes[1]) else { throw ScheduleTimesError("strconv.Atoi: parsing \"\(slashes[1])\": invalid syntax") }
            if n < 1 { throw fail("has invalid Step") }
            (step, hasStep, part) = (n, true, slashes[0])
        }
        var start = lo, end = hi
        if part != "*" {
            let dashes = part.split(separator: "-", omittingEmptySubsequences: false)
            if dashes.count > 2 { throw fail("has too many dashes") }
            if dashes.count == 2 {
                guard let a = parseValue(dashes[0], lo, hi, mode) else { throw fail("Start is not in range [\(lo)-\(hi)]") }
                guard let b = parseValue(dashes[1], a, hi, mode) else { throw fail("End is before Start or not in range [\(lo)-\(hi)]") }
                (start, end) = (a, b)
            } else {
                guard let a = parseValue(part, lo, hi, mode) else { throw fail("is not in range [\(lo)-\(hi)]") }
                (start, end) = (a, hasStep ? end : a)
            }
        }
        // Sunday as 7: a separate 0 is added when 7 is hit and can't fold into 0-6. Like the server, "1-7" gives 1-6.
        if mode == .dow && end == 7 {
            if (7 - start) % step == 0 && (step > 1 || start > 1) { out.append(ScheduleRange(start: 0)); if start == 7 { continue } }
            end = 6
        }
        out.append(ScheduleRange(start: Int32(start), end: start == end ? 0 : Int32(end), step: step == 1 ? 0 : Int32(truncatingIfNeeded: step)))
    }
    return out
}

/// A decimal integer (Go `strconv.Atoi`) or, by mode, a month or day-of-week name prefix, within `lo...hi`.
private func parseValue(_ s: Substring, _ lo: Int, _ hi: Int, _ mode: ParseMode) -> Int? {
    let (names, minLength, base) = mode == .month ? (monthNames, 3, 1) : mode == .dow ? (dowNames, 2, 0) : ([], 1, 0)
    if !names.isEmpty && s.utf8.count >= minLength, let i = names.firstIndex(where: { $0.hasPrefix(s.lowercased()) }) {
        return i + base >= lo && i + base <= hi ? i + base : nil
    }
    return Int(s).flatMap { $0 >= lo && $0 <= hi ? $0 : nil }
}

private let cronMacros = ["@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
                          "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"]

/// A cron string as Temporal schedules read it (calendar.go `parseCronString`): optional `TZ=Zone `/`CRON_TZ=Zone `
/// and `# comment`, then `@every <dur>[/<phase>]` (Go durations plus `d`, in whole seconds; the zone is dropped, as
/// in the server), `@yearly` `@annually` `@monthly` `@weekly` `@daily` `@midnight` `@hourly`, or 5 fields (min hour
/// dom month dow), 6 (+ year) or 7 (sec min hour dom month dow year). Only parsing is checked: then call `validate()`.
package func parseCronString(_ cron: String) throws(ScheduleTimesError)
    -> (calendars: [CalendarRule], intervals: [IntervalRule], timeZoneName: String?) {
    var c = Substring(cron.trimmingCharacters(in: .whitespacesAndNewlines)), zoneName = Substring("")
    if c.hasPrefix("TZ=") || c.hasPrefix("CRON_TZ=") {
        guard let space = c.firstIndex(of: " ") else { throw ScheduleTimesError("CronString has time zone but missing fields") }
        zoneName = c[..<space].drop(while: { $0 != "=" }).dropFirst()
        c = c[c.index(after: space)...]
    }
    let halves = c.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
    let body = (halves.first ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    let comment = halves.count > 1 ? halves[1].trimmingCharacters(in: .whitespacesAndNewlines) : ""
    if body.hasPrefix("@every") {
        guard let space = body.firstIndex(of: " ") else { throw ScheduleTimesError("CronString does not have interval after @every") }
        let parts = body[body.index(after: space)...].split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        func seconds(_ text: Substring) throws(ScheduleTimesError) -> Int64 {
            guard let ns = parseGoDuration(text, days: true) else { throw ScheduleTimesError("time: invalid duration \"\(text)\"") }
            return ns / 1_000_000_000
        }
        let every = try seconds(parts.first ?? ""), phase = parts.count > 1 && !parts[1].isEmpty ? try seconds(parts[1]) : 0
        return ([], [IntervalRule(every: every, phase: phase)], nil)
    }
    let f = (cronMacros[body] ?? body).split(whereSeparator: \.isWhitespace).map(String.init)
    guard (5...7).contains(f.count) else { throw ScheduleTimesError("CronString does not have 5-7 fields") }
    let x = f.count == 7 ? 1 : 0   // 7 fields start with seconds
    let cal = try parseCalendarFields(second: x == 1 ? f[0] : "", minute: f[x], hour: f[x + 1], dayOfMonth: f[x + 2], month: f[x + 3],
                                      year: f.count > 5 ? f[f.count - 1] : "", dayOfWeek: f[x + 4], comment: comment)
    return ([cal], [], zoneName.isEmpty ? nil : String(zoneName))
}

/// Go's `time.ParseDuration` in nanoseconds (units ns us µs ms s m h, decimals, several components, a sign), plus
/// `d` = 24 h when `days` (Temporal's `timestamp.ParseDuration`). Nil when malformed or out of the Int64 range.
private func parseGoDuration(_ text: Substring, days: Bool) -> Int64? {
    var chars = Array(text), negative = false, total: Double = 0, i = 0
    if let first = chars.first, first == "-" || first == "+" { negative = first == "-"; chars.removeFirst() }
    if chars == ["0"] { return 0 }
    guard !chars.isEmpty else { return nil }
    let units: [String: Double] = ["ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 6e10, "h": 3.6e12]
    func numeric(_ c: Character) -> Bool { c.isASCII && (c.isNumber || c == ".") }
    while i < chars.count {
        var digits = "", unit = ""
        while i < chars.count, numeric(chars[i]) { digits.append(chars[i]); i += 1 }
        while i < chars.count, !numeric(chars[i]) { unit.append(chars[i]); i += 1 }
        guard digits.contains(where: \.isNumber), digits.filter({ $0 == "." }).count <= 1,
              let value = Double(digits.hasPrefix(".") ? "0" + digits : digits),
              let scale = units[unit] ?? (days && unit == "d" ? 8.64e13 : nil) else { return nil }
        total += value * scale
    }
    guard total < 9.223372036854775e18 else { return nil }
    return negative ? -Int64(total) : Int64(total)
}

// MARK: - Legacy workflow cron (robfig/cron v3 `ParseStandard` and `Next`, temporal `common/backoff/cron.go`)

/// `cron_schedule` on StartWorkflowExecution: the next time strictly after `after` per robfig/cron's `ParseStandard`
/// + `Next`. It differs from `parseCronString` + `nextTime`: exactly 5 fields (no seconds, year or `#`); exact 3-letter
/// names; `?` = `*`; day of week 0-6; day of month and day of week are OR-ed unless one starts with `*`/`?`
/// (`0 0 1 * MON` = the 1st and Mondays; `*/2` counts as restricted); `@every <Go duration>` is `after + max(1 s,
/// whole seconds)`, not epoch-aligned; nil if nothing matches within 5 years. Zone: `TZ=`/`CRON_TZ=`, else UTC; DST
/// corners follow the schedule stepping. The server's backoff is `ceil(next(now) - now)` for the first run and, at each
/// close, the first `next` after the last scheduled time not before now. Parse failures: "invalid CronSchedule.".
package func legacyCronNextTime(_ cron: String, after: Int64) throws(ScheduleTimesError) -> Int64? {
    let invalid = ScheduleTimesError("invalid CronSchedule.")
    var spec = Substring(cron), zoneName = Substring("")
    if spec.hasPrefix("TZ=") || spec.hasPrefix("CRON_TZ=") {
        guard let space = spec.firstIndex(of: " ") else { throw invalid }
        zoneName = spec[..<space].drop(while: { $0 != "=" }).dropFirst()
        spec = Substring(spec[space...].trimmingCharacters(in: .whitespacesAndNewlines))
    }
    guard let zone = try? Zone(named: String(zoneName)) else { throw invalid }
    if spec.hasPrefix("@every ") {
        guard let ns = parseGoDuration(spec.dropFirst(7), days: false) else { throw invalid }
        let (t, overflow) = after.addingReportingOverflow(max(ns / 1_000_000_000, 1))
        return overflow ? nil : t
    }
    if spec.hasPrefix("@") { guard let macro = cronMacros[String(spec)] else { throw invalid }; spec = Substring(macro) }
    let f = spec.split(whereSeparator: \.isWhitespace)
    guard f.count == 5, let minute = robfigField(f[0], 0, 59, []), let hour = robfigField(f[1], 0, 23, []),
          let dom = robfigField(f[2], 1, 31, []), let month = robfigField(f[3], 1, 12, monthNames.map { String($0.prefix(3)) }),
          let dow = robfigField(f[4], 0, 6, dowNames.map { String($0.prefix(3)) }) else { throw invalid }
    guard after >= firstSupportedSecond, after < year10000 - 1 else { return nil }
    let m = Matcher(second: 1, minute: minute.bits, hour: hour.bits, dom: dom.bits, month: month.bits, dow: dow.bits,
                    years: nil, orDays: !(dom.star || dow.star))
    return m.next(after: after, in: zone, lastYear: zone.fields(after + 1).y + 5)
}

/// robfig `getField`/`getRange`: a comma list (empty items skipped) of `*`/`?`, `n` or `n-m`, each with an optional
/// `/step` (`n/step` runs to the maximum). `star` is robfig's star bit: a `*`/`?` without a step above 1.
private func robfigField(_ field: Substring, _ lo: Int64, _ hi: Int64, _ names: [String]) -> (bits: UInt64, star: Bool)? {
    var bits: UInt64 = 0, star = false
    func number(_ s: Substring, named: Bool = true) -> Int64? {
        if named, let i = names.firstIndex(of: s.lowercased()) { return Int64(i) + lo }
        return Int64(s).flatMap { $0 >= 0 ? $0 : nil }
    }
    for expr in field.split(separator: ",") {
        let slash = expr.split(separator: "/", omittingEmptySubsequences: false)
        let dash = slash[0].split(separator: "-", omittingEmptySubsequences: false)
        var (start, end, step, isStar) = (lo, hi, Int64(1), dash[0] == "*" || dash[0] == "?")
        if !isStar {
            guard dash.count <= 2, let a = number(dash[0]), let b = dash.count == 2 ? number(dash[1]) : a else { return nil }
            (start, end) = (a, b)
        }
        if slash.count > 2 { return nil }
        if slash.count == 2 {
            guard let n = number(slash[1], named: false) else { return nil }
            (step, end, isStar) = (n, dash.count == 1 ? hi : end, isStar && n <= 1)
        }
        guard start >= lo, end <= hi, start <= end, step > 0 else { return nil }
        for v in stride(from: start, through: end, by: Int(step)) { bits |= 1 << UInt64(v) }
        star = star || isStar
    }
    return (bits, star)
}
