import Dispatch
import Foundation

/// How the CPU backend spreads work over cores. Work is cut into items whose results do not
/// depend on which thread computes them, so the thread count never changes a result's bits.
struct CPUThreads: Sendable {
    /// Number of threads (≥ 1).
    let count: Int

    init(count: Int) { self.count = max(1, count) }

    /// Runs `body(range)` over `0..<items` cut into contiguous ranges, in parallel. There are up to
    /// 4 ranges per thread, handed out dynamically, so a thread delayed by a neighbour's load does
    /// not hold the others up.
    func forEachRange(_ items: Int, _ body: (Range<Int>) -> Void) {
        guard items > 0 else { return }
        let parts = count == 1 ? 1 : min(4 * count, items)
        if parts == 1 {
            body(0..<items)
            return
        }
        withoutActuallyEscaping(body) { body in
            // The parts touch disjoint items; callers hand over raw pointers, which are not Sendable.
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let lower = items * part / parts, upper = items * (part + 1) / parts
                if lower < upper { body(lower..<upper) }
            }
        }
    }
}

/// A shareable raw pointer for handing disjoint parts of one buffer to parallel workers.
struct SendablePointer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
}
