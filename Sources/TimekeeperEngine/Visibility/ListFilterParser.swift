/// A recursive-descent parser for the list-filter language, accepting what Temporal's SQL parser
/// accepts in a WHERE / GROUP BY / ORDER BY / LIMIT tail and failing at the same token.
///
/// Precedence, loosest first, as in the server's grammar: OR, AND, NOT, then IS (which applies to a
/// whole condition: `NOT a IS NULL` is `NOT (a IS NULL)`), then one comparison, BETWEEN, IN, LIKE or
/// STARTS_WITH between two value expressions, then arithmetic and unary operators.
struct ListFilterParser {
    /// What the server puts before the query; its length is part of the positions it reports.
    static let prefixWithWhere = "select * from table1 where "
    static let prefixWithoutWhere = "select * from table1 "

    private let tokens: [ListFilterToken]
    private var index = 0
    /// Bytes trimmed off the front of the caller's query, to turn token offsets into caller columns.
    private let leadingTrim: Int
    private let serverPrefixLength: Int
    /// Nesting depth, bounded so a hostile query cannot exhaust the stack (the server bounds it too).
    private var depth = 0
    private static let maximumDepth = 500

    /// Parses a caller's query. `trimmed` is the query without surrounding whitespace, starting
    /// `leadingTrim` bytes into it; `hasWhere` says whether the server would put "where " before it.
    static func parse(_ trimmed: Substring, leadingTrim: Int, hasWhere: Bool) throws(ListFilterError) -> ListFilterSyntax {
        var parser = ListFilterParser(trimmed, leadingTrim: leadingTrim, hasWhere: hasWhere)
        return try parser.parseStatement(hasWhere: hasWhere)
    }

    private init(_ trimmed: Substring, leadingTrim: Int, hasWhere: Bool) {
        tokens = ListFilterLexer.tokens(of: trimmed)
        self.leadingTrim = leadingTrim
        serverPrefixLength = (hasWhere ? Self.prefixWithWhere : Self.prefixWithoutWhere).utf8.count
    }

    // MARK: - Statement

    private mutating func parseStatement(hasWhere: Bool) throws(ListFilterError) -> ListFilterSyntax {
        var syntax = ListFilterSyntax()
        if hasWhere { syntax.whereClause = try parseExpression() }
        if accept(.group) {
            try expect(.by)
            syntax.groupBy = try parseList { (p: inout Self) throws(ListFilterError) in try p.parseExpression() }
        }
        if accept(.having) { syntax.having = try parseExpression() }
        if accept(.order) {
            try expect(.by)
            syntax.orderBy = try parseList { (p: inout Self) throws(ListFilterError) in
                let expression = try p.parseExpression()
                if p.accept(.desc) { return .init(expression: expression, descending: true) }
                _ = p.accept(.asc)
                return .init(expression: expression, descending: false)
            }
        }
        if accept(.limit) {
            syntax.hasLimit = true
            _ = try parseExpression()
            if acceptSymbol(.comma) || acceptWord("offset") { _ = try parseExpression() }
        }
        // Row locks mean nothing here; the server parses and ignores them.
        if accept(.for) {
            try expect(.update)
        } else if accept(.lock) {
            try expect(.in)
            guard acceptWord("share"), acceptWord("mode") else { throw syntaxError() }
        }
        _ = acceptSymbol(.semicolon)
        guard current.kind == .end else { throw syntaxError() }
        return syntax
    }

    // MARK: - Boolean expressions

    private mutating func parseExpression() throws(ListFilterError) -> ListFilterSyntax.Expression {
        depth += 1
        defer { depth -= 1 }
        guard depth < Self.maximumDepth else { throw syntaxError() }
        var left = try parseAnd()
        while accept(.or) { left = .or(left, try parseAnd()) }
        return left
    }

    private mutating func parseAnd() throws(ListFilterError) -> ListFilterSyntax.Expression {
        var left = try parseNot()
        while accept(.and) { left = .and(left, try parseNot()) }
        return left
    }

