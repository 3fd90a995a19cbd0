import Benchmark
import LossKernels
import LossKernelsBenchmarkSupport

/// softmax and cross-entropy over 256 × 100,000 logits, mse over 2^24 elements, triplet margin loss
/// over 256 × 128 embeddings, on the CPU path and (when present) OpenCL. Losses are timed with their
/// gradient: loss and gradient come from one call.
let benchmarks: @Sendable () -> Void = {
    for backend in BenchmarkBackend.availableOrStop() {
        registerLossBenchmark("softmax B256 C100k", on: backend, rate: .bandwidth) { Workloads.softmax(engine: $0) }
        registerLossBenchmark("cross-entropy fwd+bwd B256 C100k", on: backend, rate: .bandwidth) { Workloads.crossEntropy(engine: $0) }
        registerLossBenchmark("mse fwd+bwd N16M", on: backend, rate: .bandwidth) { Workloads.mse(engine: $0) }
        registerLossBenchmark("triplet fwd+bwd B256 D128", on: backend, rate: .bandwidth, maxIterations: 1000) { try Workloads.triplet(engine: $0) }
    }
}
