import Foundation
import LossKernels
import LossKernelsCatalog

/// One benchmark result: the JSON fields of docs/CLI.md, plus, only when set (absent from
/// the JSON otherwise), the ceiling it is compared with (`--vs-ceiling`) and, in a sweep, the
/// swept size and the time per unit of it.
struct BenchResult: Codable {
    var op: String
    var backend: String
    var device: String
    var pass: String
    /// Whether the data stayed on the OpenCL device (`--device-resident`): what was timed.
    var device_resident: Bool
    var batch: Int
    var classes: Int
    var dim: Int
    var elements: Int
    var iterations: Int
    var median_seconds: Double
    var min_seconds: Double
    var max_seconds: Double
    var bytes: Int
    var flops: Int
    var gb_per_second: Double
    var gflop_per_second: Double
    var peak_rss_bytes: Int
    /// `--vs-ceiling`: the ceiling measured in the same run.
    var ceiling: BenchCeiling? = nil
    /// `--vs-ceiling`: `gb_per_second` or `gflop_per_second` over the ceiling's value.
    var fraction_of_ceiling: Double? = nil
    /// `bench sweep`: the swept flag (`batch`, `classes`, `dim` or `elements`).
    var swept: String? = nil
    /// `bench sweep`: `median_seconds` divided by the swept size (time per class, per sample…).
    var seconds_per_unit: Double? = nil
    /// `train-step` only: rows per second (batch / median); absent for other operations.
    var samples_per_second: Double? = nil
    /// When profiling (`--profile`, `LOSSKERNELS_PROFILE=1`): each kernel's launches and device
    /// seconds over the timed runs, longest first.
    var kernels: [BenchKernelTime]? = nil
    /// When the call ran on OpenCL: launches, allocations, transfers and host waits per timed run.
    var opencl_per_call: BenchOpenCLCounters? = nil
    /// The shape of the operation's matrix products (B, D, C: train-step's C is the n sampled
    /// classes), for the SGEMM ceiling of `--vs-ceiling`; not part of the JSON.
    var gemmShape: BenchShape? = nil

    /// The JSON fields: every stored property except `gemmShape`.
    enum CodingKeys: String, CodingKey {
        case op, backend, device, pass, device_resident, batch, classes, dim, elements, iterations, median_seconds, min_seconds, max_seconds, bytes, flops
        case gb_per_second, gflop_per_second, peak_rss_bytes, ceiling, fraction_of_ceiling, swept, seconds_per_unit, samples_per_second
        case kernels, opencl_per_call
    }

    func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    func printTable() {
        let rows: [(String, String)] =
            [
                ("operation", "\(op) (\(pass))"),
                ("backend", "\(backend): \(device)" + (device_resident ? " (device-resident)" : "")),
                ("shape", "batch \(batch), classes \(classes), dim \(dim), elements \(elements)"),
                ("iterations", "\(iterations)"),
                ("median", String(format: "%.6f s (min %.6f, max %.6f)", median_seconds, min_seconds, max_seconds)),
                ("bytes", "\(bytes) (\(String(format: "%.2f", gb_per_second)) GB/s)"),
                ("flops", "\(flops) (\(String(format: "%.2f", gflop_per_second)) GFLOP/s)"),
                ("peak RSS", "\(peak_rss_bytes >> 20) MiB"),
            ] + (samples_per_second.map { [("samples/s", String(format: "%.0f", $0))] } ?? [])
            + (ceiling.map { c in
                [
                    ("ceiling", String(format: "%@ %.2f %@ (%@)", c.kind, c.value, c.unit, c.method)),
                    ("vs ceiling", String(format: "%.1f %%", 100 * (fraction_of_ceiling ?? 0))),
                ]
            } ?? [])
            + (opencl_per_call.map { c in
                [
                    (
                        "OpenCL per call",
                        String(
                            format: "%.1f launches, %.1f allocations, %.1f writes (%.0f bytes), %.1f reads (%.0f bytes), %.1f waits", c.launches,
                            c.allocations, c.writes, c.written_bytes, c.blocking_reads, c.read_bytes, c.synchronisations)
                    )
                ]
            } ?? [])
            + (kernels ?? []).prefix(8).map { k in
                (
                    "  " + k.name,
                    String(format: "%d launches, %.6f s (%.1f %%)", k.count, k.seconds, 100 * k.seconds / max(1e-12, median_seconds * Double(iterations)))
                )
            }
        let width = rows.map(\.0.count).max() ?? 0
        for (key, value) in rows { print(key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value) }
    }
}

/// The process's peak resident memory.
enum PeakMemory {
    static func residentBytes() -> Int {
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
        #else
        getrusage(RUSAGE_SELF, &usage)
        return usage.ru_maxrss
        #endif
    }
}

/// The ceiling a result is compared with, as it appears in the JSON:
/// `{"kind": "memcpy", "value": 28.1, "unit": "GB/s", "method": "…"}`.
struct BenchCeiling: Codable {
    var kind: String
    var value: Double
    var unit: String
    var method: String
}

/// One kernel's launches and device time over the timed runs (`kernels` in the JSON).
struct BenchKernelTime: Codable {
    var name: String
    var count: Int
    var seconds: Double

    init(_ kernel: OpenCLProfile.Kernel) {
        (name, count, seconds) = (kernel.name, kernel.count, kernel.seconds)
    }
}

/// The OpenCL device's counters per timed run (`opencl_per_call` in the JSON).
struct BenchOpenCLCounters: Codable {
    var launches: Double
    var allocations: Double
    var writes: Double
    var written_bytes: Double
    var blocking_reads: Double
    var read_bytes: Double
    var synchronisations: Double

    init(_ c: OpenCLCounters, calls: Int) {
        let n = Double(max(1, calls))
        launches = Double(c.launches) / n
        allocations = Double(c.allocations) / n
        writes = Double(c.writes) / n
        written_bytes = Double(c.writtenBytes) / n
        blocking_reads = Double(c.blockingReads) / n
        read_bytes = Double(c.readBytes) / n
        synchronisations = Double(c.synchronisations) / n
    }
}
