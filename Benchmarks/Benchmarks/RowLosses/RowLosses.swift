import Benchmark
import LossKernels
import LossKernelsBenchmarkSupport
import LossKernelsCatalog

/// softmax and cross-entropy over 256 × 100,000 logits, mse over 2^24 elements, triplet margin loss
/// over 256 × 128 embeddings, on the CPU path and (when present) OpenCL. Losses are timed with their
/// gradient: loss and gradient come from one call. The workloads are the operation table's.
let benchmarks: @Sendable () -> Void = {
    for backend in BenchmarkBackend.availableOrStop() {
        registerLossBenchmark("softmax B256 C100k", on: backend, rate: .bandwidth) {
            try Workloads.make("softmax", engine: $0, shape: BenchShape(batch: 256, classes: 100_000))
        }
        registerLossBenchmark("cross-entropy fwd+bwd B256 C100k", on: backend, rate: .bandwidth) {
            try Workloads.make("cross-entropy", engine: $0, shape: BenchShape(batch: 256, classes: 100_000))
        }
        registerLossBenchmark("mse fwd+bwd N16M", on: backend, rate: .bandwidth) {
            try Workloads.make("mse", engine: $0, shape: BenchShape(batch: 1, classes: 1, elements: 1 << 24))
        }
        registerLossBenchmark("triplet fwd+bwd B256 D128", on: backend, rate: .bandwidth, maxIterations: 1000) {
            try Workloads.make("triplet", engine: $0, shape: BenchShape(batch: 256, classes: 1, dim: 128))
        }
    }
}
