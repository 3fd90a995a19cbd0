import Benchmark
import LossKernels
import LossKernelsBenchmarkSupport
import LossKernelsCatalog

/// One training step (loss, ∂L/∂X, ∂L/∂W) of the cosFace (s = 64, m = 0.35) and arcFace (s = 64,
/// m = 0.5) heads at B = 256, D = 512, C = 100,000 on the CPU path and on an OpenCL GPU; on an
/// OpenCL CPU device (PoCL, ≈ 5 GFLOP/s) at C = 10,000, so that the suite ends in minutes. The
/// workloads are the operation table's `margin-softmax`.
let benchmarks: @Sendable () -> Void = {
    for backend in BenchmarkBackend.availableOrStop() {
        let classes = backend.name == "cpu" || backend.isGPU ? 100_000 : 10_000
        let label = "B256 D512 C\(classes / 1000)k"
        for (name, head) in [("cosFace", "cosface"), ("arcFace", "arcface")] {
            registerLossBenchmark("\(name) step \(label)", on: backend, rate: .compute, maxIterations: 10, maxSeconds: 10) {
                try Workloads.make("margin-softmax", engine: $0, shape: BenchShape(batch: 256, classes: classes, dim: 512), options: ["head": .word(head)])
            }
        }
    }
}
