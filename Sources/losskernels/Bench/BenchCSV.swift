import Foundation

/// `--csv` output of `bench` and `bench sweep`: a header, then one row per result, with the
/// contract's fields in the order of docs/CLI.md (device_resident last), then (with `--vs-ceiling`) ceiling_kind,
/// ceiling_value, ceiling_unit, fraction_of_ceiling, then (sweep) swept, seconds_per_unit.
/// Fields holding a comma or a quote are quoted (RFC 4180).
enum BenchCSV {
    static let contractColumns = [
        "op", "backend", "device", "pass", "batch", "classes", "dim", "elements", "iterations",
        "median_seconds", "min_seconds", "max_seconds", "bytes", "flops", "gb_per_second", "gflop_per_second", "peak_rss_bytes", "device_resident",
    ]

    static func header(ceiling: Bool, sweep: Bool) -> String {
        (contractColumns + (ceiling ? ["ceiling_kind", "ceiling_value", "ceiling_unit", "fraction_of_ceiling"] : [])
            + (sweep ? ["swept", "seconds_per_unit"] : [])).joined(separator: ",")
    }

    static func row(_ r: BenchResult, ceiling: Bool, sweep: Bool) -> String {
        var fields: [String] = [
            r.op, r.backend, r.device, r.pass, "\(r.batch)", "\(r.classes)", "\(r.dim)", "\(r.elements)", "\(r.iterations)",
            "\(r.median_seconds)", "\(r.min_seconds)", "\(r.max_seconds)", "\(r.bytes)", "\(r.flops)", "\(r.gb_per_second)",
            "\(r.gflop_per_second)", "\(r.peak_rss_bytes)", "\(r.device_resident)",
        ]
        if ceiling {
            fields += [r.ceiling?.kind ?? "", r.ceiling.map { "\($0.value)" } ?? "", r.ceiling?.unit ?? "", r.fraction_of_ceiling.map { "\($0)" } ?? ""]
        }
        if sweep { fields += [r.swept ?? "", r.seconds_per_unit.map { "\($0)" } ?? ""] }
        return fields.map(quoted).joined(separator: ",")
    }

    static func quoted(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
