import ArgumentParser
import Foundation
import LossKernels

/// `losskernels bench`: `bench <operation>` (shared/spec/CLI.md) times one operation;
/// `bench ceilings` measures this machine's ceilings; `bench sweep <operation>` times one
/// operation over a list of sizes.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time operations on random data, measure the machine's ceilings, sweep sizes.",
        discussion: """
            bench <operation> [shape] times one operation (the subcommand `run` is the default, so \
            `bench softmax` = `bench run softmax`). bench ceilings measures memcpy, OpenBLAS SGEMM \
            and each OpenCL device's copy, SGEMM and transfer rates. bench sweep <operation> \
            --classes 1e3...1e6 times one operation over sizes.
            """,
        subcommands: [BenchRunCommand.self, BenchCeilingsCommand.self, BenchSweepCommand.self],
        defaultSubcommand: BenchRunCommand.self)

    /// What is timed: the forward pass only, or forward and backward together.
    enum Pass: String, ExpressibleByArgument, CaseIterable {
        case forward, both
    }
}

/// `losskernels bench [run] <operation> [shape] [--backend B] [--warmup N] [--iterations N] [--json]`:
/// times one operation on random data made in-process from `--seed` (shared/spec/CLI.md).
struct BenchRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Time one operation on random data and report time, bytes, FLOPs and rates.",
        discussion: """
            Default --pass: forward for softmax, log-softmax and logsumexp (they are not losses); \
            --pass both adds the backward pass. bytes counts each input read once and each output \
            written once. --vs-ceiling also measures the relevant ceiling in the same run (CPU: \
            memcpy, or SGEMM at the operation's shape for margin-softmax and triplet-mined; OpenCL: \
            the device's copy or SGEMM rate, or its host↔device rate without --device-resident) \
            and prints the result as a fraction of it.
            """)

    @Argument(help: "The operation: \(BenchOperation.allCases.map(\.rawValue).joined(separator: ", ")).")
    var operation: BenchOperation

    @Option(name: .long, help: "Rows (B).") var batch: Int = 256
    @Option(name: .long, help: "Classes (C).") var classes: Int = 100_000
    @Option(name: .long, help: "Embedding width (D), for operations that have one.") var dim: Int = 0
    @Option(name: .long, help: "Elements, for elementwise operations.") var elements: Int = 0
    @OptionGroup var timing: BenchTimingOptions
    @OptionGroup var output: BenchOutputOptions
    @OptionGroup var backendOptions: BackendOptions
    @OptionGroup var headOptions: HeadOptions
    @OptionGroup var trainingOptions: TrainingOptions

    func validate() throws {
        try BenchShape.validate(batch: batch, classes: classes, dim: dim, elements: elements)
        try timing.validate(operation: operation, backend: backendOptions.backend)
        try output.validate()
    }

    func run() throws {
        let engine = try backendOptions.makeEngine()
        let shape = BenchShape(batch: batch, classes: classes, dim: dim, elements: elements)
        var result = try BenchMeasurement.measure(operation, shape: shape, engine: engine, timing: timing, head: headOptions, training: trainingOptions)
        if output.vsCeiling {
            try BenchCeilingComparison().annotate(&result, operation: operation, shape: shape, engine: engine, deviceResident: timing.deviceResident)
        }
        if output.json {
            print(result.jsonLine())
        } else if output.csv {
            print(BenchCSV.header(ceiling: output.vsCeiling, sweep: false))
            print(BenchCSV.row(result, ceiling: output.vsCeiling, sweep: false))
        } else {
            result.printTable()
        }
    }
}

/// The timing flags shared by `bench` and `bench sweep`.
struct BenchTimingOptions: ParsableArguments {
    @Option(name: .long, help: "Untimed runs first (default: 3, and more until --warmup-seconds have passed).")
    var warmup: Int?
    @Option(name: .long, help: ArgumentHelp("Keep warming up until this many seconds have passed (default 0.25 without --warmup, 0 with it).",
                                            discussion: "Small operations run 3-4x slower for their first hundred or so calls in a process (cold caches, the second thread waking), so a fixed count of warm-up runs misreports them."))
    var warmupSeconds: Double?