    private mutating func parseNot() throws(ListFilterError) -> ListFilterSyntax.Expression {
        if accept(.not) { return .not(try parseNot()) }
        var expression = try parseCondition()
        while accept(.is) {
            let negated = accept(.not)
            guard let suffix = [ListFilterKeyword.null, .true, .false].first(where: { accept($0) }) else { throw syntaxError() }
            expression = .isTest(expression, (negated ? "is not " : "is ") + suffix.rawValue)
        }
        return expression
    }

    private mutating func parseCondition() throws(ListFilterError) -> ListFilterSyntax.Expression {
        let left = try parseValue()
        if case .symbol(let symbol) = current.kind, let op = Self.comparisonSpelling[symbol] {
            advance()
            return .comparison(left, op, try parseValue(), escape: nil)
        }
        let negated = accept(.not)
        if accept(.in) { return .comparison(left, negated ? "not in" : "in", try parseTuple(), escape: nil) }
        if accept(.like) {
            let right = try parseValue()
            let escape = accept(.escape) ? try parseValue() : nil
            return .comparison(left, negated ? "not like" : "like", right, escape: escape)
        }
        if accept(.regexp) { return .comparison(left, negated ? "not regexp" : "regexp", try parseValue(), escape: nil) }
        if accept(.startsWith) { return .comparison(left, negated ? "not starts_with" : "starts_with", try parseValue(), escape: nil) }
        if accept(.between) {
            let from = try parseValue()
            try expect(.and)
            return .range(left, negated: negated, from: from, to: try parseValue())
        }
        if negated { throw syntaxError() }
        return left
    }

    private static let comparisonSpelling: [ListFilterToken.Symbol: String] = [
        .equal: "=", .less: "<", .greater: ">", .lessOrEqual: "<=", .greaterOrEqual: ">=",
        .notEqual: "!=", .nullSafeEqual: "<=>",
    ]

    /// The right side of IN: always a tuple, even of one element.
    private mutating func parseTuple() throws(ListFilterError) -> ListFilterSyntax.Expression {
        guard acceptSymbol(.openParen) else { throw syntaxError() }
        let items = try parseList { (p: inout Self) throws(ListFilterError) in try p.parseExpression() }
        guard acceptSymbol(.closeParen) else { throw syntaxError() }
        return .tuple(items)
    }

    // MARK: - Value expressions

    /// Binary operators from loosest to tightest, as the server's grammar ranks them.
    private static let binaryLevels: [[ListFilterToken.Kind: String]] = [
        [.symbol(.pipe): "|"],
        [.symbol(.ampersand): "&"],
        [.symbol(.shiftLeft): "<<", .symbol(.shiftRight): ">>"],
        [.symbol(.plus): "+", .symbol(.minus): "-"],
        [.symbol(.times): "*", .symbol(.divide): "/", .keyword(.div): "div", .symbol(.modulo): "%", .keyword(.mod): "%"],
        [.symbol(.caret): "^"],
    ]

    private mutating func parseValue(level: Int = 0) throws(ListFilterError) -> ListFilterSyntax.Expression {
        guard level < Self.binaryLevels.count else { return try parseUnary() }
        var left = try parseValue(level: level + 1)
        while let op = Self.binaryLevels[level][current.kind] {
            advance()
            left = .binary(left, op, try parseValue(level: level + 1))
        }
        return left
    }

    private mutating func parseUnary() throws(ListFilterError) -> ListFilterSyntax.Expression {
        depth += 1
        defer { depth -= 1 }
        guard depth < Self.maximumDepth else { throw syntaxError() }
        let unary: [ListFilterToken.Kind: String] = [
            .symbol(.minus): "-", .symbol(.plus): "+", .symbol(.tilde): "~", .symbol(.bang): "!", .keyword(.binary): "binary ",
        ]
        guard let op = unary[current.kind] else { return try parsePrimary() }
        advance()
        let operand = try parseUnary()
        // The server folds a sign into an integer literal (so `-5` is a value, but `-1.5` is not).
        if case .literal(var literal) = operand, literal.kind == .integer, op == "-" || op == "+" {
            if op == "-" { literal.text = literal.text.hasPrefix("-") ? String(literal.text.dropFirst()) : "-" + literal.text }
            return .literal(literal)
        }
        return .unary(op, operand)
    }

