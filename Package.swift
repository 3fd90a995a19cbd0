// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "LossKernels",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "LossKernels", targets: ["LossKernels"]),
        .executable(name: "losskernels", targets: ["losskernels"]),
        // The operation table of the CLI and the benchmarks: tensors, options, workloads, references.
        .library(name: "LossKernelsCatalog", targets: ["LossKernelsCatalog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // Only for `swift package generate-documentation` (a command plugin): no target uses it, so
        // neither this package nor a package depending on it builds anything of it otherwise.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // Loads the OpenCL ICD loader at run time and carries the kernels of Kernels/*.cl.
        .target(
            name: "_COpenCLShim",
            path: "Sources/_COpenCLShim",
            cSettings: [.define("CL_TARGET_OPENCL_VERSION", to: "120")],
            linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]
        ),
        // CBLAS from OpenBLAS for the CPU path's matrix products (apt: libopenblas-dev).
        .systemLibrary(name: "_CBLAS", path: "Sources/_CBLAS", providers: [.apt(["libopenblas-dev"])]),
        // x86-64 microkernels (AVX2+FMA chosen at run time, non-temporal stores): see NOTES.md.
        .target(name: "_CMicrokernels", path: "Sources/_CMicrokernels"),
        .target(
            name: "LossKernels",
            dependencies: [
                "_COpenCLShim", "_CMicrokernels", "_CBLAS",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The float64 references of every operation, written from docs/OPERATIONS.md: used by the
        // tests and by `losskernels verify` (package access, no product).
        .target(name: "LossKernelsReference", dependencies: ["LossKernels"]),
        // One table of the operations that `compute`, `bench`, `bench sweep`, `verify`, the
        // package-benchmark suites (Benchmarks/) and the peer comparison read.
        .target(name: "LossKernelsCatalog", dependencies: ["LossKernels", "LossKernelsReference"]),
        .executableTarget(
            name: "losskernels",
            dependencies: [
                "LossKernels", "LossKernelsReference", "LossKernelsCatalog",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "LossKernelsTests",
            dependencies: ["LossKernels", "LossKernelsReference", "LossKernelsCatalog", "losskernels"]
        ),
    ],
    swiftLanguageModes: [.v6],
    cLanguageStandard: .gnu2x
)
