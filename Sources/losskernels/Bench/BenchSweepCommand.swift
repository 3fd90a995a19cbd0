import ArgumentParser
import Foundation
import LossKernels
import LossKernelsCatalog

/// `losskernels bench sweep <operation> --classes 1e3...1e7 [--batch 256] …`: one operation over
/// a list of sizes (see `SizeList`), to show how time grows with the work: per size the median,
/// the time per unit of the swept size (per class, per sample, per element, per dimension), GB/s
/// and GFLOP/s, and with `--vs-ceiling` the fraction of the ceiling.
///
/// Output: a table; `--json` prints one contract object per line (JSON Lines, one per size, with
/// the added fields `swept` and `seconds_per_unit`); `--csv` a header and one row per size.
/// Progress goes to stderr once the sweep has run for 2 s (a redrawn bar on a terminal, one line
/// per size otherwise); stdout stays clean.
struct BenchSweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Time one operation over a list of sizes: time per class, per sample, rates.",
        discussion: """
            Exactly one of --batch, --classes, --dim, --elements may list several sizes: \
            comma-separated integers (1,16,256,4096), powers of ten (1e6), decade ranges \
            (1e3...1e7 = 1000, 10000, …, 10^7) or ranges with a factor (1...4096*4). The other \
            flags keep one value (defaults as in bench). --json: one JSON object per line.
            """)

    @Argument(help: "The operation: \(Catalog.names.joined(separator: ", ")).")
    var operation: String

    @Option(name: .long, help: "Rows (B): one size or a list (default 256).") var batch: SizeList?
    @Option(name: .long, help: "Classes (C): one size or a list (default 100,000).") var classes: SizeList?
    @Option(name: .long, help: "Embedding width (D): one size or a list.") var dim: SizeList?
    @Option(name: .long, help: "Elements, for elementwise operations: one size or a list.") var elements: SizeList?
    @OptionGroup var timing: BenchTimingOptions
    @OptionGroup var output: BenchOutputOptions
    @OptionGroup var backendOptions: BackendOptions
    @OptionGroup(title: "Operation options") var options: OperationFlags
    @OptionGroup(title: "Training step (train-step)") var training: TrainingFlags

    var batchSizes: [Int] { batch?.values ?? [256] }
    var classSizes: [Int] { classes?.values ?? [100_000] }

    /// The swept flag and its sizes; when no flag lists several sizes, the single point of the
    /// first flag the operation uses among --classes, --elements, --batch, --dim.
    var sweep: (name: String, sizes: [Int]) {
        let lists = [("batch", batchSizes), ("classes", classSizes), ("dim", dim?.values ?? [0]), ("elements", elements?.values ?? [0])]
        if let several = lists.first(where: { $0.1.count > 1 }) { return several }
        let uses = (try? OperationUsage.operation(operation))?.bench.sizes ?? [.classes]
        for (flag, values) in [
            (BenchSpec.SizeFlag.classes, classSizes), (.elements, elements?.values ?? [0]), (.batch, batchSizes), (.dim, dim?.values ?? [0]),
        ]
        where uses.contains(flag) {
            return (flag.rawValue, values)
        }
        return ("classes", classSizes)
    }

    func validate() throws {
        let lists: [(BenchSpec.SizeFlag, [Int])] = [
            (.batch, batchSizes), (.classes, classSizes), (.dim, dim?.values ?? []), (.elements, elements?.values ?? []),
        ]
        let several = lists.filter { $0.1.count > 1 }
        guard several.count <= 1 else { throw ValidationError("only one of --batch, --classes, --dim, --elements may list several sizes") }
        let entry = try OperationUsage.operation(operation)
        if let swept = several.first?.0, !entry.bench.sizes.contains(swept) {
            throw ValidationError(
                "\(operation) does not use --\(swept.rawValue): sweep one of \(entry.bench.sizes.map { "--" + $0.rawValue }.sorted().joined(separator: ", "))")
        }
        for size in sweep.sizes { try BenchShape.validate(shape(size)) }
        try timing.validate(entry, options: options.given.merging(training.given), backend: backendOptions.backend)
        try output.validate()
    }

    /// The shape of the point where the swept flag is `size`.
    func shape(_ size: Int) -> BenchShape {
        var shape = BenchShape(batch: batchSizes[0], classes: classSizes[0], dim: dim?.values[0] ?? 0, elements: elements?.values[0] ?? 0)
        switch sweep.name {
        case "batch": shape.batch = size
        case "dim": shape.dim = size
        case "elements": shape.elements = size
        default: shape.classes = size
        }
        return shape
    }

    /// The size flags given.
    var givenSizes: Set<BenchSpec.SizeFlag> {
        Set([(BenchSpec.SizeFlag.batch, batch != nil), (.classes, classes != nil), (.dim, dim != nil), (.elements, elements != nil)].filter(\.1).map(\.0))
    }

    func run() throws {
        let entry = try OperationUsage.operation(operation)
        BenchShape.warnAboutUnused(entry, givenSizes)
        let engine = try backendOptions.makeEngine(profile: timing.profile)
        let (name, sizes) = sweep
        let comparison = BenchCeilingComparison()
        let progress = ProgressBar(total: sizes.count, label: "\(operation) \(name)", delay: 2, linesWhenPiped: true)
        var results: [BenchResult] = []
        if output.csv { print(BenchCSV.header(ceiling: output.vsCeiling, sweep: true)) }
        for (index, size) in sizes.enumerated() {
            let shape = shape(size)
            var result = try BenchMeasurement.measure(entry, shape: shape, engine: engine, timing: timing, options: options.given.merging(training.given))
            if output.vsCeiling {
                try comparison.annotate(&result, operation: entry, engine: engine, deviceResident: timing.deviceResident)
            }
            result.swept = name
            let unit = name == "elements" ? result.elements : name == "dim" ? result.dim : name == "batch" ? result.batch : result.classes
            result.seconds_per_unit = result.median_seconds / Double(max(1, unit))
            results.append(result)
            if output.json { print(result.jsonLine()) }
            if output.csv { print(BenchCSV.row(result, ceiling: output.vsCeiling, sweep: true)) }
            progress.update(index + 1, detail: "\(name) \(size)")
        }
        progress.finish()
        if !output.json && !output.csv { printTable(results, name: name) }
    }

    func printTable(_ results: [BenchResult], name: String) {
        guard let first = results.first else { return }
        let unit = ["batch": "sample", "classes": "class", "dim": "dimension", "elements": "element"][name] ?? name
        print("\(first.op) (\(first.pass)) on \(first.backend): \(first.device); sweeping --\(name)")
        var header = [name, "median s", "s per \(unit)", "GB/s", "GFLOP/s"]
        if output.vsCeiling { header += ["of ceiling", "ceiling"] }
        var rows = [header]
        for r in results {
            let size = name == "batch" ? r.batch : name == "dim" ? r.dim : name == "elements" ? r.elements : r.classes
            var row = [
                "\(size)", String(format: "%.6f", r.median_seconds), String(format: "%.3e", r.seconds_per_unit ?? 0),
                String(format: "%.2f", r.gb_per_second), String(format: "%.2f", r.gflop_per_second),
            ]
            if let c = r.ceiling {
                row += [String(format: "%.1f %%", 100 * (r.fraction_of_ceiling ?? 0)), String(format: "%@ %.2f %@", c.kind, c.value, c.unit)]
            }
            rows.append(row)
        }
        TextTable.print(rows)
    }
}
