import Testing

@testable import TimekeeperEngine

@Suite("Ordering")
struct OrderingTests {
    private func record(_ id: String, run: String, start: String, close: String? = nil, extra: [String: SearchAttributeValue] = [:]) -> VisibilityRecord {
        var attributes: [String: SearchAttributeValue] = ["WorkflowId": .string(id), "RunId": .string(run), "StartTime": Sample.time(start)]
        if let close { attributes["CloseTime"] = Sample.time(close) }
        return VisibilityRecord(attributes.merging(extra) { $1 })
    }

    private func ids(_ records: [VisibilityRecord]) -> [String] {
        records.map { if case .string(let id) = $0["WorkflowId"] { id } else { "?" } }
    }

    @Test("the default order puts open executions first, then the latest closed, then the latest started")
    func defaultOrder() throws {
        let records = [
            record("closed-early", run: "r1", start: "2024-01-01T00:00:00Z", close: "2024-01-01T01:00:00Z"),
            record("open-old", run: "r2", start: "2024-01-01T00:00:00Z"),
            record("closed-late", run: "r3", start: "2024-01-01T00:00:00Z", close: "2024-01-02T00:00:00Z"),
            record("open-new", run: "r4", start: "2024-01-03T00:00:00Z"),
        ]
        let filter = try ListFilter.parse("", schema: Sample.schema)
        #expect(ids(filter.sorted(records)) == ["open-new", "open-old", "closed-late", "closed-early"])
    }

    @Test("ties in the default order go to the smaller RunId")
    func defaultTieBreak() throws {
        let records = [record("b", run: "r9", start: "2024-01-01T00:00:00Z"), record("a", run: "r1", start: "2024-01-01T00:00:00Z")]
        #expect(ids(try ListFilter.parse("", schema: Sample.schema).sorted(records)) == ["a", "b"])
    }

    @Test("ORDER BY puts records without the attribute last in either direction, then breaks ties by RunId descending")
    func missingLast() throws {
        let records = [
            record("none", run: "r1", start: "2024-01-01T00:00:00Z"),
            record("five", run: "r2", start: "2024-01-01T00:00:00Z", extra: ["CustomInt": .int(5)]),
            record("one", run: "r3", start: "2024-01-01T00:00:00Z", extra: ["CustomInt": .int(1)]),
            record("one-again", run: "r4", start: "2024-01-01T00:00:00Z", extra: ["CustomInt": .int(1)]),
        ]
        #expect(ids(try ListFilter.parse("ORDER BY CustomInt", schema: Sample.schema).sorted(records)) == ["one-again", "one", "five", "none"])
        #expect(ids(try ListFilter.parse("ORDER BY CustomInt DESC", schema: Sample.schema).sorted(records)) == ["five", "one-again", "one", "none"])
    }

    @Test("a KeywordList sorts by its smallest entry ascending and by its largest descending")
    func keywordListOrder() throws {
        let records = [
            record("a-z", run: "r1", start: "2024-01-01T00:00:00Z", extra: ["CustomKeywordList": .strings(["z", "a"])]),
            record("m", run: "r2", start: "2024-01-01T00:00:00Z", extra: ["CustomKeywordList": .strings(["m"])]),
        ]
        #expect(ids(try ListFilter.parse("ORDER BY CustomKeywordList", schema: Sample.schema).sorted(records)) == ["a-z", "m"])
        #expect(ids(try ListFilter.parse("ORDER BY CustomKeywordList DESC", schema: Sample.schema).sorted(records)) == ["a-z", "m"])
    }

    @Test("ExecutionStatus sorts by the enum's number, not by name")
    func statusOrder() throws {
        let records = ["Failed", "Running", "Completed"].enumerated().map { index, status in
            record(status, run: "r\(index)", start: "2024-01-01T00:00:00Z", extra: ["ExecutionStatus": .string(status)])
        }
        #expect(ids(try ListFilter.parse("ORDER BY ExecutionStatus", schema: Sample.schema).sorted(records)) == ["Running", "Completed", "Failed"])
    }
}
