/// Ordering records for a list response.
///
/// With no ORDER BY the server's SQL store sorts by CloseTime descending with open executions first
/// (it coalesces a missing CloseTime to the year 9999), then StartTime descending, then RunId
/// ascending; the docs call this "CloseTime DESC NULL FIRST, StartTime DESC". With ORDER BY (an
/// Elasticsearch feature) each key sorts records missing the attribute last whatever the direction,
/// and RunId descending breaks ties, as the server's Elasticsearch store does.
extension ListFilter {
    /// True when `a` comes before `b` in this filter's order.
    package func areInIncreasingOrder(_ a: VisibilityRecord, _ b: VisibilityRecord) -> Bool {
        compare(a, b) < 0
    }

    /// The records in this filter's order (stable for records that compare equal).
    package func sorted(_ records: [VisibilityRecord]) -> [VisibilityRecord] {
        records.enumerated().sorted { x, y in
            let order = compare(x.element, y.element)
            return order != 0 ? order < 0 : x.offset < y.offset
        }.map(\.element)
    }

    /// Where the server's SQL store sorts an open execution's missing CloseTime.
    static let openCloseTime = SearchAttributeValue.datetime(RFC3339.parse("9999-12-31T23:59:59Z") ?? .max)

    /// Negative when `a` comes first, zero when the order does not separate them.
    package func compare(_ a: VisibilityRecord, _ b: VisibilityRecord) -> Int {
        if orderBy.isEmpty {
            let closeTime = SearchAttribute("CloseTime", .datetime)
            let closeA = a["CloseTime"] ?? Self.openCloseTime, closeB = b["CloseTime"] ?? Self.openCloseTime
            let keys: [(SearchAttributeValue?, SearchAttributeValue?, SearchAttribute, Bool)] = [
                (closeA, closeB, closeTime, true),
                (a["StartTime"], b["StartTime"], SearchAttribute("StartTime", .datetime), true),
                (a["RunId"], b["RunId"], SearchAttribute("RunId", .keyword), false),
            ]
            for (x, y, attribute, descending) in keys {
                let order = Self.compareSortValues(x, y, attribute, descending: descending)
                if order != 0 { return order }
            }
            return 0
        }
        for key in orderBy + [SortKey(attribute: SearchAttribute("RunId", .keyword), descending: true)] {
            let x = Self.sortValue(a[key.attribute.name], key), y = Self.sortValue(b[key.attribute.name], key)
            let order = Self.compareSortValues(x, y, key.attribute, descending: key.descending)
            if order != 0 { return order }
        }
        return 0
    }

    /// Missing values sort last in either direction; present ones in the key's direction.
    private static func compareSortValues(
        _ x: SearchAttributeValue?, _ y: SearchAttributeValue?, _ attribute: SearchAttribute, descending: Bool
    ) -> Int {
        switch (x, y) {
        case (nil, nil): return 0
        case (nil, _): return 1
        case (_, nil): return -1
        case (let x?, let y?):
            let order = SearchAttributeValue.order(x, y, attribute: attribute) ?? 0
            return descending ? -order : order
        }
    }

    /// A KeywordList sorts by its smallest entry ascending and its largest descending (Elasticsearch's
    /// default for multi-valued fields); an empty list counts as missing.
    private static func sortValue(_ value: SearchAttributeValue?, _ key: SortKey) -> SearchAttributeValue? {
        guard case .strings(let list) = value else { return value }
        let sorted = list.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return (key.descending ? sorted.last : sorted.first).map(SearchAttributeValue.string)
    }
}
