import ArgumentParser
import Foundation
import LossKernels

/// `losskernels bench <operation> [shape] [--backend B] [--warmup N] [--iterations N] [--json]`:
/// times one operation on random data made in-process from `--seed` (shared/spec/CLI.md).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time one operation on random data and report time, bytes, FLOPs and rates.",
        discussion: """
            Default --pass: forward for softmax, log-softmax and logsumexp (they are not losses); \
            --pass both adds the backward pass. bytes counts each input read once and each output \
            written once.
            """)

    enum Pass: String, ExpressibleByArgument, CaseIterable {
        case forward, both
    }

    @Argument(help: "The operation: \(BenchOperation.allCases.map(\.rawValue).joined(separator: ", ")).")
    var operation: BenchOperation

    @Option(name: .long, help: "Rows (B).") var batch: Int = 256
    @Option(name: .long, help: "Classes (C).") var classes: Int = 100_000
    @Option(name: .long, help: "Embedding width (D), for operations that have one.") var dim: Int = 0
    @Option(name: .long, help: "Elements, for elementwise operations.") var elements: Int = 0
    @Option(name: .long, help: "Untimed runs first.") var warmup: Int = 3
    @Option(name: .long, help: "Timed runs.") var iterations: Int = 20
    @Option(name: .long, help: "Seed of the random inputs.") var seed: UInt64 = 42
    @Option(name: .long, help: "forward or both (forward + backward).") var pass: Pass?
    @Flag(name: .long, help: "Keep inputs and outputs on the OpenCL device (time excludes transfers).") var deviceResident = false
    @Flag(name: .long, help: "Print exactly one JSON object on stdout.") var json = false
    @OptionGroup var backendOptions: BackendOptions
    @OptionGroup var headOptions: HeadOptions
    @OptionGroup var trainingOptions: TrainingOptions

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard classes >= 1 else { throw ValidationError("--classes must be at least 1, got \(classes)") }
        guard dim >= 0, elements >= 0 else { throw ValidationError("--dim and --elements must not be negative") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative, got \(warmup)") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1, got \(iterations)") }
        let (count, overflow) = batch.multipliedReportingOverflow(by: classes)
        guard !overflow, count <= 1 << 33 else { throw ValidationError("--batch × --classes = \(batch) × \(classes) is too large") }
        if deviceResident && backendOptions.backend == .cpu { throw ValidationError("--device-resident needs --backend opencl or auto") }
    }

    func run() throws {
        let engine = try backendOptions.makeEngine()
        let shape = BenchShape(batch: batch, classes: classes, dim: [.marginSoftmax, .trainStep].contains(operation) && dim == 0 ? 512 : dim, elements: elements)
        let chosenPass = pass ?? operation.defaultPass
        let workload = try operation.makeWorkload(engine: engine, shape: shape, pass: chosenPass, seed: seed, deviceResident: deviceResident, head: headOptions,
                                                   training: trainingOptions)
        var backend = Backend.cpu
        for _ in 0..<warmup { backend = try workload.run() }
        var times: [Double] = []
        for _ in 0..<iterations {
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
        let result = BenchResult(
            op: operation.rawValue, backend: backend.rawValue, device: device, pass: chosenPass.rawValue,
            batch: shape.batch, classes: shape.classes, dim: shape.dim, elements: workload.elements, iterations: iterations,
            median_seconds: median, min_seconds: times.first!, max_seconds: times.last!,
            bytes: workload.bytes, flops: workload.flops,
            gb_per_second: Double(workload.bytes) / median / 1e9, gflop_per_second: Double(workload.flops) / median / 1e9,
            peak_rss_bytes: PeakMemory.residentBytes(),
            samples_per_second: operation == .trainStep ? Double(shape.batch) / median : nil)
        if json {
            print(result.jsonLine())
        } else {
            result.printTable()
        }
    }
}
