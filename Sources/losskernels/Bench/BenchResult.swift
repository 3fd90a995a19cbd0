import Foundation

/// One benchmark result with exactly the JSON fields of shared/spec/CLI.md.
struct BenchResult: Codable {
    var op: String
    var backend: String
    var device: String
    var pass: String
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
    /// `train-step` only: rows per second (batch / median); absent for other operations.
    var samples_per_second: Double? = nil

    func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    func printTable() {
        let rows: [(String, String)] = [
            ("operation", "\(op) (\(pass))"),
            ("backend", "\(backend): \(device)"),
            ("shape", "batch \(batch), classes \(classes), dim \(dim), elements \(elements)"),
            ("iterations", "\(iterations)"),
            ("median", String(format: "%.6f s (min %.6f, max %.6f)", median_seconds, min_seconds, max_seconds)),
            ("bytes", "\(bytes) (\(String(format: "%.2f", gb_per_second)) GB/s)"),
            ("flops", "\(flops) (\(String(format: "%.2f", gflop_per_second)) GFLOP/s)"),
            ("peak RSS", "\(peak_rss_bytes >> 20) MiB"),
        ] + (samples_per_second.map { [("samples/s", String(format: "%.0f", $0))] } ?? [])
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
