internal import TemporalAPI

/// Visibility's projection of the runs: each run's record, by namespace, kept between queries and worked
/// out again only for the runs that changed since the last one. A transition only marks the runs it
/// touched (a set insert); the records are brought up to date when a query reads them, so that the
/// correctness path never pays for visibility.
///
/// Beside the records it keeps the custom search attribute types each namespace's runs have used: a test
/// server registers an attribute on first use (see `EngineCore+SearchAttributes.swift`).
package struct VisibilityIndex: Sendable {
    /// Each namespace's records, by run id.
    private(set) var records: [String: [String: VisibilityRecord]] = [:]
    /// The namespace each indexed run is in, so that a run gone from the engine can be dropped.
    private var namespaceOfRun: [String: String] = [:]
    /// Runs changed since their record was made.
    private(set) var stale: Set<String> = []
    /// Custom attribute types runs have carried, by namespace (a type seen later replaces an earlier one).
    private(set) var usedTypes: [String: [String: SearchAttributeType]] = [:]
    /// For equality on a keyword attribute: namespace → attribute → value → the runs whose record holds it.
    /// A query whose conjunction names such a value looks at those runs only (see `candidates`).
    private var postings: [String: [String: [String: Set<String>]]] = [:]

    /// Keyword attributes worth a posting list: a run id or root id names one run, so only these and the
    /// custom attributes (whatever their type: only keyword lookups read them) are indexed.
    static let indexedSystemAttributes: Set<String> = ["WorkflowId", "WorkflowType", "TaskQueue"]

    mutating func markStale(_ runID: String) { stale.insert(runID) }

    mutating func noteUsed(_ types: [String: SearchAttributeType], namespace: String) {
        guard !types.isEmpty else { return }
        usedTypes[namespace, default: [:]].merge(types) { _, later in later }
    }

    /// A removed attribute is registered again only when a run uses it again.
    mutating func forgetUsed(_ name: String, namespace: String) { usedTypes[namespace]?[name] = nil }

    /// Takes the runs to work out again, leaving none stale.
    mutating func takeStale() -> Set<String> {
        defer { stale.removeAll(keepingCapacity: true) }
        return stale
    }

    mutating func store(_ record: VisibilityRecord, runID: String, namespace: String) {
        if let old = records[namespace]?[runID] { post(old, runID: runID, namespace: namespace, adding: false) }
        records[namespace, default: [:]][runID] = record
        namespaceOfRun[runID] = namespace
        post(record, runID: runID, namespace: namespace, adding: true)
    }

    mutating func remove(runID: String) {
        guard let namespace = namespaceOfRun.removeValue(forKey: runID) else { return }
        if let old = records[namespace]?.removeValue(forKey: runID) { post(old, runID: runID, namespace: namespace, adding: false) }
    }

    private mutating func post(_ record: VisibilityRecord, runID: String, namespace: String, adding: Bool) {
        for (name, value) in record.attributes {
            guard case .string(let text) = value,
                Self.indexedSystemAttributes.contains(name) || ListFilterSchema.systemAttributes[name] == nil
            else { continue }
            if adding {
                postings[namespace, default: [:]][name, default: [:]][text, default: []].insert(runID)
            } else {
                postings[namespace]?[name]?[text]?.remove(runID)
                if postings[namespace]?[name]?[text]?.isEmpty == true { postings[namespace]?[name]?[text] = nil }
            }
        }
    }

    /// The runs that can match a predicate, when one of its top-level conjuncts is equality (or IN) on an
    /// indexed keyword attribute: the smallest such set; nil when none narrows it (every run is a candidate).
    /// Only a narrowing: the caller still tests each candidate against the whole predicate. Strings that
    /// are equal here but differ in bytes (canonical equivalents) are told apart by that test.
    func candidates(namespace: String, _ predicate: ListFilter.Predicate?) -> Set<String>? {
        guard let predicate, let lists = postings[namespace] else { return nil }
        var best: Set<String>?
        for conjunct in Self.conjuncts(predicate) {
            guard case .test(let attribute, let test) = conjunct, attribute.type == .keyword,
                Self.indexedSystemAttributes.contains(attribute.name) || ListFilterSchema.systemAttributes[attribute.name] == nil
            else { continue }
            let values: [SearchAttributeValue]
            switch test {
            case .compare(.equal, let value): values = [value]
            case .oneOf(let list, negated: false): values = list
            default: continue
            }
            var found = Set<String>()
            for case .string(let text) in values { found.formUnion(lists[attribute.name]?[text] ?? []) }
            if best.map({ found.count < $0.count }) ?? true { best = found }
        }
        return best
    }

    private static func conjuncts(_ predicate: ListFilter.Predicate) -> [ListFilter.Predicate] {
        if case .and(let left, let right) = predicate { return conjuncts(left) + conjuncts(right) }
        return [predicate]
    }
}

extension EngineCore {
    /// Brings the records of the runs changed since the last query up to date.
    mutating func refreshVisibility() {
        for runID in visibility.takeStale() {
            guard let run = runs[runID] else {
                visibility.remove(runID: runID)
                continue
            }
            let attributes = searchAttributes(of: runID)
            visibility.store(visibilityRecord(run, customValues: attributes.values), runID: runID, namespace: run.ref.namespace)
        }
    }

    /// Notes the custom attribute types a started or upsert event carries (each payload's `type`).
    mutating func noteSearchAttributeTypes(_ event: HistoryEvent, namespace: String) {
        let fields: [String: Temporal_Api_Common_V1_Payload]
        switch event.attributes {
        case .workflowExecutionStartedEventAttributes(let started)?: fields = started.searchAttributes.indexedFields
        case .upsertWorkflowSearchAttributesEventAttributes(let upsert)?: fields = upsert.searchAttributes.indexedFields
        default: return
        }
        guard !fields.isEmpty else { return }
        visibility.noteUsed(Self.declaredTypes(fields), namespace: namespace)
    }

    /// The type each payload names in its `type` metadata (payloads without one are left out).
    static func declaredTypes(_ fields: [String: Temporal_Api_Common_V1_Payload]) -> [String: SearchAttributeType] {
        var types: [String: SearchAttributeType] = [:]
        for (name, payload) in fields {
            guard let typeName = payload.metadata["type"].map({ String(decoding: $0, as: UTF8.self) }),
                let type = SearchAttributeType(rawValue: typeName)
            else { continue }
            types[name] = type
        }
        return types
    }
}
