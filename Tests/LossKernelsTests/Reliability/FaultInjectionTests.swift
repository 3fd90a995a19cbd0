import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// Each injected OpenCL fault (build, alloc, enqueue, read) on every operation family: under
/// `auto` the call is redone on the CPU and gives the CPU's result; under `opencl` it throws an
/// `.openCLFailure` that names the step; afterwards a healthy engine computes on the device again.
@Suite struct FaultInjectionTests {
    /// One call of each operation family, returning its outputs flattened and the backend.
    static let families: [(String, @Sendable (Engine) throws -> ([Float], Backend))] = [
        (
            "softmax",
            { e in
                var rng = TestRNG(seed: 1)
                let z = try Matrix(rows: 3, columns: 40, values: TestData.normal(120, rng: &rng))
                var y = [Float](repeating: 0, count: 120)
                let backend = try z.values.withUnsafeBufferPointer { x in
                    try y.withUnsafeMutableBufferPointer { try e.softmax(logits: x, rows: 3, columns: 40, into: $0) }
                }
                return (y, backend)
            }
        ),
        (
            "reduction",
            { e in
                var rng = TestRNG(seed: 2)
                let x = TestData.normal(200, rng: &rng)
                let (result, backend) = try x.withUnsafeBufferPointer { try e.reduce(.logSumExp, input: $0, rows: 4, columns: 50, over: .rows) }
                return (result.values, backend)
            }
        ),
        (
            "cross-entropy",
            { e in
                var rng = TestRNG(seed: 3)
                let out = try e.crossEntropy(
                    logits: Matrix(rows: 4, columns: 30, values: TestData.normal(120, rng: &rng)), labels: [1, 2, 3, 29], labelSmoothing: 0.1)
                return (out.loss + out.gradient.values, out.backend)
            }
        ),
        (
            "bce",
            { e in
                var rng = TestRNG(seed: 4)
                let z = try Matrix(rows: 2, columns: 20, values: TestData.normal(40, rng: &rng))
                let t = try Matrix(rows: 2, columns: 20, values: (0..<40).map { Float($0 % 2) })
                let out = try e.binaryCrossEntropyWithLogits(logits: z, targets: t)
                return (out.loss + out.gradient.values, out.backend)
            }
        ),
        (
            "mse",
            { e in
                var rng = TestRNG(seed: 5)
                let out = try e.mseLoss(
                    predictions: Matrix(rows: 2, columns: 20, values: TestData.normal(40, rng: &rng)),
                    targets: Matrix(rows: 2, columns: 20, values: TestData.normal(40, rng: &rng)))
                return (out.loss + out.gradient.values, out.backend)
            }
        ),
        (
            "margin-softmax",
            { e in
                var rng = TestRNG(seed: 6)
                let out = try e.marginSoftmax(
                    features: Matrix(rows: 4, columns: 8, values: TestData.normal(32, rng: &rng)),
                    classWeights: Matrix(rows: 12, columns: 8, values: TestData.normal(96, rng: &rng)),
                    labels: [0, 5, 11, 3], head: .arcFace(scale: 8))
                return (out.loss + out.gradFeatures.values + out.gradClassWeights.values, out.backend)
            }
        ),
        (
            "triplet",
            { e in
                var rng = TestRNG(seed: 7)
                let m = { try Matrix(rows: 5, columns: 6, values: TestData.normal(30, rng: &rng)) }
                let out = try e.tripletMarginLoss(anchors: m(), positives: m(), negatives: m())
                return (out.loss + out.gradAnchors.values + out.gradPositives.values + out.gradNegatives.values, out.backend)
            }
        ),
        (
            "triplet-mined",
            { e in
                var rng = TestRNG(seed: 8)
                let out = try e.minedTripletLoss(
                    embeddings: Matrix(rows: 8, columns: 4, values: TestData.normal(32, rng: &rng)),
                    labels: [0, 1, 0, 1, 2, 2, 0, 1], mining: .batchAll)
                return ([out.loss] + out.gradEmbeddings.values, out.backend)
            }
        ),
        (
            "center",
            { e in
                var rng = TestRNG(seed: 9)
                let out = try e.centerLoss(
                    features: Matrix(rows: 5, columns: 3, values: TestData.normal(15, rng: &rng)), labels: [0, 1, 1, 2, 0],
                    centers: Matrix(rows: 4, columns: 3, values: TestData.normal(12, rng: &rng)))
                return ([out.loss] + out.gradFeatures.values + out.updatedCenters.values, out.backend)
            }
        ),
    ]