    /// At least this many untimed runs…
    var warmupRuns: Int { warmup ?? 3 }
    /// …and untimed runs until this much time has passed.
    var warmupDuration: Double { warmupSeconds ?? (warmup == nil ? 0.25 : 0) }
    @Option(name: .long, help: "Timed runs.") var iterations: Int = 20
    @Option(name: .long, help: "Seed of the random inputs.") var seed: UInt64 = 42
    @Option(name: .long, help: "forward or both (forward + backward).") var pass: BenchCommand.Pass?
    @Flag(name: .long, help: "Keep inputs and outputs on the OpenCL device (time excludes transfers).") var deviceResident = false

    func validate(operation: BenchOperation, backend: BackendPolicy?) throws {
        if operation == .trainStep && pass == .forward {
            throw ValidationError("train-step times a whole training step (forward, backward and the update); --pass forward does not apply")
        }
        guard warmupRuns >= 0 else { throw ValidationError("--warmup must not be negative, got \(warmupRuns)") }
        guard warmupDuration >= 0, warmupDuration.isFinite else { throw ValidationError("--warmup-seconds must be a non-negative number, got \(warmupDuration)") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1, got \(iterations)") }
        if deviceResident && backend == .cpu { throw ValidationError("--device-resident needs --backend opencl or auto") }
    }
}

/// The output flags shared by `bench` and `bench sweep`: JSON, CSV, fraction of the ceiling.
struct BenchOutputOptions: ParsableArguments {
    @Flag(name: .long, help: "JSON on stdout: one object (bench) or one object per line (sweep).") var json = false
    @Flag(name: .long, help: "CSV on stdout: a header, then one row per result.") var csv = false
    @Flag(name: .long, help: "Measure the relevant ceiling in the same run and report the fraction of it.") var vsCeiling = false

    func validate() throws {
        if json && csv { throw ValidationError("--json and --csv exclude each other") }
    }
}

extension BenchShape {
    /// Refuses sizes the benchmarks cannot allocate (exit 2).
    static func validate(batch: Int, classes: Int, dim: Int, elements: Int) throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard classes >= 1 else { throw ValidationError("--classes must be at least 1, got \(classes)") }
        guard dim >= 0, elements >= 0 else { throw ValidationError("--dim and --elements must not be negative") }
        let (count, overflow) = batch.multipliedReportingOverflow(by: classes)
        guard !overflow, count <= 1 << 33 else { throw ValidationError("--batch × --classes = \(batch) × \(classes) is too large") }
    }
}

/// Runs one prepared benchmark: warm-up, timed iterations, the contract's result.
enum BenchMeasurement {
    static func measure(_ operation: BenchOperation, shape requested: BenchShape, engine: Engine, timing: BenchTimingOptions, head: HeadOptions,
                        training: TrainingOptions) throws -> BenchResult {
        var shape = requested
        if shape.dim == 0 { shape.dim = operation.defaultDim }
        let chosenPass = timing.pass ?? operation.defaultPass
        let workload = try operation.makeWorkload(engine: engine, shape: shape, pass: chosenPass, seed: timing.seed, deviceResident: timing.deviceResident, head: head,
                                                   training: training)
        var backend = Backend.cpu
        // Warm up for --warmup runs and at least --warmup-seconds (bounded at 100,000 runs).
        let warmupStart = DispatchTime.now().uptimeNanoseconds
        var warmupRuns = 0
        while warmupRuns < timing.warmupRuns
                || (warmupRuns < 100_000 && Double(DispatchTime.now().uptimeNanoseconds - warmupStart) / 1e9 < timing.warmupDuration) {
            backend = try workload.run()
            warmupRuns += 1
        }
        var times: [Double] = []
        for _ in 0..<timing.iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            backend = try workload.run()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        times.sort()
        let median = times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
        let device: String
        if backend == .opencl, let info = engine.plannedDevice(elements: Int.max) {
            device = info.name
        } else {
            device = "CPU (\(engine.cpuThreads) threads, \(Engine.cpuInstructionSet))"
        }
        return BenchResult(
            op: operation.rawValue, backend: backend.rawValue, device: device, pass: chosenPass.rawValue,
            batch: shape.batch, classes: shape.classes, dim: shape.dim, elements: workload.elements, iterations: timing.iterations,
            median_seconds: median, min_seconds: times.first!, max_seconds: times.last!,
            bytes: workload.bytes, flops: workload.flops,
            gb_per_second: Double(workload.bytes) / median / 1e9, gflop_per_second: Double(workload.flops) / median / 1e9,
            peak_rss_bytes: PeakMemory.residentBytes(),
            samples_per_second: operation == .trainStep ? Double(shape.batch) / median : nil,
            gemmClasses: workload.gemmClasses)
    }
}
