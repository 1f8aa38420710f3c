/// Deciding whether a record matches, with the dev server's (SQLite's) semantics.
///
/// - Three-valued logic: a condition on a missing attribute is unknown, `NOT unknown` is unknown, and
///   only a true result matches. So `NOT (CustomKeyword = 'a')` does not match records without it.
/// - KeywordList and Text conditions are full-text membership tests on the server (`rowid IN (...)`),
///   which are never unknown: `BuildIds != 'x'` matches a record with no BuildIds at all.
/// - A missing CloseTime is NULL like any other attribute: running executions match no CloseTime
///   comparison. (The SQL store's legacy converter coalesced it to the year 9999; the unified one
///   the dev server uses does not.)
/// - STARTS_WITH ignores ASCII case (the server turns it into SQLite's LIKE, which does), and
///   KeywordList entries match whatever their case (SQLite's full-text tokenizer folds case).
///   Elasticsearch, and so Temporal Cloud, is case-sensitive in both.
/// - Executions carrying a TemporalNamespaceDivision (schedulers' internal workflows) match only
///   queries that name that attribute.
extension ListFilter {
    package func matches(_ record: VisibilityRecord) -> Bool {
        if !mentionsNamespaceDivision, record["TemporalNamespaceDivision"] != nil { return false }
        guard let predicate else { return true }
        return predicate.truth(for: record) == .true
    }
}

/// SQL's three truth values.
enum Truth: Equatable {
    case `true`, `false`, unknown

    init(_ flag: Bool) { self = flag ? .true : .false }

    static prefix func ! (value: Truth) -> Truth {
        switch value {
        case .true: .false
        case .false: .true
        case .unknown: .unknown
        }
    }

    static func && (l: Truth, r: Truth) -> Truth {
        if l == .false || r == .false { return .false }
        return l == .true && r == .true ? .true : .unknown
    }

    static func || (l: Truth, r: Truth) -> Truth {
        if l == .true || r == .true { return .true }
        return l == .false && r == .false ? .false : .unknown
    }
}

extension ListFilter.Predicate {
    func truth(for record: VisibilityRecord) -> Truth {
        switch self {
        case .and(let l, let r): return l.truth(for: record) && r.truth(for: record)
        case .or(let l, let r): return l.truth(for: record) || r.truth(for: record)
        case .not(let p): return !p.truth(for: record)
        case .test(let attribute, let test): return Self.truth(of: test, on: attribute, in: record)
        }
    }

    private static func truth(of test: ListFilter.Test, on attribute: SearchAttribute, in record: VisibilityRecord) -> Truth {
        let stored = record[attribute.name]
        if case .isNull(let negated) = test { return Truth((stored == nil) != negated) }
        switch attribute.type {
        case .keywordList: return keywordListTruth(test, stored)
        case .text: return textTruth(test, stored)
        default: break
        }
        guard let value = stored else { return .unknown }
        func order(_ constant: SearchAttributeValue) -> Int? { SearchAttributeValue.order(value, constant, attribute: attribute) }
        switch test {
        case .compare(let op, let constant):
            guard let order = order(constant) else { return .unknown }
            switch op {
            case .equal: return Truth(order == 0)
            case .notEqual: return Truth(order != 0)
            case .less: return Truth(order < 0)
            case .lessOrEqual: return Truth(order <= 0)
            case .greater: return Truth(order > 0)
            case .greaterOrEqual: return Truth(order >= 0)
            }
        case .oneOf(let constants, let negated):
            let found = constants.contains { order($0) == 0 }
            return Truth(found != negated)
        case .between(let low, let high, let negated):
            guard let fromLow = order(low), let fromHigh = order(high) else { return .unknown }
            return Truth((fromLow >= 0 && fromHigh <= 0) != negated)
        case .startsWith(let prefix, let negated):
            guard case .string(let text) = value else { return .unknown }
            return Truth(Self.asciiCaseInsensitivePrefix(prefix, of: text) != negated)
        case .isNull:
            return .unknown  // handled above
        }
    }

    /// KeywordList: `=` / IN test membership of whole entries; `!=` / NOT IN their absence.
    private static func keywordListTruth(_ test: ListFilter.Test, _ stored: SearchAttributeValue?) -> Truth {
        let entries: [String]
        switch stored {
        case .strings(let list): entries = list
        case .string(let single): entries = [single]  // the SQL store reads a lone keyword as a list of one
        default: entries = []
        }
        func contains(_ constant: SearchAttributeValue) -> Bool {
            if case .string(let wanted) = constant {
                let folded = wanted.lowercased()
                return entries.contains { $0.lowercased().utf8.elementsEqual(folded.utf8) }
            }
            return false
        }
        switch test {
        case .compare(.notEqual, let constant): return Truth(!contains(constant))
        case .compare(_, let constant): return Truth(contains(constant))
        case .oneOf(let constants, let negated): return Truth(constants.contains(where: contains) != negated)
        default: return .false
        }
    }

    /// SQLite's LIKE 'prefix%': byte-wise, except that ASCII letters match either case.
    private static func asciiCaseInsensitivePrefix(_ prefix: String, of text: String) -> Bool {
        func fold(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte }
        return text.utf8.starts(with: prefix.utf8) { fold($0) == fold($1) }
    }

    /// Text: words match as in the server's full-text index. The query is split on spaces; each piece is
    /// a phrase, and the condition holds when any phrase occurs in the stored text's words.
    private static func textTruth(_ test: ListFilter.Test, _ stored: SearchAttributeValue?) -> Truth {
        guard case .compare(let op, .string(let query)) = test else { return .false }
        var words: [String] = []
        if case .string(let text) = stored { words = TextTokenizer.words(text) }
        let found = query.split(separator: " ").contains { piece in
            let phrase = TextTokenizer.words(String(piece))
            guard !phrase.isEmpty, phrase.count <= words.count else { return false }
            return (0...(words.count - phrase.count)).contains { Array(words[$0..<$0 + phrase.count]) == phrase }
        }
        return Truth(op == .notEqual ? !found : found)
    }
}

/// Words as SQLite's `unicode61` tokenizer finds them: runs of letters and digits, lower-cased.
/// (It also folds diacritics, which we do not.)
enum TextTokenizer {
    static func words(_ text: String) -> [String] {
        text.split { !($0.isLetter || $0.isNumber) }.map { $0.lowercased() }
    }
}

extension SearchAttributeValue {
    /// Compares a stored value with a constant: negative, zero or positive, or nil when they cannot be
    /// compared (a record holding another type than its attribute's).
    static func order(_ stored: SearchAttributeValue, _ constant: SearchAttributeValue, attribute: SearchAttribute) -> Int? {
        switch (stored, constant) {
        case (.string(let a), .string(let b)):
            if attribute.name == "ExecutionStatus", let x = ExecutionStatusName(named: a), let y = ExecutionStatusName(named: b) {
                return three(x.rawValue, y.rawValue)
            }
            return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : (a.utf8.elementsEqual(b.utf8) ? 0 : 1)
        case (.int(let a), .int(let b)): return three(a, b)
        case (.datetime(let a), .datetime(let b)): return three(a, b)
        case (.bool(let a), .bool(let b)): return three(a ? 1 : 0, b ? 1 : 0)
        case (.int(let a), .double(let b)): return three(Double(a), b)
        case (.double(let a), .int(let b)): return three(a, Double(b))
        case (.double(let a), .double(let b)): return three(a, b)
        default: return nil
        }
    }

    private static func three<T: Comparable>(_ a: T, _ b: T) -> Int { a < b ? -1 : (a == b ? 0 : 1) }
}
