/// What the parser makes of a query before any schema is consulted.
///
/// It keeps the shapes of the MySQL grammar Temporal parses with (arithmetic, function calls, LIKE,
/// tuples, ...) even though visibility supports few of them, because the server accepts them as
/// syntax and refuses them afterwards with messages that name the construct; `ListFilterValidator`
/// gives those same messages.
package struct ListFilterSyntax: Sendable, Equatable {
    package var whereClause: Expression?
    package var groupBy: [Expression] = []
    package var having: Expression?
    package var orderBy: [OrderTerm] = []
    package var hasLimit = false

    package struct OrderTerm: Sendable, Equatable {
        package var expression: Expression
        package var descending: Bool
    }

    /// A column as written: `a`, `` `a b` ``, or `t.a`; `start` is its 1-based column in the caller's query.
    package struct Column: Sendable, Equatable {
        package var name: String
        package var start: Int
    }

    /// A literal as written, with its text as the server keeps it (strings decoded, numbers verbatim).
    package struct Literal: Sendable, Equatable {
        package enum Kind: Sendable, Equatable { case string, integer, float, hexNumber, hexLiteral, bitLiteral, bindVariable }
        package var kind: Kind
        package var text: String
        package var start: Int
    }

    package indirect enum Expression: Sendable, Equatable {
        case and(Expression, Expression)
        case or(Expression, Expression)
        case not(Expression)
        /// `left op right`; `op` is the server's lower-case spelling (`=`, `!=`, `in`, `not in`,
        /// `starts_with`, `like`, `<=>`, ...). `escape` is LIKE's ESCAPE clause.
        case comparison(Expression, String, Expression, escape: Expression?)
        /// `left [not] between from and to`.
        case range(Expression, negated: Bool, from: Expression, to: Expression)
        /// `expr is null`, `is not null`, `is true`, ...: the suffix as the server spells it.
        case isTest(Expression, String)
        case column(Column)
        case literal(Literal)
        case null
        case bool(Bool)
        /// `(a, b, ...)`: the right side of IN, or a row value.
        case tuple([Expression])
        /// `(expr)` where a single expression sits in parentheses.
        case paren(Expression)
        case function(String, [Expression])
        case binary(Expression, String, Expression)
        case unary(String, Expression)
    }
}

extension ListFilterSyntax.Expression {
    /// The Go type the server names in "expression of type %T" messages for this node.
    var goTypeName: String {
        switch self {
        case .and: "*sqlparser.AndExpr"
        case .or: "*sqlparser.OrExpr"
        case .not: "*sqlparser.NotExpr"
        case .comparison: "*sqlparser.ComparisonExpr"
        case .range: "*sqlparser.RangeCond"
        case .isTest: "*sqlparser.IsExpr"
        case .column: "*sqlparser.ColName"
        case .literal: "*sqlparser.SQLVal"
        case .null: "*sqlparser.NullVal"
        case .bool: "sqlparser.BoolVal"
        case .tuple: "sqlparser.ValTuple"
        case .paren: "*sqlparser.ParenExpr"
        case .function: "*sqlparser.FuncExpr"
        case .binary: "*sqlparser.BinaryExpr"
        case .unary: "*sqlparser.UnaryExpr"
        }
    }

    /// The node printed as the server's `sqlparser.String` prints it, for messages that quote the query.
    var sqlText: String {
        switch self {
        case .and(let l, let r): "\(l.sqlText) and \(r.sqlText)"
        case .or(let l, let r): "\(l.sqlText) or \(r.sqlText)"
        case .not(let e): "not \(e.sqlText)"
        case .comparison(let l, let op, let r, let escape):
            "\(l.sqlText) \(op) \(r.sqlText)" + (escape.map { " escape \($0.sqlText)" } ?? "")
        case .range(let l, let negated, let from, let to):
            "\(l.sqlText) \(negated ? "not between" : "between") \(from.sqlText) and \(to.sqlText)"
        case .isTest(let e, let suffix): "\(e.sqlText) \(suffix)"
        case .column(let c): Self.quotedIdentifier(c.name)
        case .literal(let l):
            switch l.kind {
            case .string: Self.quotedString(l.text)
            case .hexLiteral: "X'\(l.text)'"
            case .bitLiteral: "B'\(l.text)'"
            default: l.text
            }
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .tuple(let items): "(" + items.map(\.sqlText).joined(separator: ", ") + ")"
        case .paren(let e): "(\(e.sqlText))"
        case .function(let name, let args): "\(name)(" + args.map(\.sqlText).joined(separator: ", ") + ")"
        case .binary(let l, let op, let r): "\(l.sqlText) \(op) \(r.sqlText)"
        case .unary(let op, let e):
            if case .unary = e { "\(op) \(e.sqlText)" } else { "\(op)\(e.sqlText)" }
        }
    }

    /// A string literal the way MySQL escapes it: `'it\'s'`.
    static func quotedString(_ text: String) -> String {
        var out = "'"
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\0": out += "\\0"
            case "'": out += "\\'"
            case "\"": out += "\\\""
            case "\u{08}": out += "\\b"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{1A}": out += "\\Z"
            case "\\": out += "\\\\"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "'"
    }

    /// A column name, backquoted when it is not a plain identifier or is any MySQL keyword, as the
    /// server's `formatID` prints it (this only shows inside messages that quote the query).
    static func quotedIdentifier(_ name: String) -> String {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.map { part in
            let plain = part.utf8.enumerated().allSatisfy { offset, byte in
                ListFilterLexer.isLetter(byte) || (offset > 0 && ListFilterLexer.isDigit(byte))
            }
            let lowered = part.lowercased()
            let reserved = ListFilterKeyword.named(lowered) != nil || MySQLKeywords.reserved.contains(lowered)
                || MySQLKeywords.nonReserved.contains(lowered)
            return plain && !part.isEmpty && !reserved ? String(part) : "`" + part.replacing("`", with: "``") + "`"
        }.joined(separator: ".")
    }
}