    @Test(arguments: OpenCLFault.allCases, families.map(\.0))
    func faultIsSurvived(fault: OpenCLFault, family: String) throws {
        try Backends.requireOpenCL()
        let call = Self.families.first { $0.0 == family }!.1
        let (expected, cpuBackend) = try call(Backends.cpuEngine)
        #expect(cpuBackend == .cpu)

        // auto: redone on the CPU, same result.
        // Ceilings under which the device wins: auto must try it for the fault to happen.
        let auto = try AutoCeilings.offloadingEngine(fault: fault)
        let (values, backend) = try call(auto)
        #expect(backend == .cpu, "\(family) with fault \(fault) under auto ran on \(backend)")
        #expect(values.map(\.bitPattern) == expected.map(\.bitPattern), "\(family): the CPU redo differs from a plain CPU call")
        // And again: the engine keeps working.
        #expect(try call(auto).1 == .cpu)

        // opencl: a clear error naming the injected step.
        let explicit = try Engine(policy: .opencl, openCLFault: fault)
        do {
            let (_, ran) = try call(explicit)
            // A family that never reaches the faulty step is not a pass.
            Issue.record("\(family) with fault \(fault) under opencl succeeded on \(ran)")
        } catch let error as LossKernelsError {
            guard case .openCLFailure(let step, _, let name, _) = error else {
                Issue.record("\(family): expected an OpenCL failure, got \(error)")
                return
            }
            #expect(step.contains("injected fault"), "\(step)")
            #expect(!name.isEmpty)
        }

        // A healthy engine still runs on the device.
        #expect(try call(Backends.openCLEngine).1 == .opencl)
    }

    @Test func unknownFaultNameIsRefused() throws {
        let result = try CLIRunner.run(
            ["bench", "softmax", "--batch", "1", "--classes", "4", "--iterations", "1", "--warmup", "0"], environment: ["LOSSKERNELS_FAULT": "nope"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("LOSSKERNELS_FAULT"), "\(result.stderr)")
    }

    /// The CLI: LOSSKERNELS_FAULT under auto warns on stderr and still writes the right files;
    /// under explicit opencl it exits 1 with one line and writes nothing.
    @Test(arguments: OpenCLFault.allCases)
    func cliSurvivesFaults(fault: OpenCLFault) throws {
        try Backends.requireOpenCL()
        let folder = try CLIRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let z = folder.appendingPathComponent("z.npy")
        try Data(NPYFile.encode(NPYArray(shape: [2, 3], float32: [1, 2, 3, 4, 5, 6]))).write(to: z)
        // A cache file whose ceilings make the device win, so that auto tries it (and probes nothing).
        let cache = try AutoCeilings.cacheDirectory(AutoCeilings.deviceAlwaysWins, threads: 2)
        defer { try? FileManager.default.removeItem(at: cache) }
        let environment = [
            "LOSSKERNELS_FAULT": fault.rawValue, "LOSSKERNELS_OPENCL_DEVICE_TYPE": "any", "LOSSKERNELS_OFFLOAD_MIN_ELEMENTS": "0",
            "LOSSKERNELS_CACHE_DIR": cache.path, "LOSSKERNELS_THREADS": "2",
        ]
        let auto = try CLIRunner.run(
            ["compute", "softmax", "--logits", z.path, "--output-dir", folder.appendingPathComponent("a").path, "--backend", "auto"], environment: environment)
        #expect(auto.status == 0, "\(auto.stderr)")
        #expect(auto.stderr.contains("warning") && auto.stderr.contains("injected fault"), "no warning: \(auto.stderr)")
        let probs = try NPYFile.read(path: folder.appendingPathComponent("a/probs.npy").path)
        guard case .float32(let values) = probs.elements else { Issue.record("not float32"); return }
        expectClose(values, Reference.softmax([1, 2, 3, 4, 5, 6], rows: 2, columns: 3), "softmax after a \(fault) fault")
        let explicit = try CLIRunner.run(
            ["compute", "softmax", "--logits", z.path, "--output-dir", folder.appendingPathComponent("b").path, "--backend", "opencl"], environment: environment
        )
        #expect(explicit.status == 1)
        #expect(explicit.stderr.contains("injected fault"))
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("b").path))
    }
}