    private mutating func parsePrimary() throws(ListFilterError) -> ListFilterSyntax.Expression {
        let token = current
        let start = leadingTrim + token.start + 1
        var expression: ListFilterSyntax.Expression
        switch token.kind {
        case .string(let text): expression = .literal(.init(kind: .string, text: text, start: start))
        case .integer(let text): expression = .literal(.init(kind: .integer, text: text, start: start))
        case .float(let text): expression = .literal(.init(kind: .float, text: text, start: start))
        case .hexNumber(let text): expression = .literal(.init(kind: .hexNumber, text: text, start: start))
        case .hexLiteral(let text): expression = .literal(.init(kind: .hexLiteral, text: text, start: start))
        case .bitLiteral(let text): expression = .literal(.init(kind: .bitLiteral, text: text, start: start))
        case .bindVariable(let text): expression = .literal(.init(kind: .bindVariable, text: text, start: start))
        case .keyword(.null): expression = .null
        case .keyword(.true): expression = .bool(true)
        case .keyword(.false): expression = .bool(false)
        case .symbol(.openParen):
            advance()
            let items = try parseList { (p: inout Self) throws(ListFilterError) in try p.parseExpression() }
            guard acceptSymbol(.closeParen) else { throw syntaxError() }
            return items.count == 1 ? .paren(items[0]) : .tuple(items)
        case .identifier(let name, _):
            advance()
            return try parseAfterIdentifier(name, start: start)
        default:
            throw syntaxError()
        }
        advance()
        return expression
    }

    /// A name is a column, a qualified column (`t.a`), or a function call (`f(...)`).
    private mutating func parseAfterIdentifier(_ name: String, start: Int) throws(ListFilterError) -> ListFilterSyntax.Expression {
        if acceptSymbol(.openParen) {
            var arguments: [ListFilterSyntax.Expression] = []
            if acceptSymbol(.times) {
                arguments = [.column(.init(name: "*", start: start))]
            } else if !current.kind.isSymbol(.closeParen) {
                arguments = try parseList { (p: inout Self) throws(ListFilterError) in try p.parseExpression() }
            }
            guard acceptSymbol(.closeParen) else { throw syntaxError() }
            return .function(name, arguments)
        }
        var fullName = name
        while acceptSymbol(.dot) {
            guard case .identifier(let part, _) = current.kind else { throw syntaxError() }
            advance()
            fullName += "." + part
        }
        var column = ListFilterSyntax.Expression.column(.init(name: fullName, start: start))
        if case .symbol(let symbol) = current.kind, symbol == .jsonExtract || symbol == .jsonUnquoteExtract {
            advance()
            column = .binary(column, symbol.rawValue, try parsePrimary())
        }
        return column
    }

    // MARK: - Tokens

    private var current: ListFilterToken { tokens[index] }

    private mutating func advance() {
        if index < tokens.count - 1 { index += 1 }
    }

    private mutating func accept(_ keyword: ListFilterKeyword) -> Bool {
        guard current.kind.isKeyword(keyword) else { return false }
        advance()
        return true
    }

    private mutating func acceptSymbol(_ symbol: ListFilterToken.Symbol) -> Bool {
        guard current.kind.isSymbol(symbol) else { return false }
        advance()
        return true
    }

    /// A non-reserved word used as a keyword (OFFSET, SHARE, MODE), lexed as a lower-cased identifier.
    private mutating func acceptWord(_ word: String) -> Bool {
        guard current.kind == .identifier(word, quoted: false) else { return false }
        advance()
        return true
    }

    private mutating func expect(_ keyword: ListFilterKeyword) throws(ListFilterError) {
        guard accept(keyword) else { throw syntaxError() }
    }

    private mutating func parseList<T>(_ item: (inout Self) throws(ListFilterError) -> T) throws(ListFilterError) -> [T] {
        var items = [try item(&self)]
        while acceptSymbol(.comma) { items.append(try item(&self)) }
        return items
    }

    /// The server's yacc error: it names the lookahead token and the tokenizer's position just past it.
    private func syntaxError() -> ListFilterError {
        let token = current
        let position = serverPrefixLength + token.end + 1
        var message = "malformed SQL query: syntax error at position \(position)"
        if let text = token.serverText { message += " near '\(text)'" }
        return ListFilterError(.malformedQuery, message, column: leadingTrim + token.start + 1, token: token.serverText)
    }
}
