import Testing

@testable import TimekeeperEngine

@Suite("Lexer and parser")
struct LexerAndParserTests {
    @Test("keywords are case-insensitive and named lower-case; identifiers keep their case")
    func keywordCase() {
        let tokens = ListFilterLexer.tokens(of: "WorkflowId aNd `Or` 'x' 1.5 <> <=> &&")
        #expect(tokens.map(\.kind) == [
            .identifier("WorkflowId", quoted: false), .keyword(.and), .identifier("Or", quoted: true), .string("x"),
            .float("1.5"), .symbol(.notEqual), .symbol(.nullSafeEqual), .keyword(.and), .end,
        ])
        #expect(tokens.map(\.serverText) == ["WorkflowId", "and", "Or", "x", "1.5", nil, nil, nil, nil])
    }

    @Test("strings decode MySQL escapes and doubled quotes")
    func stringEscapes() {
        #expect(ListFilterLexer.tokens(of: #"'it''s' "a\"b" 'tab\there' 'back\\slash' '\%'"#).map(\.kind) == [
            .string("it's"), .string("a\"b"), .string("tab\there"), .string("back\\slash"), .string("%"), .end,
        ])
    }

    @Test("comments are skipped like blanks")
    func comments() {
        #expect(ListFilterLexer.tokens(of: "a /* x */ = -- y\n 1 # z").map(\.kind) == [
            .identifier("a", quoted: false), .symbol(.equal), .integer("1"), .end,
        ])
    }

    @Test("IS applies to a whole condition and NOT to what follows it, as in the server's grammar")
    func precedence() throws {
        let syntax = try ListFilter.parseSyntax("NOT a IS NULL AND b = 1 OR c IN (1, 2)")
        let a = ListFilterSyntax.Expression.column(.init(name: "a", start: 5))
        let b = ListFilterSyntax.Expression.column(.init(name: "b", start: 19))
        let c = ListFilterSyntax.Expression.column(.init(name: "c", start: 28))
        func int(_ text: String, _ start: Int) -> ListFilterSyntax.Expression { .literal(.init(kind: .integer, text: text, start: start)) }
        #expect(syntax.whereClause == .or(
            .and(.not(.isTest(a, "is null")), .comparison(b, "=", int("1", 23), escape: nil)),
            .comparison(c, "in", .tuple([int("1", 34), int("2", 37)]), escape: nil)))
    }

    @Test("a sign folds into an integer literal, so -5 is a value")
    func negativeInteger() throws {
        let syntax = try ListFilter.parseSyntax("a > -5")
        guard case .comparison(_, _, .literal(let literal), _)? = syntax.whereClause else {
            Issue.record("expected a comparison with a literal")
            return
        }
        #expect(literal.text == "-5")
    }

    @Test("a query starting with ORDER BY or GROUP BY has no WHERE part")
    func clausesOnly() throws {
        let syntax = try ListFilter.parseSyntax("  order by StartTime desc, RunId")
        #expect(syntax.whereClause == nil)
        #expect(syntax.orderBy.map(\.descending) == [true, false])
    }

    @Test("deep nesting is refused rather than overflowing the stack")
    func deepNesting() {
        let query = String(repeating: "(", count: 10_000) + "a = 1" + String(repeating: ")", count: 10_000)
        #expect(throws: ListFilterError.self) { try ListFilter.parseSyntax(query) }
    }
}
