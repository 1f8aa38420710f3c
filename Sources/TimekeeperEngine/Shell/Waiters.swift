/// Callers waiting on the engine for one kind of answer, by key: the one registry type behind every kind
/// of wait in the shell (task-queue long polls, history long polls, test-client sleeps, queries).
///
/// A waiter is added under the engine's lock and taken out by whichever comes first — the effect that
/// answers it, its deadline, its cancellation — and resumed once the lock is released; the others then
/// find nothing, so a waiter is resumed exactly once.
struct Waiters<Key: Hashable & Sendable, Answer: Sendable>: Sendable {
    typealias Continuation = CheckedContinuation<Result<Answer, EngineError>, Never>

    private var waiting: [Key: Continuation] = [:]

    mutating func add(_ key: Key, _ continuation: Continuation) {
        precondition(waiting.updateValue(continuation, forKey: key) == nil, "one waiter per key")
    }

    /// Takes the waiter out: its continuation, for the caller to resume (outside the lock), or nil if an
    /// answer, a deadline or a cancellation took it already.
    mutating func take(_ key: Key) -> Continuation? { waiting.removeValue(forKey: key) }
}
