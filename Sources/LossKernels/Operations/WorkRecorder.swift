import Foundation

/// Collects the work (`OperationWork`) of the calls made while it is installed, so that a
/// benchmark reports the bytes and FLOPs of the library's own descriptions instead of restating
/// them. Installed per task with `Engine.recordingWork(_:)`.
package final class WorkRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [OperationWork] = []

    package init() {}

    /// Adds one call's work.
    func add(_ work: OperationWork) {
        lock.lock()
        recorded.append(work)
        lock.unlock()
    }

    /// The sum of the recorded calls' work.
    package var total: OperationWork {
        lock.lock()
        defer { lock.unlock() }
        return recorded.reduce(OperationWork(bytes: 0), +)
    }

    /// The current task's recorder, if any.
    @TaskLocal static var current: WorkRecorder?
}

extension Engine {
    /// Runs `body` and returns its result with the summed work of every operation (and training
    /// step) it ran on this task.
    package static func recordingWork<T>(_ body: () throws -> T) rethrows -> (T, OperationWork) {
        let recorder = WorkRecorder()
        let result = try WorkRecorder.$current.withValue(recorder) { try body() }
        return (result, recorder.total)
    }
}
