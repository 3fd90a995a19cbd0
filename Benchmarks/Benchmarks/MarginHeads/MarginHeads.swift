import Benchmark
import LossKernels
import LossKernelsBenchmarkSupport

/// One training step (loss, ∂L/∂X, ∂L/∂W) of the cosFace (s = 64, m = 0.35) and arcFace (s = 64,
/// m = 0.5) heads at B = 256, D = 512, C = 100,000 on the CPU path and on an OpenCL GPU; on an
/// OpenCL CPU device (PoCL, ≈ 5 GFLOP/s) at C = 10,000, so that the suite ends in minutes.
let benchmarks: @Sendable () -> Void = {
    for backend in BenchmarkBackend.availableOrStop() {
        let classes = backend.name == "cpu" || backend.isGPU ? 100_000 : 10_000
        let label = "B256 D512 C\(classes / 1000)k"
        registerLossBenchmark("cosFace step \(label)", on: backend, rate: .compute, maxIterations: 10, maxSeconds: 10) {
            Workloads.marginStep(engine: $0, head: .cosFace(), classes: classes)
        }
        registerLossBenchmark("arcFace step \(label)", on: backend, rate: .compute, maxIterations: 10, maxSeconds: 10) {
            Workloads.marginStep(engine: $0, head: .arcFace(), classes: classes)
        }
    }
}
