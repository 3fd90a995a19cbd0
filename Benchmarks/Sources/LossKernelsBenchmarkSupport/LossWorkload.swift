import LossKernels

/// One prepared benchmark problem: inputs made once from a seed, outputs allocated once and reused
/// by every call, as a training loop does. `bytes` and `flops` are those the library's own
/// descriptions state for the call (the conventions of `losskernels bench`).
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
