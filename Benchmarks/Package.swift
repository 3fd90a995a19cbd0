// swift-tools-version: 6.1
// Regression benchmarks of LossKernels with ordo-one/package-benchmark. A package of its own, so that
// users of the library never fetch the benchmark tooling:
//     cd Benchmarks && swift package benchmark
// No traits of the benchmark package: its default ones are "MallocInterposer" (malloc counters,
// which these suites do not report) and "RuntimeInterposer", which on Linux with Swift 6.3 pulls
// ordo-one/swift-runtime-interposer, a package this project's package mirror does not carry
// (resolution fails). Wall clock, throughput, peak resident memory and the MB/s or MFLOP/s custom
// metrics need neither.
import PackageDescription

let package = Package(
    name: "LossKernelsBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "LossKernels", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: []),
    ],
    targets: [
        // Workloads of the operation table (LossKernelsCatalog: inputs made once from a seed, outputs
        // reused) and the backends to run them on.
        .target(
            name: "LossKernelsBenchmarkSupport",
            dependencies: [
                .product(name: "LossKernels", package: "LossKernels"),
                .product(name: "LossKernelsCatalog", package: "LossKernels"),
                .product(name: "Benchmark", package: "benchmark"),
            ]
        ),
        // softmax, cross-entropy (loss + gradient), mse (loss + gradient), triplet margin loss.
        .executableTarget(
            name: "RowLosses",
            dependencies: [
                "LossKernelsBenchmarkSupport",
                .product(name: "LossKernelsCatalog", package: "LossKernels"),
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
                .product(name: "LossKernelsCatalog", package: "LossKernels"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/MarginHeads",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
