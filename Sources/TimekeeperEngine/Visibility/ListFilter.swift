/// A checked visibility query: what to match, how to order, what to group by.
///
/// Made by `ListFilter.parse(_:schema:purpose:)`, which accepts exactly what Temporal's server
/// accepts and refuses the rest with the server's message. Names are resolved (`ScheduleId` is
/// `WorkflowId`) and constants are typed (`ExecutionStatus = 1` is `'Running'`, datetimes are
/// nanoseconds), so evaluation never re-reads the query text.
package struct ListFilter: Sendable, Equatable, CustomStringConvertible {
    /// Nil matches every record.
    package var predicate: Predicate?
    /// Empty means the server's default order (see `ListFilter+Ordering`).
    package var orderBy: [SortKey]
    /// The attribute a count groups by. List requests accept GROUP BY too and ignore it, as the server does.
    package var groupBy: [SearchAttribute]
    /// The server hides executions that carry a TemporalNamespaceDivision (scheduler workflows and
    /// other internal ones) unless the query names that attribute somewhere.
    package var mentionsNamespaceDivision: Bool

    package indirect enum Predicate: Sendable, Equatable {
        case and(Predicate, Predicate)
        case or(Predicate, Predicate)
        case not(Predicate)
        case test(SearchAttribute, Test)
    }

    /// One condition on one attribute. Constants are already converted to the attribute's type.
    package enum Test: Sendable, Equatable {
        case compare(ComparisonOperator, SearchAttributeValue)
        case oneOf([SearchAttributeValue], negated: Bool)
        case between(SearchAttributeValue, SearchAttributeValue, negated: Bool)
        case startsWith(String, negated: Bool)
        case isNull(negated: Bool)
    }

    package enum ComparisonOperator: String, Sendable {
        case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    }

    package struct SortKey: Sendable, Equatable {
        package var attribute: SearchAttribute
        package var descending: Bool
    }

    package init(predicate: Predicate?, orderBy: [SortKey] = [], groupBy: [SearchAttribute] = [], mentionsNamespaceDivision: Bool = false) {
        self.predicate = predicate
        self.orderBy = orderBy
        self.groupBy = groupBy
        self.mentionsNamespaceDivision = mentionsNamespaceDivision
    }

    /// Parses and checks a query. Whitespace around it is ignored, as on the server; an empty query
    /// matches everything in the default order.
    package static func parse(_ query: String, schema: ListFilterSchema) throws(ListFilterError) -> ListFilter {
        let syntax = try parseSyntax(query)
        var validator = ListFilterValidator(schema: schema)
        return try validator.check(syntax)
    }

    /// Only the grammar: the tree the server's SQL parser would build, before any schema is consulted.
    package static func parseSyntax(_ query: String) throws(ListFilterError) -> ListFilterSyntax {
        // The server trims Unicode white space (Go's strings.TrimSpace), then parses
        // "select * from table1 where <query>" unless the query starts with "order by" or "group by".
        let first = query.firstIndex { !$0.isWhitespace } ?? query.endIndex
        let last = query.lastIndex { !$0.isWhitespace }
        let body = last.map { query[first...$0] } ?? ""
        let leadingTrim = query.utf8.distance(from: query.startIndex, to: first)
        let lowered = body.lowercased()
        let hasWhere = !body.isEmpty && !lowered.hasPrefix("order by") && !lowered.hasPrefix("group by")
        return try ListFilterParser.parse(body, leadingTrim: leadingTrim, hasWhere: hasWhere)
    }

    /// A compact S-expression, for tests and logs: `(and (= WorkflowType 'x') (in ExecutionStatus ('Running')))`.
    package var description: String {
        var text = predicate?.description ?? "true"
        if !orderBy.isEmpty {
            text += " order by " + orderBy.map { "\($0.attribute.name) \($0.descending ? "desc" : "asc")" }.joined(separator: ", ")
        }
        if !groupBy.isEmpty { text += " group by " + groupBy.map(\.name).joined(separator: ", ") }
        return text
    }
}

extension ListFilter.Predicate: CustomStringConvertible {
    package var description: String {
        switch self {
        case .and(let l, let r): "(and \(l) \(r))"
        case .or(let l, let r): "(or \(l) \(r))"
        case .not(let p): "(not \(p))"
        case .test(let attribute, let test):
            switch test {
            case .compare(let op, let value): "(\(op.rawValue) \(attribute) \(value))"
            case .oneOf(let values, let negated):
                "(\(negated ? "not-in" : "in") \(attribute) (\(values.map(\.description).joined(separator: " "))))"
            case .between(let low, let high, let negated): "(\(negated ? "not-between" : "between") \(attribute) \(low) \(high))"
            case .startsWith(let prefix, let negated):
                "(\(negated ? "not-starts_with" : "starts_with") \(attribute) \(ListFilterSyntax.Expression.quotedString(prefix)))"
            case .isNull(let negated): "(\(negated ? "is-not-null" : "is-null") \(attribute))"
            }
        }
    }
}
