import SwiftProtobuf
import Testing
@testable import TimekeeperEngine

@Suite struct TimetableTests {
    let t0 = Instant(nanosecondsSinceEpoch: 1_000_000_000)

    @Test func entriesComeOutSoonestFirstAndTiesInInsertionOrder() {
        var table = Timetable()
        table.add(at: t0 + .seconds(5), .workflowRunTimeout, owner: nil)
        let first = table.add(at: t0 + .seconds(1), .testClientSleep(SleepID(rawValue: 1), relocks: false), owner: nil)
        let tie = table.add(at: t0 + .seconds(1), .testClientSleep(SleepID(rawValue: 2), relocks: false), owner: nil)
        #expect(table.popDue(at: t0) == nil)
        #expect(table.popDue(at: t0 + .seconds(1))?.id == first)
        #expect(table.popDue(at: t0 + .seconds(1))?.id == tie)
        #expect(table.popDue(at: t0 + .seconds(4)) == nil)
        #expect(table.popDue(at: t0 + .seconds(5))?.kind == .workflowRunTimeout)
        #expect(table.isEmpty)
    }

    @Test func cancelledEntriesNeverComeOut() {
        var table = Timetable()
        let cancelled = table.add(at: t0, .workflowRunTimeout, owner: nil)
        let kept = table.add(at: t0 + .seconds(1), .workflowRunTimeout, owner: nil)
        #expect(table.cancel(cancelled) != nil)
        #expect(table.cancel(cancelled) == nil)
        #expect(table.next()?.id == kept)
        #expect(table.popDue(at: t0 + .seconds(10))?.id == kept)
        #expect(table.popDue(at: t0 + .seconds(10)) == nil)
    }

    @Test func pendingListsLiveEntriesInFiringOrder() {
        var table = Timetable()
        let late = table.add(at: t0 + .seconds(9), .workflowRunTimeout, owner: nil)
        let early = table.add(at: t0 + .seconds(2), .workflowRunTimeout, owner: nil)
        let gone = table.add(at: t0 + .seconds(3), .workflowRunTimeout, owner: nil)
        table.cancel(gone)
        #expect(table.pending.map(\.id) == [early, late])
    }
}
