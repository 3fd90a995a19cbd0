import LossKernels
import LossKernelsCatalog

/// The workloads of the suites, made from the operation table (`LossKernelsCatalog`) that
/// `losskernels bench` reads: the same inputs, the same library calls, the same bytes and FLOPs.
/// Shapes are those of the project's headline figures and of the PyTorch/JAX comparison in
/// `Benchmarks/peers` (README.md).
public enum Workloads {
    /// The table's operation `name` at `shape` with `options` (the flags `bench` takes, e.g.
    /// `["head": .word("arcface")]`): inputs made once from `seed`, outputs reused by every call.
    /// - Throws: for an unknown operation or an option the library refuses.
    public static func make(
        _ name: String, engine: Engine, shape: BenchShape, options: [String: OperationOptions.Value] = [:],
        seed: UInt64 = 42
    ) throws -> LossWorkload {
        guard let operation = Catalog.operation(named: name) else { throw UnknownOperation(name: name) }
        let inputs = operation.makeInputs(shape: shape, pass: operation.bench.defaultPass, seed: seed)
        let call = try operation.prepare(engine: engine, inputs: inputs, options: OperationOptions(options), shape: operation.benchShape(shape), seed: seed)
        let work = try call.runRecordingWork()
        return LossWorkload(bytes: work.bytes, flops: work.flops) { try call.run() }
    }

    /// An operation the table does not have.
    public struct UnknownOperation: Error, CustomStringConvertible {
        public let name: String
        public var description: String { "no operation \(name) in the table (losskernels operations lists them)" }
    }
}
