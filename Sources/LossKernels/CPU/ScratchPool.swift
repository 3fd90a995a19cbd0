import Foundation

/// Reusable float scratch buffers (the logits tile of the margin heads), so repeated calls do not
/// pay for fresh allocations and their page faults. Thread-safe; keeps at most `limit` buffers.
final class ScratchPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [UnsafeMutableBufferPointer<Float>] = []
    private let limit = 2

    /// Runs `body` with a buffer of at least `count` floats (contents undefined).
    func withBuffer<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let buffer = take(count)
        defer { give(buffer) }
        return try body(buffer.baseAddress!)
    }

    private func take(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        lock.lock()
        if let index = free.firstIndex(where: { $0.count >= count }) {
            let buffer = free.remove(at: index)
            lock.unlock()
            return buffer
        }
        lock.unlock()
        return UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
    }

    private func give(_ buffer: UnsafeMutableBufferPointer<Float>) {
        lock.lock()
        defer { lock.unlock() }
        free.append(buffer)
        if free.count > limit {
            free.sort { $0.count > $1.count }
            free.removeLast().deallocate()
        }
    }

    deinit { for buffer in free { buffer.deallocate() } }
}
