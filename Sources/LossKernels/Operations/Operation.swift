/// One operation of the catalogue, described once: the tensors it reads and writes, the checks of
/// its shapes, values and options, the work it does, and its CPU and OpenCL implementations.
/// `Engine.run(_:)` executes every description the same way (docs/ARCHITECTURE.md, "The life of a
/// call"): validate, check finiteness, skip empty work, pick a backend, move the tensors, run, and
/// redo the call on the CPU when OpenCL fails under `auto`. The public methods of `Engine` only
/// build a description and unpack its result.
protocol Operation {
    /// What a call returns besides the output tensors (the reduced loss, the per-group values…).
    associatedtype Result

    /// The float32 tensors read, in the order their finiteness is checked.
    var inputs: [OperationInput] { get }
    /// The float32 tensors written.
    var outputs: [OperationOutput] { get }
    /// Bytes read or written besides the float tensors of `inputs` and `outputs`: labels (8 bytes
    /// each), flags, the loss, reduced values (default 0).
    var otherBytes: Int { get }
    /// Floating-point operations of the matrix products, `2·M·N·K` each (default 0: the operation
    /// is bound by memory bandwidth).
    var flops: Int { get }

    /// Throws the error that names the tensor, row, value or option at fault. Runs first; nothing
    /// else of the description is used before it passes.
    func validate() throws
    /// The result when there is nothing to compute (an empty batch, no columns), else nil: the
    /// call then returns it from the CPU without touching OpenCL.
    func resultWithoutWork() throws -> Result?
    /// Computes on the host: reads the inputs' and writes the outputs' host storage.
    func runCPU(_ cpu: CPUContext) throws -> Result
    /// Computes on `device`, whose exclusive access the caller holds. `tensors` holds a device
    /// buffer for every input that is transferred and for every output, by name.
    func runOpenCL(_ device: OpenCLDevice, _ tensors: DeviceTensors) throws -> Result
}

extension Operation {
    func resultWithoutWork() throws -> Result? { nil }
    var otherBytes: Int { 0 }
    var flops: Int { 0 }

    /// Bytes moved and floating-point operations, what the scheduler and `bench` read: every
    /// tensor read or written once, plus `otherBytes`.
    var work: OperationWork {
        let tensors = inputs.reduce(0) { $0 + $1.count } + outputs.reduce(0) { $0 + $1.count }
        return OperationWork(bytes: OperationWork.floats(tensors) + otherBytes, flops: flops)
    }
}

/// How `Engine(checkFinite: true)` checks an input's values.
enum FinitePolicy: Sendable {
    /// Every value must be finite.
    case finite
    /// Finite or −∞: logits, where −∞ is a mask.
    case finiteOrNegativeInfinity
    /// Not checked: a value the library computed itself (a forward pass's result).
    case unchecked
}

/// A float32 tensor an operation reads.
struct OperationInput {
    /// Where the values are.
    enum Storage {
        /// Caller-owned host memory, valid for the call.
        case host(UnsafeBufferPointer<Float>)
        /// A host array the description owns (an upstream gradient, say).
        case array([Float])
        /// Already on an OpenCL device (`DeviceMatrix`): the call runs on that device.
        case device(OpenCLBuffer)
    }

    /// The name errors and `DeviceTensors` use ("logits", "gradOutput").
    let name: String
    let storage: Storage
    /// How `checkFinite` checks it.
    let finite: FinitePolicy
    /// Whether the OpenCL implementation reads it from a device buffer (the executor uploads it);
    /// false for tensors only the host side of the OpenCL path reads.
    let transfer: Bool

    init(_ name: String, _ storage: Storage, finite: FinitePolicy = .finite, transfer: Bool = true) {
        self.name = name
        self.storage = storage
        self.finite = finite
        self.transfer = transfer
    }

    /// A host input from caller-owned memory.
    static func host(_ name: String, _ values: UnsafeBufferPointer<Float>, finite: FinitePolicy = .finite, transfer: Bool = true) -> OperationInput {
        OperationInput(name, .host(values), finite: finite, transfer: transfer)
    }

    /// Number of values.
    var count: Int {
        switch storage {
        case .host(let values): return values.count
        case .array(let values): return values.count
        case .device(let buffer): return buffer.count
        }
    }
}

/// A float32 tensor an operation writes.
struct OperationOutput {
    /// Where the values go.
    enum Storage {
        /// Caller-owned host memory of the output's size.
        case host(UnsafeMutableBufferPointer<Float>)
        /// A new buffer on the device of the call's device-resident inputs, returned in
        /// `OperationRun.deviceOutputs`.
        case device(count: Int)
    }

    let name: String
    let storage: Storage

    init(_ name: String, _ storage: Storage) {
        self.name = name
        self.storage = storage
    }

    /// A host output into caller-owned memory.
    static func host(_ name: String, _ values: UnsafeMutableBufferPointer<Float>) -> OperationOutput {
        OperationOutput(name, .host(values))
    }

    /// Number of values.
    var count: Int {
        switch storage {
        case .host(let values): return values.count
        case .device(let count): return count
        }
    }
}

/// What a call moves and computes, in explicit units.
package struct OperationWork: Sendable, Equatable {
    /// Bytes moved at least: every input read once and every output written once (float32 values
    /// 4 bytes, labels 8, a loss 4 per value).
    package var bytes: Int
    /// Floating-point operations of the matrix products, `2·M·N·K` each; 0 for operations bound by
    /// memory bandwidth.
    package var flops: Int

    package init(bytes: Int, flops: Int = 0) {
        self.bytes = bytes
        self.flops = flops
    }

    /// `bytes` in float32 values: what `Engine.offloadMinimumElements` is compared with.
    package var values: Int { bytes / MemoryLayout<Float>.size }

    /// The work of two calls made one after the other.
    package static func + (a: OperationWork, b: OperationWork) -> OperationWork {
        OperationWork(bytes: a.bytes + b.bytes, flops: a.flops + b.flops)
    }

    /// Bytes of `count` float32 values.
    package static func floats(_ count: Int) -> Int { count * MemoryLayout<Float>.size }
    /// Bytes of `count` labels (64-bit integers, as the device reads them).
    package static func labels(_ count: Int) -> Int { count * MemoryLayout<Int64>.size }
}

/// The device buffers of one OpenCL call, by tensor name.
struct DeviceTensors {
    private let buffers: [String: OpenCLBuffer]

    init(_ buffers: [String: OpenCLBuffer]) { self.buffers = buffers }

    /// The buffer of the input or output `name`; a description asking for a tensor it did not
    /// declare is a programming error.
    subscript(_ name: String) -> OpenCLBuffer {
        guard let buffer = buffers[name] else { preconditionFailure("no device tensor named \(name)") }
        return buffer
    }

    /// The buffer of `name`, or nil when that optional tensor was not given.
    func optional(_ name: String) -> OpenCLBuffer? { buffers[name] }
}

/// What the CPU implementations share: the threads and the scratch memory of the engine.
struct CPUContext: Sendable {
    let threads: CPUThreads
    let scratch: ScratchPool
}

/// The outcome of `Engine.run(_:)`.
struct OperationRun<Result> {
    var result: Result
    /// The backend that computed it.
    var backend: Backend
    /// The outputs left on the device (`OperationOutput.Storage.device`), by name.
    var deviceOutputs: [String: OpenCLBuffer]
}
