internal import Dispatch
internal import Foundation
internal import Synchronization

/// Recovery's one kind of parallelism: mapping a long list (each stored run's changes decoded, each run
/// rebuilt from them) in contiguous slices, one per processor, the caller's thread taking the first slice
/// and a thread of its own at nice 10 each of the others — as the recovery thread itself, so that the
/// listener still answers first on a small machine. Results keep the items' order; the first failure
/// (in slice order) is what is thrown.
package enum InParallel {
    /// Fewer items than this per slice are not worth a thread.
    static let smallestSlice = 256

    package static func map<Item: Sendable, Mapped: Sendable, Failure: Error>(
        _ items: [Item], _ transform: @escaping @Sendable (Item) throws(Failure) -> Mapped
    ) throws(Failure) -> [Mapped] {
        let slices = min(ProcessInfo.processInfo.activeProcessorCount, 4, items.count / smallestSlice)
        guard slices > 1 else { return try items.map(transform) }
        let bounds = (0..<slices).map { slice in (items.count * slice / slices)..<(items.count * (slice + 1) / slices) }
        let outcomes = Mutex<[Result<[Mapped], Failure>?]>(Array(repeating: nil, count: slices))
        let run: @Sendable (Int) -> Void = { slice in
            let outcome: Result<[Mapped], Failure>
            do throws(Failure) {
                var mapped: [Mapped] = []
                mapped.reserveCapacity(bounds[slice].count)
                for index in bounds[slice] { mapped.append(try transform(items[index])) }
                outcome = .success(mapped)
            } catch {
                outcome = .failure(error)
            }
            outcomes.withLock { $0[slice] = outcome }
        }
        let finished = DispatchSemaphore(value: 0)
        for slice in 1..<slices {
            let thread = Thread {
                lowerCurrentThreadPriority()
                run(slice)
                finished.signal()
            }
            thread.name = "timekeeper.recovery.\(slice)"
            thread.start()
        }
        run(0)
        for _ in 1..<slices { finished.wait() }
        var all: [Mapped] = []
        all.reserveCapacity(items.count)
        for outcome in outcomes.withLock({ $0 }) {
            switch outcome {
            case .success(let mapped)?: all.append(contentsOf: mapped)
            case .failure(let error)?: throw error
            case nil: preconditionFailure("a slice finished without an outcome")
            }
        }
        return all
    }
}

/// Makes the calling thread yield the processor to the others under contention (nice 10; on Linux
/// `setpriority` with `PRIO_PROCESS` and 0 applies to the calling thread only).
func lowerCurrentThreadPriority() {
    #if canImport(Glibc)
    _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
    #endif
}
