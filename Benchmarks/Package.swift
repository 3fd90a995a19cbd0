// swift-tools-version: 6.1
// Regression benchmarks of LossKernels with ordo-one/package-benchmark. A package of its own, so that
// users of the library never fetch the benchmark tooling:
//     cd Benchmarks && swift package benchmark
// The benchmark package's "MallocInterposer" trait (its malloc counters) is the only one enabled:
// its "RuntimeInterposer" default trait would pull ordo-one/swift-runtime-interposer, which this
// project's package mirror does not carry, and the kernels' allocations are not what is tracked here.
import PackageDescription

let package = Package(
    name: "LossKernelsBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "LossKernels", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Workloads (inputs made once from a seed, outputs reused) and the backends to run them on.
        .target(
            name: "LossKernelsBenchmarkSupport",
            dependencies: [
                .product(name: "LossKernels", package: "LossKernels"),
                .product(name: "Benchmark", package: "benchmark"),
            ]
        ),
        // softmax, cross-entropy (loss + gradient), mse (loss + gradient), triplet margin loss.
        .executableTarget(
            name: "RowLosses",
            dependencies: [
                "LossKernelsBenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/RowLosses",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // One training step of the cosFace and arcFace heads: loss, ∂L/∂X and ∂L/∂W.
        .executableTarget(
            name: "MarginHeads",
            dependencies: [
                "LossKernelsBenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/MarginHeads",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
