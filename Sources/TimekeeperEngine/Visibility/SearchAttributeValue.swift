/// A search attribute's value, in a record or as a query constant.
package enum SearchAttributeValue: Sendable, Hashable, CustomStringConvertible {
    /// Keyword and Text values, and ExecutionStatus as its name ("Running").
    case string(String)
    /// KeywordList values.
    case strings([String])
    case int(Int64)
    case double(Double)
    case bool(Bool)
    /// Nanoseconds since the Unix epoch (UTC); Temporal's resolution on Elasticsearch.
    case datetime(Int64)

    package var description: String {
        switch self {
        case .string(let s): ListFilterSyntax.Expression.quotedString(s)
        case .strings(let list): "[" + list.map { ListFilterSyntax.Expression.quotedString($0) }.joined(separator: " ") + "]"
        case .int(let i): String(i)
        case .double(let d): String(d)
        case .bool(let b): String(b)
        case .datetime(let nanos): RFC3339.format(nanosecondsSinceEpoch: nanos)
        }
    }
}

/// One execution as visibility sees it: attribute values keyed by canonical name (`WorkflowId`,
/// `ExecutionStatus`, `StartTime`, custom names, ...). A missing key is SQL's NULL.
package struct VisibilityRecord: Sendable, Equatable {
    package var attributes: [String: SearchAttributeValue]

    package init(_ attributes: [String: SearchAttributeValue]) {
        self.attributes = attributes
    }

    package subscript(name: String) -> SearchAttributeValue? {
        get { attributes[name] }
        set { attributes[name] = newValue }
    }
}
