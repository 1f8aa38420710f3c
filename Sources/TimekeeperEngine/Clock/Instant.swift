public import SwiftProtobuf

/// A point in time, in nanoseconds since the Unix epoch. Virtual and wall instants share this type;
/// which one a value is depends on where it came from (see `VirtualClock`).
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanosecondsSinceEpoch: Int64

    public init(nanosecondsSinceEpoch: Int64) {
        self.nanosecondsSinceEpoch = nanosecondsSinceEpoch
    }

    public static func < (lhs: Instant, rhs: Instant) -> Bool {
        lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch
    }

    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanosecondsSinceEpoch: lhs.nanosecondsSinceEpoch.addingClamped(rhs.nanoseconds))
    }

    public static func - (lhs: Instant, rhs: Instant) -> Duration {
        .nanoseconds(lhs.nanosecondsSinceEpoch &- rhs.nanosecondsSinceEpoch)
    }

    public var timestamp: Google_Protobuf_Timestamp {
        let seconds = nanosecondsSinceEpoch.dividedFlooring(by: 1_000_000_000)
        let nanos = nanosecondsSinceEpoch - seconds * 1_000_000_000
        return Google_Protobuf_Timestamp(seconds: seconds, nanos: Int32(nanos))
    }

    public init(_ timestamp: Google_Protobuf_Timestamp) {
        self.init(
            nanosecondsSinceEpoch: timestamp.seconds.multipliedClamped(by: 1_000_000_000)
                .addingClamped(Int64(timestamp.nanos)))
    }

    /// RFC 3339 in UTC, as the log and the inspection tools print times.
    public var description: String { RFC3339.format(nanosecondsSinceEpoch: nanosecondsSinceEpoch) }
}

extension Duration {
    /// Whole nanoseconds, clamped to Int64 (a Temporal duration never needs more than ~292 years).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds.multipliedClamped(by: 1_000_000_000).addingClamped(attoseconds / 1_000_000_000)
    }

    public var protobuf: Google_Protobuf_Duration {
        let total = nanoseconds
        return Google_Protobuf_Duration(seconds: total / 1_000_000_000, nanos: Int32(total % 1_000_000_000))
    }

    public init(protobuf duration: Google_Protobuf_Duration) {
        self = .seconds(duration.seconds) + .nanoseconds(Int64(duration.nanos))
    }

    /// Seconds as a floating-point number, for logs and explanations.
    public var secondsValue: Double { Double(nanoseconds) / 1e9 }
}

extension Int64 {
    func addingClamped(_ other: Int64) -> Int64 {
        let (value, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : value
    }

    func multipliedClamped(by other: Int64) -> Int64 {
        let (value, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? ((self > 0) == (other > 0) ? .max : .min) : value
    }

    func dividedFlooring(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
