import Foundation

/// Collects the work (`OperationWork`) of the calls made while it is installed, so that a
/// benchmark reports the bytes and FLOPs of the library's own descriptions instead of restating
/// them. Installed per task with `Engine.recordingWork(_:)`.
///
/// Over a sequence of calls, each tensor counts once where it is read and once where it is
/// written, and a tensor one call writes and a later call reads counts again as a read (softmax
/// then its backward: x, y written, y read, g, dz = 5 values per element). Labels, losses and
/// other non-tensor data count as each call states them.
package final class WorkRecorder: @unchecked Sendable {
    /// One tensor a call touches: its identity (the memory it lives in; nil: a copy only this call
    /// sees) and its size.
    struct Access {
        let identity: AnyHashable?
        let bytes: Int
    }

    private let lock = NSLock()
    private var bytes = 0
    private var flops = 0
    private var read: Set<AnyHashable> = []
    private var written: Set<AnyHashable> = []

    package init() {}

    /// Adds one call: the tensors it reads and writes, its other bytes and its FLOPs.
    func add(reads: [Access], writes: [Access], otherBytes: Int, flops: Int) {
        lock.lock()
        defer { lock.unlock() }
        for access in reads {
            guard let identity = access.identity else {
                bytes += access.bytes
                continue
            }
            if written.remove(identity) != nil || read.insert(identity).inserted { bytes += access.bytes }
            read.insert(identity)
        }
        for access in writes {
            guard let identity = access.identity else {
                bytes += access.bytes
                continue
            }
            if written.insert(identity).inserted { bytes += access.bytes }
        }
        bytes += otherBytes
        self.flops += flops
    }

    /// Adds a call known only by its total work (a training step).
    func add(_ work: OperationWork) {
        add(reads: [], writes: [], otherBytes: work.bytes, flops: work.flops)
    }

    /// The work recorded so far.
    package var total: OperationWork {
        lock.lock()
        defer { lock.unlock() }
        return OperationWork(bytes: bytes, flops: flops)
    }

    /// The current task's recorder, if any.
    @TaskLocal static var current: WorkRecorder?
}

extension Engine {
    /// Runs `body` and returns its result with the work of every operation (and training step) it
    /// ran on this task.
    package static func recordingWork<T>(_ body: () throws -> T) rethrows -> (T, OperationWork) {
        let recorder = WorkRecorder()
        let result = try WorkRecorder.$current.withValue(recorder) { try body() }
        return (result, recorder.total)
    }
}

extension WorkRecorder {
    /// Records `operation`'s tensors, other bytes and FLOPs.
    func add<O: Operation>(_ operation: O) {
        let reads = operation.inputs.map { input -> Access in
            let identity: AnyHashable?
            switch input.storage {
            case .host(let values): identity = values.baseAddress.map { Int(bitPattern: $0) }
            case .array: identity = nil
            case .device(let buffer): identity = ObjectIdentifier(buffer)
            }
            return Access(identity: identity, bytes: OperationWork.floats(input.count))
        }
        let writes = operation.outputs.map { output -> Access in
            let identity: AnyHashable? = output.storage.host?.baseAddress.map { Int(bitPattern: $0) }
            return Access(identity: identity, bytes: OperationWork.floats(output.count))
        }
        add(reads: reads, writes: writes, otherBytes: operation.otherBytes, flops: operation.flops)
    }
}
