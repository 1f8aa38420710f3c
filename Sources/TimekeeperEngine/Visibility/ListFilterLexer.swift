/// Splits a list filter into tokens the way Temporal's SQL tokenizer does.
///
/// It works on UTF-8 bytes, as the server's tokenizer does, so offsets are byte offsets and the
/// positions in error messages agree with the server's. Comments (`-- …`, `# …`, `// …`, `/* … */`)
/// are skipped like blanks, because the server skips them too.
struct ListFilterLexer {
    private let bytes: [UInt8]
    private var index = 0
    /// Numbers the `?` placeholders as the server does (`:v1`, `:v2`, …).
    private var placeholderCount = 0

    init(_ text: Substring) {
        bytes = Array(text.utf8)
    }

    /// Every token up to and including `.end`.
    static func tokens(of text: Substring) -> [ListFilterToken] {
        var lexer = ListFilterLexer(text)
        var tokens: [ListFilterToken] = []
        while true {
            let token = lexer.next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    mutating func next() -> ListFilterToken {
        let unterminatedComment = skipBlanksAndComments()
        var start = index
        func token(_ kind: ListFilterToken.Kind, _ text: String?) -> ListFilterToken {
            ListFilterToken(kind: kind, start: start, end: index, serverText: text?.isEmpty == false ? text : nil)
        }
        if let (commentStart, text) = unterminatedComment {
            start = commentStart
            return token(.invalid(text), text)
        }
        guard let byte = peek() else { return token(.end, nil) }
        if let prefix = Self.literalPrefix(byte), peek(1) == UInt8(ascii: "'") {
            index += 2
            let digitsStart = index
            while let digit = peek(), prefix == "X" ? Self.isHexDigit(digit) : (digit == 0x30 || digit == 0x31) { index += 1 }
            let digits = String(decoding: bytes[digitsStart..<index], as: UTF8.self)
            guard peek() == UInt8(ascii: "'") else { return token(.invalid(digits), digits) }
            index += 1
            // The server wants an even number of hex digits (and says so only after the closing quote).
            if prefix == "X", digits.utf8.count % 2 != 0 { return token(.invalid(digits), digits) }
            return token(prefix == "X" ? .hexLiteral(digits) : .bitLiteral(digits), digits)
        }
        if Self.isLetter(byte) {
            let word = scanWord()
            let lowered = word.lowercased()
            if let keyword = ListFilterKeyword.named(lowered) { return token(.keyword(keyword), lowered) }
            if MySQLKeywords.reserved.contains(lowered) { return token(.reservedWord(lowered), lowered) }
            if MySQLKeywords.nonReserved.contains(lowered) { return token(.identifier(lowered, quoted: false), lowered) }
            return token(.identifier(word, quoted: false), word)
        }
        if Self.isDigit(byte) || (byte == UInt8(ascii: ".") && peek(1).map(Self.isDigit) == true) {
            let (kind, text) = scanNumber()
            return token(kind, text)
        }
        index += 1
        switch byte {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            let (value, closed) = scanString(delimiter: byte)
            return closed ? token(.string(value), value) : token(.invalid(value), value)
        case UInt8(ascii: "`"):
            let (name, closed) = scanQuotedIdentifier()
            return closed && !name.isEmpty ? token(.identifier(name, quoted: true), name) : token(.invalid(name), name)
        case UInt8(ascii: "?"):
            placeholderCount += 1
            return token(.bindVariable(":v\(placeholderCount)"), ":v\(placeholderCount)")
        case UInt8(ascii: ":"):
            let name = ":" + scanWord()
            return name.count > 1 ? token(.bindVariable(name), name) : token(.invalid(":"), ":")
        case UInt8(ascii: "&") where peek() == UInt8(ascii: "&"):
            index += 1
            return token(.keyword(.and), nil)
        case UInt8(ascii: "|") where peek() == UInt8(ascii: "|"):
            index += 1
            return token(.keyword(.or), nil)
        default:
            if let symbol = scanSymbol(after: byte) { return token(.symbol(symbol), nil) }
            let text = String(decoding: [byte], as: UTF8.self)
            return token(.invalid(text), text)
        }
    }

    // MARK: - Pieces

    private func peek(_ offset: Int = 0) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    /// Skips blanks and comments; returns where an unterminated `/*` comment started, and its text,
    /// which the server reports as a token error.
    private mutating func skipBlanksAndComments() -> (Int, String)? {
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                index += 1
            case UInt8(ascii: "#"):
                skipLine()
            case UInt8(ascii: "-") where peek(1) == UInt8(ascii: "-"):
                skipLine()
            case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "/"):
                skipLine()
            case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "*"):
                let start = index
                index += 2
                while index < bytes.count, !(bytes[index] == UInt8(ascii: "*") && peek(1) == UInt8(ascii: "/")) { index += 1 }
                guard index < bytes.count else { return (start, String(decoding: bytes[start...], as: UTF8.self)) }
                index += 2
            default:
                return nil
            }
        }
        return nil
    }

    private mutating func skipLine() {
        while let byte = peek(), byte != UInt8(ascii: "\n") { index += 1 }
        if index < bytes.count { index += 1 }
    }

    private mutating func scanWord() -> String {
        let start = index
        while let byte = peek(), Self.isLetter(byte) || Self.isDigit(byte) { index += 1 }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// Integers, floats (`1.5`, `.5`, `1e3`) and `0x` numbers; a letter straight after a number makes
    /// the whole thing a token error, as on the server (`1abc` is "near '1'").
    private mutating func scanNumber() -> (ListFilterToken.Kind, String) {
        let start = index
        var isFloat = false
        if peek() == UInt8(ascii: "0"), let x = peek(1), x == UInt8(ascii: "x") || x == UInt8(ascii: "X") {
            index += 2
            while let byte = peek(), Self.isHexDigit(byte) { index += 1 }
            return finishNumber(start: start, kind: { .hexNumber($0) })
        }
        while let byte = peek(), Self.isDigit(byte) { index += 1 }
        if peek() == UInt8(ascii: ".") {
            isFloat = true
            index += 1
            while let byte = peek(), Self.isDigit(byte) { index += 1 }
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            isFloat = true
            index += 1
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index += 1 }
            while let byte = peek(), Self.isDigit(byte) { index += 1 }
        }
        return finishNumber(start: start, kind: { isFloat ? .float($0) : .integer($0) })
    }

    private func finishNumber(start: Int, kind: (String) -> ListFilterToken.Kind) -> (ListFilterToken.Kind, String) {
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if let next = peek(), Self.isLetter(next) { return (.invalid(text), text) }
        return (kind(text), text)
    }

    /// A quoted string; backslash escapes and a doubled delimiter decode as MySQL's do. `closed` is
    /// false when the input ends first (the server then names what it decoded so far).
    private mutating func scanString(delimiter: UInt8) -> (value: String, closed: Bool) {
        var value: [UInt8] = []
        while let byte = peek() {
            index += 1
            if byte == UInt8(ascii: "\\") {
                guard let escaped = peek() else { break }
                index += 1
                value.append(Self.unescape(escaped))
            } else if byte == delimiter {
                guard peek() == delimiter else { return (String(decoding: value, as: UTF8.self), true) }
                index += 1
                value.append(delimiter)
            } else {
                value.append(byte)
            }
        }
        return (String(decoding: value, as: UTF8.self), false)
    }

    /// A backquoted name; a doubled backquote stands for one. `closed` is false when the input ends first.
    private mutating func scanQuotedIdentifier() -> (name: String, closed: Bool) {
        var name: [UInt8] = []
        while let byte = peek() {
            index += 1
            if byte == UInt8(ascii: "`") {
                guard peek() == UInt8(ascii: "`") else { return (String(decoding: name, as: UTF8.self), true) }
                index += 1
            }
            name.append(byte)
        }
        return (String(decoding: name, as: UTF8.self), false)
    }

    private mutating func scanSymbol(after byte: UInt8) -> ListFilterToken.Symbol? {
        func take(_ next: Character, _ symbol: ListFilterToken.Symbol) -> ListFilterToken.Symbol? {
            guard peek() == next.asciiValue else { return nil }
            index += 1
            return symbol
        }
        switch byte {
        case UInt8(ascii: "<"):
            if take(">", .notEqual) != nil { return .notEqual }
            if take("<", .shiftLeft) != nil { return .shiftLeft }
            if take("=", .lessOrEqual) != nil { return take(">", .nullSafeEqual) ?? .lessOrEqual }
            return .less
        case UInt8(ascii: ">"):
            return take("=", .greaterOrEqual) ?? take(">", .shiftRight) ?? .greater
        case UInt8(ascii: "!"):
            return take("=", .notEqual) ?? .bang
        case UInt8(ascii: "-"):
            if take(">", .jsonExtract) != nil { return take(">", .jsonUnquoteExtract) ?? .jsonExtract }
            return .minus
        default:
            return ListFilterToken.Symbol(rawValue: String(UnicodeScalar(byte)))
        }
    }

    private static func unescape(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "0"): 0
        case UInt8(ascii: "b"): 8
        case UInt8(ascii: "n"): 10
        case UInt8(ascii: "r"): 13
        case UInt8(ascii: "t"): 9
        case UInt8(ascii: "Z"): 26
        default: byte  // \' \" \\ and, as in the server's decoder, any other escaped byte stands for itself
        }
    }

    /// `x'..'` and `b'..'` start MySQL hex and bit literals.
    private static func literalPrefix(_ byte: UInt8) -> Character? {
        switch byte {
        case UInt8(ascii: "x"), UInt8(ascii: "X"): "X"
        case UInt8(ascii: "b"), UInt8(ascii: "B"): "B"
        default: nil
        }
    }

    static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || byte == 0x5F || byte == 0x40
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
    }
}
