import Foundation
import LossKernels

/// A backend the suites run on: the CPU path always, OpenCL when a device is present.
public struct BenchmarkBackend: Sendable {
    /// `cpu` or `opencl`, the suffix of every benchmark name.
    public let name: String
    /// The engine pinned to this backend (an `opencl` engine throws instead of falling back).
    public let engine: Engine
    /// Whether the OpenCL device is a GPU (CPU devices such as PoCL are correctness targets and run
    /// the margin heads at a smaller class count).
    public let isGPU: Bool

    /// `available()`, for a suite's registration closure: a benchmark binary cannot go on without
    /// its CPU engine, so a failure to create one stops it with the reason.
    public static func availableOrStop() -> [BenchmarkBackend] {
        do {
            return try available()
        } catch {
            fatalError("cannot create an engine: \(error)")
        }
    }

    /// The CPU path, and the first OpenCL device when there is one. Without one the OpenCL
    /// benchmarks are skipped with one line on stderr; `LOSSKERNELS_BENCH_CPU_ONLY=1` skips them too.
    public static func available() throws -> [BenchmarkBackend] {
        var backends = [BenchmarkBackend(name: "cpu", engine: try Engine(policy: .cpu), isGPU: false)]
        if ProcessInfo.processInfo.environment["LOSSKERNELS_BENCH_CPU_ONLY"] == "1" { return backends }
        switch Engine.openCLDevices() {
        case .success(let devices) where !devices.isEmpty:
            let engine = try Engine(policy: .opencl)
            let device = devices[engine.openCLChoices().explicit ?? 0]
            backends.append(BenchmarkBackend(name: "opencl", engine: engine, isGPU: device.kind == .gpu))
        case .success:
            note("OpenCL benchmarks skipped: no OpenCL device")
        case .failure(let error):
            note("OpenCL benchmarks skipped: \(error)")
        }
        return backends
    }
}

/// One line on stderr (stdout belongs to the benchmark tool).
private func note(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
