internal import Synchronization

/// Run ids and request ids: random (version 4) UUIDs in the lowercase form Temporal uses.
///
/// Drawn from a xoshiro256** generator seeded once from the system's entropy rather than from `UUID()`,
/// which on Linux opens, reads and closes /dev/urandom for every id: three system calls, four times per
/// workflow (seen with strace in a burst). Ids must be unique, not secret.
package enum UUIDs {
    private static let generator = Mutex(Xoshiro256StarStar(seed: SystemRandomNumberGenerator()))

    package static func random() -> String { make(version: 4, timestamp: nil) }

    /// A version 7 UUID (RFC 9562): milliseconds since the epoch first, then random bits, so ids sort by
    /// creation. Temporal's server makes run ids this way, and SDK tests check the version.
    package static func version7(at time: Instant) -> String {
        make(version: 7, timestamp: UInt64(max(0, time.nanosecondsSinceEpoch / 1_000_000)))
    }

    private static func make(version: UInt8, timestamp: UInt64?) -> String {
        var (high, low) = generator.withLock { ($0.next(), $0.next()) }
        if let timestamp { high = (timestamp & 0xFFFF_FFFF_FFFF) << 16 | (high & 0xFFFF) }
        var bytes = (high.bigEndian, low.bigEndian)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw[6] = raw[6] & 0x0F | version << 4
            raw[8] = raw[8] & 0x3F | 0x80  // RFC 4122 variant
            let hex = Array("0123456789abcdef".utf8)
            var text = [UInt8]()
            text.reserveCapacity(36)
            for (index, byte) in raw.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
                text.append(hex[Int(byte >> 4)])
                text.append(hex[Int(byte & 0x0F)])
            }
            return String(decoding: text, as: UTF8.self)
        }
    }
}

/// xoshiro256** (Blackman and Vigna): 256 bits of state, fast, and good enough for unique ids.
struct Xoshiro256StarStar: RandomNumberGenerator {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    init(seed source: some RandomNumberGenerator) {
        var source = source
        repeat {
            state = (source.next(), source.next(), source.next(), source.next())
        } while state == (0, 0, 0, 0)
    }

    mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    private func rotateLeft(_ value: UInt64, _ count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 - count))
    }
}
