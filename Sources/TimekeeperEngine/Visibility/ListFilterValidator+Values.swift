/// A constant from a query, converted for its attribute.
struct ConvertedValue {
    var value: SearchAttributeValue
    /// The constant as the SQL store prints it in messages (`Running` for ExecutionStatus).
    var storeText: String
}

/// The right side of a condition: one constant, or the tuple of an IN.
struct ConvertedOperand {
    var items: [ConvertedValue]
    var isTuple: Bool
}

extension ListFilterValidator {
    /// The converter's `parseValueExpr`: a constant or a tuple of constants, each checked against the
    /// attribute's type; anything else (columns, functions, arithmetic, NULL) is refused.
    func convertOperand(
        _ expression: ListFilterSyntax.Expression, _ attribute: SearchAttribute, alias: String
    ) throws(ListFilterError) -> ConvertedOperand {
        guard case .tuple(let items) = expression else {
            return ConvertedOperand(items: [try convertSingle(expression, attribute, alias: alias)], isTuple: false)
        }
        var converted: [ConvertedValue] = []
        for item in items {
            if case .tuple = item { throw .invalid("unexpected value type sqlparser.ValTuple") }
            converted.append(try convertSingle(item, attribute, alias: alias))
        }
        return ConvertedOperand(items: converted, isTuple: true)
    }

    private func convertSingle(
        _ expression: ListFilterSyntax.Expression, _ attribute: SearchAttribute, alias: String
    ) throws(ListFilterError) -> ConvertedValue {
        switch expression {
        case .literal(let literal):
            return try convertLiteral(literal, attribute, alias: alias)
        case .bool(let flag):
            return try checkType(.bool(flag), attribute, alias: alias)
        case .unary(let op, let operand):
            // A sign in front of a number is part of the number; any other unary use is refused.
            if op == "-" || op == "+", case .literal(var literal) = operand, literal.kind == .integer || literal.kind == .float {
                if op == "-" { literal.text = literal.text.hasPrefix("-") ? String(literal.text.dropFirst()) : "-" + literal.text }
                return try convertLiteral(literal, attribute, alias: alias)
            }
            if op == "-" || op == "+" { throw .invalid("unary operator not supported in \(Self.goQuoted(expression.sqlText))") }
            throw .notSupported("unary operator \(Self.goQuoted(op))")
        case .function:
            throw .notSupported("nested func")
        case .column:
            let name = Self.goQuoted(expression.sqlText)
            throw .notSupported("column name on the right side of comparison expression (did you forget to quote \(name)?)")
        default:
            throw .invalid("unexpected value type \(expression.goTypeName)")
        }
    }

    /// A value as the server's `sqlquery.ParseValue` returns it, before it meets the attribute's type.
    enum RawValue {
        case string(String), int(Int64), double(Double), bool(Bool)
    }

    private func convertLiteral(
        _ literal: ListFilterSyntax.Literal, _ attribute: SearchAttribute, alias: String
    ) throws(ListFilterError) -> ConvertedValue {
        let raw = try Self.parseRaw(literal)
        switch attribute.name {
        case "ExecutionStatus":
            // Names stay as written for the store; the filter keeps the canonical name.
            switch raw {
            case .int(let code):
                guard let status = ExecutionStatusName(rawValue: code) else { throw .invalid("invalid ExecutionStatus value \(code)") }
                return ConvertedValue(value: .string(status.name), storeText: status.name)
            case .string(let text):
                guard let status = ExecutionStatusName(named: text) else { throw .invalid("invalid ExecutionStatus value '\(text)'") }
                return ConvertedValue(value: .string(status.name), storeText: text)
            default:
                throw .invalid("unexpected value type float64 for search attribute ExecutionStatus")
            }
        case "ExecutionDuration":
            switch raw {
            case .int(let nanos): return ConvertedValue(value: .int(nanos), storeText: "\(nanos)")
            case .string(let text):
                guard case .success(let nanos) = ExecutionDuration.parse(text) else {
                    throw .invalid("invalid duration value for search attribute ExecutionDuration: \(text)")
                }
                return ConvertedValue(value: .int(nanos), storeText: "\(nanos)")
            default:
                throw .invalid("unexpected value type float64 for search attribute ExecutionDuration")
            }
        default:
            return try checkType(raw, attribute, alias: alias)
        }
    }

    /// The converter's `validateValueType`: the constant must fit the attribute's type; a datetime
    /// may be RFC 3339 text or nanoseconds since the epoch.
    private func checkType(_ raw: RawValue, _ attribute: SearchAttribute, alias: String) throws(ListFilterError) -> ConvertedValue {
        switch (attribute.type, raw) {
        case (.int, .int(let i)), (.double, .int(let i)): return ConvertedValue(value: .int(i), storeText: "\(i)")
        case (.int, .double(let d)), (.double, .double(let d)): return ConvertedValue(value: .double(d), storeText: Self.goFloat(d))
        case (.bool, .bool(let b)): return ConvertedValue(value: .bool(b), storeText: "\(b)")
        case (.keyword, .string(let s)), (.keywordList, .string(let s)), (.text, .string(let s)):
            return ConvertedValue(value: .string(s), storeText: s)
        case (.datetime, .int(let nanos)):
            return ConvertedValue(value: .datetime(nanos), storeText: RFC3339.format(nanosecondsSinceEpoch: nanos))
        case (.datetime, .string(let text)):
            guard let nanos = RFC3339.parse(text) else { throw .invalid("unable to parse datetime '\(text)'") }
            return ConvertedValue(value: .datetime(nanos), storeText: text)
        default:
            let (goSyntax, goType): (String, String)
            switch raw {
            case .string(let s): (goSyntax, goType) = (Self.goQuoted(s), "string")
            case .int(let i): (goSyntax, goType) = ("\(i)", "int64")
            case .double(let d): (goSyntax, goType) = (Self.goFloat(d), "float64")
            case .bool(let b): (goSyntax, goType) = ("\(b)", "bool")
            }
            let type = attribute.type.rawValue
            throw .invalid("invalid value type for search attribute \(alias) of type \(type): \(goSyntax) (type: \(goType))")
        }
    }

    /// `sqlquery.ParseValue`: strings lose every leading and trailing `'` (the server wraps the value in
    /// quotes and then trims all of them, so `'''x'''` means `x`); other literals are read as int64,
    /// else float64, from their digits (so `B'101'` is the number 101).
    private static func parseRaw(_ literal: ListFilterSyntax.Literal) throws(ListFilterError) -> RawValue {
        if literal.kind == .string {
            let text = literal.text
            let start = text.firstIndex { $0 != "'" } ?? text.endIndex
            let end = text.lastIndex { $0 != "'" }.map { text.index(after: $0) } ?? start
            return .string(String(text[start..<max(start, end)]))
        }
        if let int = Int64(literal.text) { return .int(int) }
        let readsAsFloat = literal.kind != .hexNumber && literal.kind != .bindVariable
        if readsAsFloat, let double = Double(literal.text), double.isFinite { return .double(double) }
        throw .invalid("unable to parse value \(goQuoted(ListFilterSyntax.Expression.literal(literal).sqlText))", at: literal.start)
    }

    /// Go's `%q` / `%#v` of a string.
    static func goQuoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Go's shortest float formatting: `1.5`, `2` (not `2.0`).
    static func goFloat(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return String(d)
    }
}
