import Foundation
import Testing
@testable import TimekeeperEngine

@Suite struct UUIDTests {
    @Test func idsAreLowercaseVersion4UUIDs() throws {
        let pattern = try Regex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        for _ in 0..<1000 {
            let id = UUIDs.random()
            #expect(id.wholeMatch(of: pattern) != nil, "\(id)")
            // Foundation reads it back as the same UUID.
            #expect(UUID(uuidString: id)?.uuidString.lowercased() == id)
        }
    }

    @Test func runIDsAreVersion7UUIDsThatStartWithTheirMillisecond() throws {
        let pattern = try Regex("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        let time = Instant(nanosecondsSinceEpoch: 1_700_000_000_123_456_789)
        let id = UUIDs.version7(at: time)
        #expect(id.wholeMatch(of: pattern) != nil, "\(id)")
        let hex = id.replacingOccurrences(of: "-", with: "").prefix(12)
        #expect(UInt64(hex, radix: 16) == 1_700_000_000_123)
        #expect(UUIDs.version7(at: time) != id, "random after the timestamp")
    }

    @Test func idsDoNotRepeat() {
        let ids = (0..<100_000).map { _ in UUIDs.random() }
        #expect(Set(ids).count == ids.count)
    }

    @Test func theGeneratorMatchesTheReferenceSequence() {
        // xoshiro256** from state (1, 2, 3, 4): the first outputs of the authors' reference implementation.
        var generator = Xoshiro256StarStar(seed: FixedSource(values: [1, 2, 3, 4]))
        #expect((0..<4).map { _ in generator.next() } == [11520, 0, 1509978240, 1215971899390074240])
    }

    private struct FixedSource: RandomNumberGenerator {
        var values: [UInt64]
        mutating func next() -> UInt64 { values.removeFirst() }
    }
}
