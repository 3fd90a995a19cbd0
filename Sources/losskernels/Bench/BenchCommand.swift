import ArgumentParser
import Foundation
import LossKernels
import LossKernelsCatalog

/// `losskernels bench`: `bench <operation>` (docs/CLI.md) times one operation;
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

}

/// `losskernels bench [run] <operation> [shape] [--backend B] [--warmup N] [--iterations N] [--json]`:
/// times one operation on random data made in-process from `--seed` (docs/CLI.md).
struct BenchRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Time one operation on random data and report time, bytes, FLOPs and rates.",
        discussion: """
            Operations: \(Catalog.names.joined(separator: ", ")) (`losskernels operations` lists their \
            inputs, options and sizes). Each takes the options `compute` takes; a flag it does not use \
            is refused (exit 2), and a size flag it does not use is named on stderr. Default --pass: \
            forward for softmax, log-softmax and logsumexp (they are not losses); --pass both adds the \
            backward pass; a loss computes both in one call and takes only both. bytes counts each \
            tensor read once and written once (a forward output read back by the backward counts \
            again), from the library's description of each call; flops the matrix products as 2·M·N·K. \
            --vs-ceiling also measures the relevant ceiling in the same run (CPU: memcpy, or SGEMM at \
            the operation's shape for margin-softmax, triplet-mined and train-step; OpenCL: the \
            device's copy or SGEMM rate, or its host↔device rate without --device-resident) and prints \
            the result as a fraction of it.
            """)

    @Argument(help: "The operation.")
    var operation: String

    @Option(name: .long, help: "Rows (B).") var batch: Int?
    @Option(name: .long, help: "Classes (C).") var classes: Int?
    @Option(name: .long, help: "Embedding width (D), for operations that have one.") var dim: Int?
    @Option(name: .long, help: "Elements, for elementwise operations.") var elements: Int?
    @OptionGroup var timing: BenchTimingOptions
    @OptionGroup var output: BenchOutputOptions
    @OptionGroup var backendOptions: BackendOptions
    @OptionGroup(title: "Operation options") var options: OperationFlags
    @OptionGroup(title: "Training step (train-step)") var training: TrainingFlags

    var shape: BenchShape { BenchShape(batch: batch ?? 256, classes: classes ?? 100_000, dim: dim ?? 0, elements: elements ?? 0) }

    /// The size flags given.
    var givenSizes: Set<BenchSpec.SizeFlag> {
        Set([(BenchSpec.SizeFlag.batch, batch), (.classes, classes), (.dim, dim), (.elements, elements)].compactMap { $0.1 == nil ? nil : $0.0 })
    }

    func validate() throws {
        let entry = try OperationUsage.operation(operation)
        try BenchShape.validate(shape)
        try timing.validate(entry, options: options.given.merging(training.given), backend: backendOptions.backend)
        try output.validate()
    }

    func run() throws {
        let entry = try OperationUsage.operation(operation)
        BenchShape.warnAboutUnused(entry, givenSizes)
        let engine = try backendOptions.makeEngine(profile: timing.profile)
        var result = try BenchMeasurement.measure(entry, shape: shape, engine: engine, timing: timing, options: options.given.merging(training.given))
        if output.vsCeiling {
            try BenchCeilingComparison().annotate(&result, operation: entry, engine: engine, deviceResident: timing.deviceResident)
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
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Keep warming up until this many seconds have passed (default 0.25 without --warmup, 0 with it).",
            discussion:
                "Small operations run 3-4x slower for their first hundred or so calls in a process (cold caches, the second thread waking), so a fixed count of warm-up runs misreports them."
        ))
    var warmupSeconds: Double?

    /// At least this many untimed runs…
    var warmupRuns: Int { warmup ?? 3 }
    /// …and untimed runs until this much time has passed.
    var warmupDuration: Double { warmupSeconds ?? (warmup == nil ? 0.25 : 0) }
    @Option(name: .long, help: "Timed runs.") var iterations: Int = 20
    @Option(name: .long, help: "Seed of the random inputs.") var seed: UInt64 = 42

    @Option(name: .long, help: "forward or both (forward + backward).") var pass: CatalogOperation.Pass?
    @Flag(
        name: .long,
        help:
            "Keep inputs and outputs on the OpenCL device (time excludes transfers): softmax, log-softmax (forward, both), logsumexp (forward), cross-entropy and focal (the logits), margin-softmax (the class weights)."
    )
    var deviceResident = false
    @Flag(
        name: .long,
        help: ArgumentHelp(
            "Time every OpenCL kernel of the timed runs (as LOSSKERNELS_PROFILE=1): adds kernels and opencl_per_call to the result.",
            discussion: "Kernel times come from OpenCL's event timestamps; the device's queue is drained after each timed run."))
    var profile = false

    /// Checks the timing flags, and the operation's flags against its row of the table (exit 2).
    func validate(_ operation: CatalogOperation, options: OperationOptions, backend: BackendPolicy?) throws {
        try OperationUsage.check(operation, options: options, tensors: [], requireInputs: false)
        let chosen = pass ?? operation.bench.defaultPass
        if !operation.bench.passes.contains(chosen) {
            if operation.name == "train-step" {
                throw ValidationError("train-step times a whole training step (forward, backward and the update); --pass forward does not apply")
            }
            throw ValidationError("\(operation.name) computes the loss and its gradient in one call: --pass \(chosen.rawValue) does not apply (only both)")
        }
        guard warmupRuns >= 0 else { throw ValidationError("--warmup must not be negative, got \(warmupRuns)") }
        guard warmupDuration >= 0, warmupDuration.isFinite else {
            throw ValidationError("--warmup-seconds must be a non-negative number, got \(warmupDuration)")
        }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1, got \(iterations)") }
        if deviceResident {
            if backend == .cpu { throw ValidationError("--device-resident needs --backend opencl or auto") }
            if !operation.deviceResidentPasses.contains(chosen) {
                let supported = Catalog.operations.filter { !$0.deviceResidentPasses.isEmpty }
                    .map { "\($0.name) (\($0.deviceResidentPasses.map(\.rawValue).sorted().joined(separator: ", ")))" }
                throw ValidationError(
                    "bench \(operation.name) --pass \(chosen.rawValue) --device-resident is not supported; device-resident: \(supported.joined(separator: ", "))"
                )
            }
        }
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

extension CatalogOperation.Pass: ExpressibleByArgument {}

extension BenchShape {
    /// Refuses sizes the benchmarks cannot allocate (exit 2).
    static func validate(_ shape: BenchShape) throws {
        guard shape.batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(shape.batch)") }
        guard shape.classes >= 1 else { throw ValidationError("--classes must be at least 1, got \(shape.classes)") }
        guard shape.dim >= 0, shape.elements >= 0 else { throw ValidationError("--dim and --elements must not be negative") }
        let (count, overflow) = shape.batch.multipliedReportingOverflow(by: shape.classes)
        guard !overflow, count <= 1 << 33 else { throw ValidationError("--batch × --classes = \(shape.batch) × \(shape.classes) is too large") }
    }

    /// Names on stderr the size flags given that `operation` does not use (they change nothing).
    static func warnAboutUnused(_ operation: CatalogOperation, _ given: Set<BenchSpec.SizeFlag>) {
        let unused = given.subtracting(operation.bench.sizes).map { "--" + $0.rawValue }.sorted()
        guard !unused.isEmpty else { return }
        FileHandle.standardError.write(
            Data(
                "losskernels: note: \(operation.name) does not use \(unused.joined(separator: ", ")) (it sizes itself by \(operation.bench.sizes.map { "--" + $0.rawValue }.sorted().joined(separator: ", ")))\n"
                    .utf8))
    }
}

/// Runs one prepared benchmark: warm-up, timed iterations, the contract's result.
enum BenchMeasurement {
    static func measure(
        _ operation: CatalogOperation, shape requested: BenchShape, engine: Engine, timing: BenchTimingOptions,
        options: OperationOptions
    ) throws -> BenchResult {
        let shape = operation.benchShape(requested)
        let chosenPass = timing.pass ?? operation.bench.defaultPass
        let inputs = operation.makeInputs(shape: shape, pass: chosenPass, seed: timing.seed)
        let call = try operation.prepare(
            engine: engine, inputs: inputs, options: options, deviceResident: timing.deviceResident, shape: shape, seed: timing.seed)
        // The first warm-up run records the work the library's descriptions state for the calls.
        let work = try call.runRecordingWork()
        var backend = work.backend
        // Device-resident calls return once their work is queued: time them to its end.
        let run = { () throws -> Backend in
            let backend = try call.run()
            if timing.deviceResident || timing.profile { try engine.synchronize() }
            return backend
        }
        // Warm up for --warmup runs and at least --warmup-seconds (bounded at 100,000 runs).
        let warmupStart = DispatchTime.now().uptimeNanoseconds
        var warmupRuns = 1
        while warmupRuns < timing.warmupRuns
            || (warmupRuns < 100_000 && Double(DispatchTime.now().uptimeNanoseconds - warmupStart) / 1e9 < timing.warmupDuration)
        {
            backend = try run()
            warmupRuns += 1
        }
        engine.resetOpenCLProfile()
        var times: [Double] = []
        for _ in 0..<timing.iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            backend = try run()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let profile = engine.openCLProfile().first { $0.counters.launches > 0 }
        times.sort()
        let median = times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
        let device: String
        if backend == .opencl, let info = engine.selectedOpenCLDevice {
            device = info.name
        } else {
            device = "CPU (\(engine.cpuThreads) threads, \(Engine.cpuInstructionSet))"
        }
        let elements = call.gemmShape.map { $0.batch * $0.classes } ?? inputs[operation.tensors[0].flag]?.count ?? 0
        return BenchResult(
            op: operation.name, backend: backend.rawValue, device: device, pass: chosenPass.rawValue, device_resident: timing.deviceResident,
            batch: shape.batch, classes: shape.classes, dim: shape.dim, elements: elements, iterations: timing.iterations,
            median_seconds: median, min_seconds: times.first!, max_seconds: times.last!,
            bytes: work.bytes, flops: work.flops,
            gb_per_second: Double(work.bytes) / median / 1e9, gflop_per_second: Double(work.flops) / median / 1e9,
            peak_rss_bytes: PeakMemory.residentBytes(),
            samples_per_second: operation.name == "train-step" ? Double(shape.batch) / median : nil,
            kernels: profile.flatMap { $0.profiling ? $0.kernels.map { BenchKernelTime($0) } : nil },
            opencl_per_call: profile.map { BenchOpenCLCounters($0.counters, calls: timing.iterations) },
            gemmShape: call.gemmShape.map { BenchShape(batch: $0.batch, classes: $0.classes, dim: $0.dim) })
    }
}
