/// One lexical token of a list filter, with where it sits in the (trimmed) query.
///
/// Kinds follow the tokenizer Temporal uses (temporalio/sqlparser, a fork of vitess's MySQL
/// tokenizer), because the server's error messages name tokens the way that tokenizer spells them.
struct ListFilterToken: Sendable, Equatable {
    enum Kind: Sendable, Hashable {
        case identifier(String, quoted: Bool)
        case keyword(ListFilterKeyword)
        /// A reserved MySQL word our grammar has no use for (`key`, `table`, ...): never an attribute name.
        case reservedWord(String)
        case string(String)
        case integer(String)
        case float(String)
        /// `0x1F`: lexed like the server does, refused later as a value it cannot parse.
        case hexNumber(String)
        /// `X'0A'` (hex digits kept) and `B'101'` (bits kept): MySQL literals the server lexes, then reads
        /// the digits as a number if it can.
        case hexLiteral(String)
        case bitLiteral(String)
        /// `?` or `:name`: the server lexes bind variables, then fails to parse them as values.
        case bindVariable(String)
        case symbol(Symbol)
        /// Something the tokenizer cannot make a token of (an unterminated string, `1abc`, `$`).
        case invalid(String)
        case end
    }

    /// Punctuation and operators.
    enum Symbol: String, Sendable, Hashable {
        case equal = "=", less = "<", greater = ">", lessOrEqual = "<=", greaterOrEqual = ">="
        case notEqual = "!=", nullSafeEqual = "<=>"
        case openParen = "(", closeParen = ")", comma = ",", semicolon = ";", dot = "."
        case plus = "+", minus = "-", times = "*", divide = "/", modulo = "%", caret = "^"
        case tilde = "~", ampersand = "&", pipe = "|", bang = "!", shiftLeft = "<<", shiftRight = ">>"
        case jsonExtract = "->", jsonUnquoteExtract = "->>"
    }

    var kind: Kind
    /// Byte offsets in the trimmed query: first byte, and one past the last byte consumed.
    var start: Int
    var end: Int
    /// The text the server prints after "near": nil for operators, the end, and empty values.
    var serverText: String?
}

/// The reserved keywords the grammar gives meaning to. Other MySQL words are in `MySQLKeywords`.
enum ListFilterKeyword: String, Sendable, CaseIterable {
    case and, or, not, `in`, `is`, null, `true`, `false`, between, like, regexp, escape, startsWith = "starts_with"
    case order, group, by, asc, desc, limit, having
    case select, from, `where`, exists, `case`, when, then, `else`, end, div, mod, interval, binary
    case distinct, `as`, union, `for`, values, `default`, collate, match, update, lock

    /// The spelling MySQL also accepts for a keyword (`rlike` is REGEXP in the server's tokenizer).
    static func named(_ lowered: String) -> ListFilterKeyword? {
        lowered == "rlike" ? .regexp : ListFilterKeyword(rawValue: lowered)
    }
}

extension ListFilterToken.Kind {
    /// True when this token is the given keyword (keywords compare case-insensitively when lexed).
    func isKeyword(_ keyword: ListFilterKeyword) -> Bool {
        if case .keyword(keyword) = self { return true }
        return false
    }

    func isSymbol(_ symbol: ListFilterToken.Symbol) -> Bool {
        if case .symbol(symbol) = self { return true }
        return false
    }
}
