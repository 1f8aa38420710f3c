/// SplitMix64 (Steele, Lea and Flood): one 64-bit word of state, so a seed is the whole generator and a
/// failing simulation replays from the number it prints.
///
/// The helpers below draw only from `next()`, never from the standard library's `random(in:using:)`,
/// whose algorithm may change between Swift releases and would then quietly change every seed's steps.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound` (bound > 0); the modulo bias is far below anything a simulation notices.
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "below(_:) needs a positive bound")
        return Int(next() % UInt64(bound))
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }

    mutating func int64(_ range: ClosedRange<Int64>) -> Int64 {
        range.lowerBound + Int64(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// True with probability `probability`.
    mutating func chance(_ probability: Double) -> Bool {
        Double(next() >> 11) * 0x1.0p-53 < probability
    }

    mutating func pick<T>(_ elements: [T]) -> T { elements[below(elements.count)] }

    /// One of `choices`, each as likely as its weight; weights of zero are never picked.
    mutating func weighted<T>(_ choices: [(weight: Int, value: T)]) -> T {
        let total = choices.reduce(0) { $0 + $1.weight }
        precondition(total > 0, "weighted(_:) needs a positive weight")
        var roll = below(total)
        for choice in choices {
            if roll < choice.weight { return choice.value }
            roll -= choice.weight
        }
        preconditionFailure("the roll is below the total")
    }

    /// A duration from a spread that Temporal timeouts see: tiny (down to 1 ns), small, minutes, hours, days.
    mutating func duration() -> Duration {
        switch below(10) {
        case 0: .nanoseconds(int64(1...1_000_000))
        case 1, 2: .milliseconds(int64(1...999))
        case 3, 4, 5: .milliseconds(int64(1_000...20_000))
        case 6, 7: .seconds(int64(20...3_600))
        case 8: .seconds(int64(3_600...86_400))
        default: .seconds(int64(86_400...30 * 86_400))
        }
    }
}
