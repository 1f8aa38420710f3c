import Testing

@testable import TimekeeperEngine

@Suite("Values")
struct ValueParsingTests {
    @Test("RFC 3339 as Go's time.Parse(RFC3339Nano) reads it", arguments: [
        ("1970-01-01T00:00:00Z", Int64(0)),
        ("2024-01-01T00:00:00Z", 1_704_067_200_000_000_000),
        ("2024-01-01T01:00:00+01:00", 1_704_067_200_000_000_000),
        ("2023-12-31T19:00:00-05:00", 1_704_067_200_000_000_000),
        ("2024-01-01T00:00:00.123456789Z", 1_704_067_200_123_456_789),
        ("2024-01-01T00:00:00,5Z", 1_704_067_200_500_000_000),
        ("2024-01-01T0:00:00Z", 1_704_067_200_000_000_000),
        ("2024-02-29T00:00:00Z", 1_709_164_800_000_000_000),
        ("1969-12-31T23:59:59Z", -1_000_000_000),
    ])
    func rfc3339(_ text: String, _ nanos: Int64) {
        #expect(RFC3339.parse(text) == nanos)
        #expect(RFC3339.parse(RFC3339.format(nanosecondsSinceEpoch: nanos)) == nanos)
    }

    @Test("text Go refuses as RFC 3339", arguments: [
        "2024-01-01", "2024-01-01T00:00:00", "2024-01-01t00:00:00z", "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z",
        "2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z", "2024-1-01T00:00:00Z", "2024-01-01T00:00:00.Z", "2024-01-01 00:00:00Z",
    ])
    func rfc3339Refused(_ text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test("formats as Go's RFC3339Nano in UTC")
    func format() {
        #expect(RFC3339.format(nanosecondsSinceEpoch: 1_704_067_200_500_000_000) == "2024-01-01T00:00:00.5Z")
        #expect(RFC3339.format(nanosecondsSinceEpoch: -1) == "1969-12-31T23:59:59.999999999Z")
    }

    @Test("ExecutionDuration as nanoseconds, Go durations with days, or hh:mm:ss", arguments: [
        ("3600000000000", Int64(3_600_000_000_000)), ("1h", 3_600_000_000_000), ("1h30m", 5_400_000_000_000),
        ("-1.5h", -5_400_000_000_000), ("1d", 86_400_000_000_000), ("1.5d", 129_600_000_000_000), ("300ms", 300_000_000),
        ("2µs", 2_000), ("0", 0), ("01:30:00", 5_400_000_000_000), ("1:02:03", 3_723_000_000_000), (".5s", 500_000_000),
    ])
    func duration(_ text: String, _ nanos: Int64) {
        #expect(ExecutionDuration.parse(text) == .success(nanos))
    }

    @Test("durations the server refuses, with the reason its last parser gives", arguments: [
        ("PT1H", ExecutionDuration.Failure.invalid), ("1x", .invalid), ("", .invalid), ("1:99:00", .minutes),
        ("1:00:61", .seconds), ("-1:00:00", .hours),
    ])
    func durationRefused(_ text: String, _ failure: ExecutionDuration.Failure) {
        #expect(ExecutionDuration.parse(text) == .failure(failure))
    }
}
