/// The type of a search attribute, spelled as Temporal's `IndexedValueType` shorthand (which is how
/// the server's messages name it).
package enum SearchAttributeType: String, Sendable, Hashable, CaseIterable {
    case keyword = "Keyword", text = "Text", int = "Int", double = "Double", bool = "Bool"
    case datetime = "Datetime", keywordList = "KeywordList"
}

/// A resolved search attribute: its canonical name (the key records use) and its type.
package struct SearchAttribute: Sendable, Hashable, CustomStringConvertible {
    package var name: String
    package var type: SearchAttributeType

    package init(_ name: String, _ type: SearchAttributeType) {
        self.name = name
        self.type = type
    }

    package var description: String { name }
}

/// Which attributes a namespace's queries may name, and what the visibility store supports.
package struct ListFilterSchema: Sendable {
    /// Custom search attributes registered for the namespace, by name.
    package var customAttributes: [String: SearchAttributeType]
    /// Elasticsearch visibility honours ORDER BY; SQL visibility (the dev server's SQLite) refuses it
    /// with "operation is not supported: 'ORDER BY' clause".
    package var allowsOrderBy: Bool

    package init(customAttributes: [String: SearchAttributeType] = [:], allowsOrderBy: Bool = true) {
        self.customAttributes = customAttributes
        self.allowsOrderBy = allowsOrderBy
    }

    /// Attributes the server always knows: its `system` map (stored as columns) and its `predefined`
    /// map (stored with the custom ones), from `common/searchattribute/sadefs/constants.go`. Queries
    /// may name every one of them, not only the predefined ones users may set.
    package static let systemAttributes: [String: SearchAttributeType] = [
        // system
        "WorkflowId": .keyword, "RunId": .keyword, "WorkflowType": .keyword,
        "StartTime": .datetime, "ExecutionTime": .datetime, "CloseTime": .datetime,
        "ExecutionStatus": .keyword, "TaskQueue": .keyword,
        "HistoryLength": .int, "ExecutionDuration": .int, "StateTransitionCount": .int, "HistorySizeBytes": .int,
        "ParentWorkflowId": .keyword, "ParentRunId": .keyword, "RootWorkflowId": .keyword, "RootRunId": .keyword,
        // predefined
        "TemporalChangeVersion": .keywordList, "BinaryChecksums": .keywordList, "BuildIds": .keywordList,
        "BatcherNamespace": .keyword, "BatcherUser": .keyword,
        "TemporalScheduledStartTime": .datetime, "TemporalScheduledById": .keyword, "TemporalSchedulePaused": .bool,
        "TemporalNamespaceDivision": .keyword, "TemporalPauseInfo": .keywordList, "TemporalReportedProblems": .keywordList,
        "TemporalWorkerDeploymentVersion": .keyword, "TemporalWorkflowVersioningBehavior": .keyword,
        "TemporalWorkerDeployment": .keyword, "TemporalUsedWorkerDeploymentVersions": .keywordList,
        "TemporalExternalPayloadCount": .int, "TemporalExternalPayloadSizeBytes": .int,
    ]

    /// Resolves a name as written in a query, the way the server's `ResolveSearchAttributeAlias` does:
    /// a custom attribute first (unless the name is a system one), then `ScheduleId` as `WorkflowId`,
    /// then the name itself, then with the `Temporal` prefix added, then with it removed
    /// (so `ChangeVersion` is `TemporalChangeVersion` and `TemporalWorkflowId` is `WorkflowId`).
    package func resolve(_ alias: String) -> SearchAttribute? {
        let system = Self.systemAttributes
        if system[alias] == nil {
            if let type = customAttributes[alias] { return SearchAttribute(alias, type) }
            if alias == "ScheduleId" { return SearchAttribute("WorkflowId", .keyword) }
        }
        let prefix = "Temporal"
        for candidate in [alias, prefix + alias, alias.hasPrefix(prefix) ? String(alias.dropFirst(prefix.count)) : alias] {
            if let type = system[candidate] { return SearchAttribute(candidate, type) }
        }
        return nil
    }

    /// GROUP BY is for counts only, on one low-cardinality attribute (the server's allowlist).
    static func allowsGroupBy(_ attribute: SearchAttribute) -> Bool {
        attribute.name == "ExecutionStatus" || attribute.name == "TemporalNamespaceDivision"
            || attribute.name.hasPrefix("TemporalLowCardinalityKeyword")
    }
}

/// The workflow execution statuses, by the names queries use; the raw value is the proto enum's
/// number, which orders them as the server's SQL store does (it stores and compares that number).
/// (Named apart from the engine's `ExecutionStatus`, the proto enum's typealias.)
package enum ExecutionStatusName: Int64, Sendable, CaseIterable {
    case unspecified = 0, running, completed, failed, canceled, terminated, continuedAsNew, timedOut

    /// The PascalCase name queries and records use: "Running", "ContinuedAsNew", ...
    package var name: String {
        switch self {
        case .unspecified: "Unspecified"
        case .running: "Running"
        case .completed: "Completed"
        case .failed: "Failed"
        case .canceled: "Canceled"
        case .terminated: "Terminated"
        case .continuedAsNew: "ContinuedAsNew"
        case .timedOut: "TimedOut"
        }
    }

    /// Accepts the PascalCase name or the proto's `WORKFLOW_EXECUTION_STATUS_RUNNING` form, case-sensitively,
    /// as the server's `WorkflowExecutionStatusFromString` does.
    package init?(named text: String) {
        guard let status = Self.allCases.first(where: { $0.name == text || $0.protoName == text }) else { return nil }
        self = status
    }

    private var protoName: String {
        var snake = ""
        for character in name {
            if character.isUppercase, !snake.isEmpty { snake += "_" }
            snake += character.uppercased()
        }
        return "WORKFLOW_EXECUTION_STATUS_" + snake
    }
}
