import Foundation
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
    /// The shape of the operation's matrix products (B, D, C: train-step's C is the n sampled
    /// classes), for the SGEMM ceiling of `--vs-ceiling`; not part of the JSON.
    var gemmShape: BenchShape? = nil

    /// The JSON fields: every stored property except `gemmShape`.
    enum CodingKeys: String, CodingKey {
        case op, backend, device, pass, device_resident, batch, classes, dim, elements, iterations, median_seconds, min_seconds, max_seconds, bytes, flops
        case gb_per_second, gflop_per_second, peak_rss_bytes, ceiling, fraction_of_ceiling, swept, seconds_per_unit, samples_per_second
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
