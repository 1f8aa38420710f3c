/// Reads ExecutionDuration values the way Temporal's `ParseExecutionDurationStr` does: nanoseconds as
/// a plain integer (`'3600000000000'`), a Go duration with days allowed (`'1h30m'`, `'-1.5h'`, `'2d'`),
/// or `hh:mm:ss` (`'01:30:00'`).
package enum ExecutionDuration {
    /// Why the last form (`hh:mm:ss`) refused the text; the server quotes this reason.
    package enum Failure: String, Error {
        case invalid = "invalid duration"
        case hours = "invalid duration: hours must be a positive number"
        case minutes = "invalid duration: minutes must be from 0 to 59"
        case seconds = "invalid duration: seconds must be from 0 to 59"
    }

    /// The duration in nanoseconds.
    package static func parse(_ text: String) -> Result<Int64, Failure> {
        if let nanos = Int64(text) { return .success(nanos) }
        if let nanos = parseGoDuration(text) { return .success(nanos) }
        return parseClock(text)
    }

    /// Go's `time.ParseDuration` grammar, `[-+]?([0-9]*(\.[0-9]*)?unit)+`, plus `d` for 24 hours.
    static func parseGoDuration(_ text: String) -> Int64? {
        var bytes = Substring(text).utf8[...]
        var negative = false
        if let sign = bytes.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
            negative = sign == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        if String(Substring(bytes)) == "0" { return 0 }
        guard !bytes.isEmpty else { return nil }
        let units: [(String, Double)] = [
            ("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9), ("d", 86_400e9),
        ]
        var total = 0.0
        while !bytes.isEmpty {
            let number = bytes.prefix { ListFilterLexer.isDigit($0) || $0 == UInt8(ascii: ".") }
            let text = String(Substring(number))
            guard text.filter({ $0 == "." }).count <= 1, text != ".", !text.isEmpty,
                let value = Double(text.hasPrefix(".") ? "0" + text : text)
            else { return nil }
            bytes = bytes.dropFirst(number.count)
            let unitBytes = bytes.prefix { !ListFilterLexer.isDigit($0) && $0 != UInt8(ascii: ".") }
            let unitText = String(Substring(unitBytes))
            guard let scale = units.first(where: { $0.0 == unitText })?.1 else { return nil }
            bytes = bytes.dropFirst(unitBytes.count)
            total += value * scale
        }
        guard total < 9.223372036854775807e18 else { return nil }
        let nanos = Int64(total.rounded(.towardZero))
        return negative ? -nanos : nanos
    }

    /// `fmt.Sscanf(s, "%d:%d:%d")` then range checks; like Sscanf, text after the seconds is ignored.
    static func parseClock(_ text: String) -> Result<Int64, Failure> {
        var rest = Substring(text)
        var parts: [Int64] = []
        for index in 0..<3 {
            if index > 0 {
                guard rest.first == ":" else { return .failure(.invalid) }
                rest = rest.dropFirst()
            }
            var digits = ""
            if let sign = rest.first, sign == "-" || sign == "+" {
                digits.append(sign)
                rest = rest.dropFirst()
            }
            let run = rest.prefix { $0.isASCII && $0.isNumber }
            guard !run.isEmpty, let value = Int64(digits + run) else { return .failure(.invalid) }
            rest = rest.dropFirst(run.count)
            parts.append(value)
        }
        let (hours, minutes, seconds) = (parts[0], parts[1], parts[2])
        if hours < 0 { return .failure(.hours) }
        if !(0...59).contains(minutes) { return .failure(.minutes) }
        if !(0...59).contains(seconds) { return .failure(.seconds) }
        let (hourSeconds, overflow) = hours.multipliedReportingOverflow(by: 3600)
        let (total, overflowAgain) = (hourSeconds &+ minutes * 60 &+ seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow || overflowAgain || hourSeconds > Int64.max - 3600 ? .failure(.invalid) : .success(total)
    }
}
