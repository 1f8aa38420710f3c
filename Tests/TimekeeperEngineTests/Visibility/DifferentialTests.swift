import Testing

@testable import TimekeeperEngine

/// One query asked of the real dev server, and what it answered.
struct DifferentialCase: CustomTestStringConvertible, Sendable {
    enum Outcome: Equatable, Sendable {
        /// The run ids listed, in the server's order.
        case rows([String])
        /// `temporal workflow count`: the total and, with GROUP BY, the count per group value.
        case count(Int, groups: [String: Int])
        /// The error text after "failed listing workflows: ".
        case error(String)
    }

    var query: String
    var outcome: Outcome

    init(_ query: String, _ outcome: Outcome) {
        self.query = query
        self.outcome = outcome
    }

    var testDescription: String { query }
}

/// Where we answer differently from `temporal server start-dev` on purpose, and why. A listed query
/// that starts agreeing fails too, so this list stays true.
let knownDifferences: [String: String] = [
    "CustomDatetime = '2024-06-01T00:00:00Z'":
        "SQLite compares custom datetimes as text ('...00.000+00:00' vs '...00+00:00'), so equality at a whole second never holds there; we compare instants",
    "WorkflowId = 'a' AND EXISTS (select 1)": "we do not parse subqueries: a syntax error at `select` instead of 'expression of type *sqlparser.ExistsExpr'",
    "WorkflowId IN (select 1)": "we do not parse subqueries: a syntax error at `select` instead of 'unexpected value type *sqlparser.Subquery'",
    "WorkflowId = CASE WHEN 1 THEN 2 END": "we do not parse CASE: a syntax error instead of 'unexpected value type *sqlparser.CaseExpr'",
    "WorkflowId = interval 1 day": "we do not parse INTERVAL: a syntax error instead of 'unexpected value type *sqlparser.IntervalExpr'",
    "EXISTS": "we do not parse EXISTS, so the syntax error names `exists` rather than the end of the input",
]

/// The schema the dev server was started with (`--search-attribute Custom…=Type`), without ORDER BY.
let devServerSchema = ListFilterSchema(
    customAttributes: [
        "CustomKeyword": .keyword, "CustomText": .text, "CustomInt": .int, "CustomDouble": .double,
        "CustomBool": .bool, "CustomDatetime": .datetime, "CustomKeywordList": .keywordList,
    ],
    allowsOrderBy: false)

/// What we answer for a query over the fixture's records, in the fixture's terms.
func ourOutcome(_ query: String, records: [VisibilityRecord]) -> DifferentialCase.Outcome {
    let isCount = query.hasPrefix("COUNT ")
    let text = isCount ? String(query.dropFirst("COUNT ".count)) : query
    let filter: ListFilter
    do {
        filter = try ListFilter.parse(text, schema: devServerSchema)
    } catch {
        return .error(error.statusMessage)
    }
    let matching = filter.sorted(records.filter(filter.matches))
    guard isCount else {
        return .rows(matching.map { record in
            if case .string(let runID) = record["RunId"] { return runID }
            return "?"
        })
    }
    var groups: [String: Int] = [:]
    if let attribute = filter.groupBy.first {
        for record in matching {
            let key: String
            if case .string(let value) = record[attribute.name] { key = value } else { key = "" }
            groups[key, default: 0] += 1
        }
    }
    return .count(matching.count, groups: groups)
}

@Suite("Differential: our answers against temporal server start-dev's")
struct DifferentialTests {
    @Test("same answer as the dev server", arguments: DifferentialFixture.cases)
    func sameAnswer(_ entry: DifferentialCase) {
        let ours = ourOutcome(entry.query, records: DifferentialFixture.records)
        if let reason = knownDifferences[entry.query] {
            withKnownIssue(Comment(rawValue: reason)) {
                #expect(ours == entry.outcome)
            }
        } else {
            #expect(ours == entry.outcome, "ours: \(Self.readable(ours))\nreal: \(Self.readable(entry.outcome))")
        }
    }

    /// Run ids are opaque; name the workflows instead.
    static func readable(_ outcome: DifferentialCase.Outcome) -> String {
        guard case .rows(let runs) = outcome else { return "\(outcome)" }
        let names = runs.map { run in
            let record = DifferentialFixture.records.first { $0["RunId"] == .string(run) }
            if case .string(let id)? = record?["WorkflowId"] { return id }
            return run
        }
        return names.joined(separator: ", ")
    }
}
