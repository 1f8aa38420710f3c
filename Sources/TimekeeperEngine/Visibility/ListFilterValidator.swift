/// Checks a parsed query against a schema and turns it into a typed `ListFilter`, refusing what
/// Temporal's server refuses, in the server's order and with its messages.
///
/// The server is Temporal's unified query converter (`common/persistence/visibility/store/query/
/// converter.go`) behind the SQL visibility store, which is what `temporal server start-dev` (CLI 1.9.1,
/// server 1.32) answers with; the messages here were checked against it (see RESULTS.md). For each
/// condition the order is: the column, then the value(s) against the column's type, then the operator
/// against the type, then the store's own checks (STARTS_WITH needs a string, Text needs a word).
struct ListFilterValidator {
    let schema: ListFilterSchema
    private var mentionsNamespaceDivision = false

    init(schema: ListFilterSchema) {
        self.schema = schema
    }

    mutating func check(_ syntax: ListFilterSyntax) throws(ListFilterError) -> ListFilter {
        if syntax.hasLimit { throw .notSupported("'LIMIT' clause") }
        // HAVING and row locks are parsed and then ignored by the server; so are they here.
        let predicate = try syntax.whereClause.map { (e) throws(ListFilterError) in try convert(e) }

        if syntax.groupBy.count > 1 { throw .notSupported("'GROUP BY' clause supports only a single field") }
        var groupBy: [SearchAttribute] = []
        for expression in syntax.groupBy {
            let (attribute, alias) = try column(expression)
            guard ListFilterSchema.allowsGroupBy(attribute) else {
                throw .notSupported("'GROUP BY' clause is not supported for search attribute \(alias)")
            }
            groupBy.append(attribute)
        }

        var orderBy: [ListFilter.SortKey] = []
        for term in syntax.orderBy {
            let (attribute, _) = try column(term.expression)
            if attribute.type == .text { throw .notSupported("unable to sort by search attribute type Text") }
            orderBy.append(.init(attribute: attribute, descending: term.descending))
        }
        // The SQL store refuses ORDER BY only once the whole query has been converted.
        if !orderBy.isEmpty, !schema.allowsOrderBy { throw .notSupported("'ORDER BY' clause") }
        return ListFilter(predicate: predicate, orderBy: orderBy, groupBy: groupBy, mentionsNamespaceDivision: mentionsNamespaceDivision)
    }

    // MARK: - Boolean structure

    private mutating func convert(_ expression: ListFilterSyntax.Expression) throws(ListFilterError) -> ListFilter.Predicate {
        switch expression {
        case .paren(let inner): return try convert(inner)
        case .not(let inner): return .not(try convert(inner))
        case .and(let l, let r): return .and(try convert(l), try convert(r))
        case .or(let l, let r): return .or(try convert(l), try convert(r))
        case .comparison(let l, let op, let r, _): return try comparison(l, op, r)
        case .range(let l, let negated, let from, let to): return try range(l, negated: negated, from: from, to: to)
        case .isTest(let inner, let suffix):
            let (attribute, _) = try column(inner)
            switch suffix {
            case "is null": return .test(attribute, .isNull(negated: false))
            case "is not null": return .test(attribute, .isNull(negated: true))
            default: throw .invalid("'IS' operator can only be used as 'IS NULL' or 'IS NOT NULL'")
            }
        case .function: throw .notSupported("function expression")
        case .column(let c): throw .invalid("incomplete expression", at: c.start)
        default: throw .notSupported("expression of type \(expression.goTypeName)")
        }
    }

    /// A name on the left of a condition, or in GROUP BY / ORDER BY, resolved against the schema.
    private mutating func column(_ expression: ListFilterSyntax.Expression) throws(ListFilterError) -> (SearchAttribute, alias: String) {
        guard case .column(let column) = expression else {
            throw .invalid("must be a column name but was \(expression.goTypeName)")
        }
        guard let attribute = schema.resolve(column.name) else {
            // This one has no "invalid expression:" in front on the server.
            throw ListFilterError(.invalidExpression, "invalid search attribute: \(column.name)", column: column.start, token: column.name)
        }
        if attribute.name == "TemporalNamespaceDivision" { mentionsNamespaceDivision = true }
        return (attribute, column.name)
    }

    // MARK: - Conditions

    /// The operators each type allows (the converter's `supported*Operators`).
    private static func allowsOperator(_ op: String, on type: SearchAttributeType) -> Bool {
        let ordering: Set<String> = ["=", "!=", "<", ">", "<=", ">=", "in", "not in"]
        switch type {
        case .keyword: return ordering.contains(op) || op == "starts_with" || op == "not starts_with"
        case .keywordList: return ["=", "!=", "in", "not in"].contains(op)
        case .text: return op == "=" || op == "!="
        case .int, .double, .bool, .datetime: return ordering.contains(op)
        }
    }

    private mutating func comparison(
        _ left: ListFilterSyntax.Expression, _ op: String, _ right: ListFilterSyntax.Expression
    ) throws(ListFilterError) -> ListFilter.Predicate {
        let (attribute, alias) = try column(left)
        let values = try convertOperand(right, attribute, alias: alias)
        guard Self.allowsOperator(op, on: attribute.type) else {
            let type = attribute.type.rawValue
            throw .notSupported("operator '\(op.uppercased())' not supported for \(type) type search attribute '\(alias)'")
        }
        let negated = op.hasPrefix("not ")
        switch op {
        case "in", "not in":
            return .test(attribute, .oneOf(values.items.map(\.value), negated: negated))
        case "starts_with", "not starts_with":
            let item = try single(values)
            // ExecutionStatus reaches the SQL store as a number, which LIKE cannot take.
            guard attribute.name != "ExecutionStatus", case .string(let prefix) = item.value else {
                throw .invalid("right-hand side of \"\(op)\" operator must be a literal string (got: \(item.storeText))")
            }
            return .test(attribute, .startsWith(prefix, negated: negated))
        default:
            let item = try single(values)
            if attribute.type == .text, case .string(let text) = item.value, !text.split(separator: " ").contains(where: { !$0.isEmpty }) {
                throw .invalid("no tokens found filtering on Text type search attribute \(alias)")
            }
            return .test(attribute, .compare(ListFilter.ComparisonOperator(rawValue: op) ?? .equal, item.value))
        }
    }

    private mutating func range(
        _ left: ListFilterSyntax.Expression, negated: Bool, from: ListFilterSyntax.Expression, to: ListFilterSyntax.Expression
    ) throws(ListFilterError) -> ListFilter.Predicate {
        let (attribute, alias) = try column(left)
        guard [.datetime, .double, .int, .keyword].contains(attribute.type) else {
            throw .invalid("cannot do range condition on search attribute '\(alias)' of type \(attribute.type.rawValue)")
        }
        let low = try single(convertOperand(from, attribute, alias: alias))
        let high = try single(convertOperand(to, attribute, alias: alias))
        return .test(attribute, .between(low.value, high.value, negated: negated))
    }

    /// A tuple where one value belongs: the server sends it on to SQLite, which never answers (the
    /// request times out), so we refuse it instead.
    private func single(_ operand: ConvertedOperand) throws(ListFilterError) -> ConvertedValue {
        guard !operand.isTuple, let item = operand.items.first else { throw .invalid("unexpected value type sqlparser.ValTuple") }
        return item
    }
}
