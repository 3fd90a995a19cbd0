import LossKernels

/// One prepared benchmark problem: inputs made once from a seed, outputs allocated once and reused
/// by every call, as a training loop does. `bytes` counts each input read once and each output
/// written once, `flops` the GEMMs as 2·M·N·K (the conventions of `losskernels bench`).
public final class LossWorkload {
    /// What the workload moves at least: every input read once, every output written once.
    public let bytes: Int
    /// Floating-point operations of its GEMMs (0 for bandwidth-bound workloads).
    public let flops: Int
    private let body: () throws -> Backend

    init(bytes: Int, flops: Int, body: @escaping () throws -> Backend) {
        self.bytes = bytes
        self.flops = flops
        self.body = body
    }

    /// Performs one call and returns the backend that ran it.
    @discardableResult
    public func run() throws -> Backend { try body() }
}

/// Values uniform in [−scale, scale), from `random`.
func randomValues(_ count: Int, scale: Float, using random: inout SplitMix64) -> [Float] {
    let step = 2 * scale / Float(1 << 24)
    return (0..<count).map { _ in Float(random.next() >> 40) * step - scale }
}

/// Heap storage for a workload's arrays, so the timed closure touches no copy-on-write path.
final class Buffer {
    var values: [Float]
    init(_ values: [Float]) { self.values = values }
    init(zeros count: Int) { values = [Float](repeating: 0, count: count) }
}
