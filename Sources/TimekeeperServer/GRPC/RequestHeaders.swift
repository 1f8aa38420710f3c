internal import GRPCCore
internal import NIOHPACK

/// The request headers a handler may look at, with the client's deadline already read.
struct RequestHeaders: Sendable {
    let fields: HPACKHeaders
    /// How long the client gives the call (`grpc-timeout`), counted from when its headers arrived.
    let timeout: Duration?

    init(fields: HPACKHeaders, timeout: Duration?) {
        self.fields = fields
        self.timeout = timeout
    }

    /// How long a long poll may wait: the server's bound, or a little less than the client's deadline so
    /// that the client gets an empty answer rather than DEADLINE_EXCEEDED.
    func longPollTimeout(bound: Duration) -> Duration {
        guard let client = timeout else { return bound }
        return max(.zero, min(bound, client - .milliseconds(500)))
    }
}

/// The `grpc-timeout` header: "TimeoutValue TimeoutUnit", at most 8 ASCII digits and one of H M S m u n
/// (gRPC over HTTP/2). Anything else is a protocol error, answered as grpc-go answers it (HTTP 400,
/// INTERNAL); a longer value once overflowed our arithmetic and killed the server.
enum GRPCTimeout {
    static let maximumDigits = 8

    static func parse(_ value: String) throws(GRPCStatus) -> Duration {
        let bytes = Array(value.utf8)
        guard let unit = bytes.last, (2...maximumDigits + 1).contains(bytes.count) else { throw malformed(value) }
        var amount: Int64 = 0
        for digit in bytes.dropLast() {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { throw malformed(value) }
            amount = amount * 10 + Int64(digit - UInt8(ascii: "0"))  // at most 99,999,999: no overflow
        }
        // 99,999,999 hours is ~11,000 years: a Duration holds it; Instants clamp when it is added.
        switch unit {
        case UInt8(ascii: "H"): return .seconds(amount) * 3600
        case UInt8(ascii: "M"): return .seconds(amount) * 60
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: throw malformed(value)
        }
    }

    private static func malformed(_ value: String) -> GRPCStatus {
        let shown = value.count > 40 ? String(value.prefix(40)) + "…" : value
        var status = GRPCStatus(
            .internalError,
            "grpc-timeout \"\(shown)\" is malformed: it must be 1 to \(maximumDigits) digits followed by one unit of H, M, S, m, u or n")
        status.httpStatus = "400"  // grpc-go's answer (Temporal's server): HTTP 400 with grpc-status INTERNAL
        return status
    }
}
