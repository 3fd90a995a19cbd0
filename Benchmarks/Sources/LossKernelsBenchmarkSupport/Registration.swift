import Benchmark
import LossKernels

/// The rate a benchmark reports next to its time, as a custom metric (package-benchmark metrics are
/// integers, hence MB/s and MFLOP/s).
public enum BenchmarkRate: Sendable {
    /// `bytes` / time, for bandwidth-bound workloads (compare with the machine's memcpy rate).
    case bandwidth
    /// `flops` / time, for GEMM-bound workloads (compare with bare `sgemm`).
    case compute

    var metric: BenchmarkMetric {
        switch self {
        case .bandwidth: .custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)
        case .compute: .custom("MFLOP/s", polarity: .prefersLarger, useScalingFactor: false)
        }
    }
}

/// Registers `name (backend)`: its workload is made once in the benchmark's setup (not timed),
/// each iteration is one call, and the rate of the iteration's call is recorded next to wall clock,
/// throughput (calls/s) and peak resident memory. `baseline check` flags a time or rate more than
/// 25 % worse at the median (machines shared with other jobs swing by 10–20 %) and a peak-memory
/// growth beyond package-benchmark's default 5 %.
public func registerLossBenchmark(
    _ name: String, on backend: BenchmarkBackend, rate: BenchmarkRate, maxIterations: Int = 50,
    maxSeconds: Int = 5, make: @escaping (Engine) throws -> LossWorkload
) {
    let noisy = BenchmarkThresholds(relative: [.p50: 25])
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .peakMemoryResident, rate.metric],
        warmupIterations: 2,
        maxDuration: .seconds(maxSeconds),
        maxIterations: maxIterations,
        thresholds: [.wallClock: noisy, .throughput: noisy, rate.metric: noisy])
    let engine = backend.engine
    Benchmark("\(name) (\(backend.name))", configuration: configuration) { benchmark, workload in
        for _ in benchmark.scaledIterations {
            let clock = ContinuousClock()
            let start = clock.now
            do {
                try workload.run()
            } catch {
                benchmark.error("\(name) on \(backend.name) failed: \(error)")
                return
            }
            let seconds = (clock.now - start) / .seconds(1)
            let amount = rate == .bandwidth ? workload.bytes : workload.flops
            benchmark.measurement(rate.metric, Int(Double(amount) / seconds / 1e6))
        }
    } setup: {
        try make(engine)
    }
}
