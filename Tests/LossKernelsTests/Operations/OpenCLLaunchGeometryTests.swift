import Foundation
import Testing

@testable import LossKernels

/// The launch geometry of the OpenCL path: global sizes rounded to whole work-groups and capped,
/// kernels that stride over their range, and the pooled, non-blocking training step.
///
/// Lowering the caps (64 work-items in dimension 0, 3 work-groups in dimensions 1–2) makes every
/// strided loop run at test sizes; the results must be bit-identical to the uncapped launch,
/// because a work-group's share of a row never depends on how many groups run. The shapes are
/// prime (B = 13, 251; C = 97, 1009, 997), so no size divides a work-group.
@Suite struct OpenCLLaunchGeometryTests {
    static let cappedLimits: OpenCLLaunchLimits = {
        var limits = OpenCLLaunchLimits()
        limits.maxWorkItems = 64
        limits.maxGroups = 3
        return limits
    }()

    static func cappedEngine() throws -> Engine {
        try Backends.requireOpenCL()
        return try Engine(policy: .opencl, offloadMinimumElements: 0, openCLDeviceTypes: .any, openCLFault: nil) { $0.launchLimits = cappedLimits }
    }

    @Test func globalSizesAreRoundedUpAndCapped() {
        var limits = OpenCLLaunchLimits()
        #expect(limits.globalSizes([99_991], local: [256]) == [100_096])
        #expect(limits.globalSizes([1000, 200_000], local: [64, 1]) == [1024, 65_535])
        #expect(limits.globalSizes([3], local: [256]) == [256])
        #expect(limits.globalSizes([Int(1) << 32], local: [256]) == [1 << 30])
        limits.maxWorkItems = 4096
        limits.maxGroups = 7
        #expect(limits.globalSizes([1 << 20, 100], local: [256, 1]) == [4096, 7])
        #expect(limits.globalSizes([10, 100, 100], local: [8, 2, 1]) == [16, 14, 7])
    }

    @Test func softmaxFamilyUnderLoweredCaps() throws {
        let capped = try Self.cappedEngine(), normal = try Backends.engine(for: .opencl)
        // Softmax rows in slabs of 4 KiB (one to a few rows): the chunking changes, so this one
        // is compared with the CPU path within the tolerance rather than bit for bit.
        let slabbed = try Engine(policy: .opencl, offloadMinimumElements: 0, openCLDeviceTypes: .any, openCLFault: nil) { $0.slabBytes = 4096 }
        var rng = TestRNG(seed: 1201)
        for (b, c) in [(13, 1009), (251, 97), (3, 4099)] {
            let z = try Matrix(rows: b, columns: c, values: TestData.logits(rows: b, columns: c, scale: 4, maskProbability: 0.05, rng: &rng))
            let g = try Matrix(rows: b, columns: c, values: TestData.normal(b * c, rng: &rng))
            expectBitwiseEqual(try capped.softmax(z).values, try normal.softmax(z).values, "softmax \(b)×\(c)")
            for logarithm in [false, true] {
                let cpu = logarithm ? try Backends.cpuEngine.logSoftmax(z) : try Backends.cpuEngine.softmax(z)
                let slabs = logarithm ? try slabbed.logSoftmax(z) : try slabbed.softmax(z)
                expectClose(slabs.values, cpu.values.map(Double.init), tolerance: 1e-5, "slabbed \(logarithm ? "logSoftmax" : "softmax") \(b)×\(c)")
            }
            let logProbabilities = try normal.logSoftmax(z)
            expectBitwiseEqual(try capped.logSoftmax(z).values, logProbabilities.values, "logSoftmax \(b)×\(c)")
            expectBitwiseEqual(try capped.logSumExp(z), try normal.logSumExp(z), "logSumExp \(b)×\(c)")
            expectBitwiseEqual(
                try capped.logSoftmaxBackward(logProbabilities: logProbabilities, gradOutput: g).values,
                try normal.logSoftmaxBackward(logProbabilities: logProbabilities, gradOutput: g).values, "logSoftmax backward \(b)×\(c)")
            let labels = (0..<b).map { _ in Int(rng.next() % UInt64(c)) }
            let weights = (0..<c).map { _ in Float(rng.next() >> 40) * 0x1p-24 + 0.5 }
            let ce = try capped.crossEntropy(logits: z, labels: labels, classWeights: weights, labelSmoothing: 0.1)
            let ceNormal = try normal.crossEntropy(logits: z, labels: labels, classWeights: weights, labelSmoothing: 0.1)
            expectBitwiseEqual(ce.loss, ceNormal.loss, "cross-entropy loss \(b)×\(c)")
            expectBitwiseEqual(ce.gradient.values, ceNormal.gradient.values, "cross-entropy gradient \(b)×\(c)")
            for axis in [ReductionAxis.rows, .columns, .all] {
                let result = try capped.reduce(.argmax, z, over: axis)
                #expect(result == (try normal.reduce(.argmax, z, over: axis)), "argmax over \(axis)")
                let sum = try normal.reduce(.sum, z, over: axis)
                let upstream = TestData.normal(sum.values.count, rng: &rng)
                expectBitwiseEqual(
                    try capped.reduceBackward(.sum, z, over: axis, result: sum, gradOutput: upstream).values,
                    try normal.reduceBackward(.sum, z, over: axis, result: sum, gradOutput: upstream).values, "sum backward over \(axis)")
            }
        }
    }

    @Test func elementwiseAndHeadsUnderLoweredCaps() throws {
        let capped = try Self.cappedEngine(), normal = try Backends.engine(for: .opencl)
        var rng = TestRNG(seed: 1202)
        let (b, c, d) = (13, 997, 37)
        let z = try Matrix(rows: b, columns: c, values: TestData.normal(b * c, scale: 3, rng: &rng))
        let t = try Matrix(rows: b, columns: c, values: (0..<(b * c)).map { _ in Float(rng.next() % 2) })
        let posWeight = (0..<c).map { _ in Float(rng.next() >> 40) * 0x1p-23 }
        let bce = try capped.binaryCrossEntropyWithLogits(logits: z, targets: t, posWeight: posWeight)
        let bceNormal = try normal.binaryCrossEntropyWithLogits(logits: z, targets: t, posWeight: posWeight)
        expectBitwiseEqual(bce.loss, bceNormal.loss, "weighted BCE loss")
        expectBitwiseEqual(bce.gradient.values, bceNormal.gradient.values, "weighted BCE gradient")

        let x = try Matrix(rows: b, columns: d, values: TestData.normal(b * d, rng: &rng))
        let w = try Matrix(rows: c, columns: d, values: TestData.normal(c * d, rng: &rng))
        let labels = (0..<b).map { _ in Int(rng.next() % UInt64(c)) }
        for head in [MarginHead.cosFace(), .arcFace(), .sphereFace(), .largeMargin()] {
            // Several tiles (a budget of 40 columns), so every pass strides and merges.
            let out = try capped.marginSoftmax(features: x, classWeights: w, labels: labels, head: head, memoryBudget: 4 * b * 40)
            let reference = try normal.marginSoftmax(features: x, classWeights: w, labels: labels, head: head, memoryBudget: 4 * b * 40)
            expectBitwiseEqual(out.loss, reference.loss, "\(head.kind) loss")
            expectBitwiseEqual(out.gradFeatures.values, reference.gradFeatures.values, "\(head.kind) ∂X")
            expectBitwiseEqual(out.gradClassWeights.values, reference.gradClassWeights.values, "\(head.kind) ∂W")
        }
    }

    /// The heads on OpenCL, with the dX̂ product split into K-slices (forced), agree with the CPU
    /// path and with the unsplit product.
    @Test func splitKProductMatchesTheCPUPath() throws {
        try Backends.requireOpenCL()
        let split = try Engine(policy: .opencl, offloadMinimumElements: 0, openCLDeviceTypes: .any, openCLFault: nil) { $0.splitK = 3 }
        var rng = TestRNG(seed: 1203)
        let (b, c, d) = (11, 1013, 24)
        let x = try Matrix(rows: b, columns: d, values: TestData.normal(b * d, rng: &rng))
        let w = try Matrix(rows: c, columns: d, values: TestData.normal(c * d, rng: &rng))
        let labels = (0..<b).map { _ in Int(rng.next() % UInt64(c)) }
        for head in [MarginHead.cosFace(), .sphereFace()] {
            let out = try split.marginSoftmax(features: x, classWeights: w, labels: labels, head: head)
            let cpu = try Backends.cpuEngine.marginSoftmax(features: x, classWeights: w, labels: labels, head: head)
            #expect(out.backend == .opencl)
            expectClose(out.loss, cpu.loss.map(Double.init), tolerance: 1e-4, "\(head.kind) split-K loss")
            expectClose(out.gradFeatures.values, cpu.gradFeatures.values.map(Double.init), tolerance: 1e-4, "\(head.kind) split-K ∂X")
            expectClose(out.gradClassWeights.values, cpu.gradClassWeights.values.map(Double.init), tolerance: 1e-4, "\(head.kind) split-K ∂W")
        }
    }

    /// A warm OpenCL training step waits once (the read of ∂L/∂X and the row results) and
    /// allocates no device buffer: uploads are staged, scratch buffers pooled, CLBlast's
    /// temporary passed in.
    @Test(arguments: [MarginHead.cosFace(), .sphereFace(), .largeMargin()], [1.0, 0.3])
    func warmTrainingStepWaitsOnceAndAllocatesNothing(head: MarginHead, sampleRate: Double) throws {
        try Backends.requireOpenCL()
        let engine = try Engine(policy: .opencl, offloadMinimumElements: 0, openCLDeviceTypes: .any, openCLFault: nil)
        var rng = TestRNG(seed: 1204)
        let (b, c, d) = (16, 3001, 32)
        // Two tiles of classes, so the step's passes run per tile.
        let trainer = try MarginSoftmaxHead(
            engine: engine, classes: c, dimension: d, head: head, sampleRate: sampleRate, seed: 3, memoryBudget: 4 * b * 1600)
        for _ in 0..<2 {
            let batch = TrainingTestSupport.batch(rows: b, d: d, classes: c, rng: &rng)
            _ = try trainer.step(features: batch.features, labels: batch.labels)
        }
        engine.resetOpenCLProfile()
        let batch = TrainingTestSupport.batch(rows: b, d: d, classes: c, rng: &rng)
        let step = try trainer.step(features: batch.features, labels: batch.labels)
        #expect(step.loss.isFinite)
        let profile = try #require(engine.openCLProfile().first)
        let counters = profile.counters
        #expect(counters.blockingReads == 1, "\(counters)")
        #expect(counters.synchronisations == 1, "\(counters)")
        #expect(counters.allocations == 0, "\(counters)")
        #expect(counters.writes >= 2 && counters.blockingWrites == 0, "\(counters)")
        #expect(counters.launches > 5, "\(counters)")
    }

    /// Device-resident cross-entropy, focal loss and margin head: the logits and the class weights
    /// never cross the bus (only labels, per-row values, the features and ∂L/∂X), and the results
    /// equal the host-resident calls on the same device bit for bit.
    @Test func deviceResidentLossesMoveNoLogitsOrWeights() throws {
        try Backends.requireOpenCL()
        let engine = try Engine(policy: .opencl, offloadMinimumElements: 0, openCLDeviceTypes: .any, openCLFault: nil)
        var rng = TestRNG(seed: 1206)
        let (b, c, d) = (7, 1999, 16)
        let z = try Matrix(rows: b, columns: c, values: TestData.normal(b * c, scale: 3, rng: &rng))
        let labels = (0..<b).map { _ in Int(rng.next() % UInt64(c)) }
        let logits = try engine.upload(z)
        let logitBytes = 4 * b * c
        for focal in [false, true] {
            engine.resetOpenCLProfile()
            let out =
                focal ? try engine.focalLoss(logits: logits, labels: labels) : try engine.crossEntropy(logits: logits, labels: labels, labelSmoothing: 0.1)
            let counters = try #require(engine.openCLProfile().first).counters
            #expect(counters.writtenBytes < logitBytes / 10 && counters.readBytes < logitBytes / 10, "focal \(focal): \(counters)")
            let host = focal ? try engine.focalLoss(logits: z, labels: labels) : try engine.crossEntropy(logits: z, labels: labels, labelSmoothing: 0.1)
            expectBitwiseEqual(out.loss, host.loss, "focal \(focal) loss")
            expectBitwiseEqual(try engine.download(out.gradient).values, host.gradient.values, "focal \(focal) gradient")
        }
        let x = try Matrix(rows: b, columns: d, values: TestData.normal(b * d, rng: &rng))
        let w = try Matrix(rows: c, columns: d, values: TestData.normal(c * d, rng: &rng))
        let weights = try engine.upload(w)
        engine.resetOpenCLProfile()
        let head = try engine.marginSoftmax(features: x, classWeights: weights, labels: labels, head: .arcFace())
        let counters = try #require(engine.openCLProfile().first).counters
        let weightBytes = 4 * c * d
        #expect(counters.writtenBytes < weightBytes / 10 && counters.readBytes < weightBytes / 10, "\(counters)")
        let host = try engine.marginSoftmax(features: x, classWeights: w, labels: labels, head: .arcFace())
        expectBitwiseEqual(head.loss, host.loss, "head loss")
        expectBitwiseEqual(head.gradFeatures.values, host.gradFeatures.values, "head ∂X")
        expectBitwiseEqual(try engine.download(head.gradClassWeights).values, host.gradClassWeights.values, "head ∂W")
        #expect(throws: LossKernelsError.self) { try engine.crossEntropy(logits: logits, labels: Array(labels.dropLast())) }
    }

    /// With profiling on, each kernel's launches and device time are reported.
    @Test func profileTimesEveryKernel() throws {
        try Backends.requireOpenCL()
        let engine = try Engine(policy: .opencl, offloadMinimumElements: 0, openCLDeviceTypes: .any, openCLFault: nil, profile: true)
        var rng = TestRNG(seed: 1205)
        let z = try Matrix(rows: 5, columns: 301, values: TestData.normal(5 * 301, rng: &rng))
        _ = try engine.softmax(z)
        engine.resetOpenCLProfile()
        _ = try engine.softmax(z)
        _ = try engine.softmax(z)
        let profile = try #require(engine.openCLProfile().first)
        #expect(profile.profiling)
        let names = Set(profile.kernels.map(\.name))
        // Rows that fit in local memory, when there are enough of them, take the one-pass kernel.
        let device = try engine.scheduler.residentDevice()
        let onePass = try device.withExclusiveAccess { try OpenCLSoftmax.rowsInLocalMemory(device, rows: 5, columns: 301) } != nil
        let expected: Set<String> = onePass ? ["lk_softmax_rows_local"] : ["lk_softmax_stats_partial", "lk_softmax_stats_merge", "lk_softmax_write"]
        #expect(names == expected, "\(names)")
        #expect(profile.kernels.allSatisfy { $0.count == 2 && $0.seconds > 0 }, "\(profile.kernels)")
        #expect(profile.counters.launches == 2 * expected.count && profile.counters.allocations == 0, "\(profile.counters)")
        #expect(profile.counters.writes == 2 && profile.counters.blockingReads == 2, "\(profile.counters)")
        // The pool keeps the scratch buffers until released; then the next call allocates again.
        #expect(engine.releaseOpenCLScratch() >= 2 * 4 * 5 * 301)
        engine.resetOpenCLProfile()
        _ = try engine.softmax(z)
        #expect(try #require(engine.openCLProfile().first).counters.allocations > 0)
    }

    /// `bench --profile` reports each kernel's launches and device time, and every OpenCL result its
    /// per-call counters; a device-resident cross-entropy moves no logits.
    @Test func benchProfileReportsKernels() throws {
        try Backends.requireOpenCL()
        let result = try CLIRunner.run([
            "bench", "cross-entropy", "--batch", "4", "--classes", "300", "--warmup", "1", "--iterations", "3", "--backend", "opencl",
            "--device-resident", "--profile", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let kernels = try #require(object["kernels"] as? [[String: Any]])
        #expect(Set(kernels.compactMap { $0["name"] as? String }).isSuperset(of: ["lk_softmax_stats_partial", "lk_softmax_loss_gradient"]))
        #expect(kernels.allSatisfy { ($0["count"] as? Int) == 3 && (($0["seconds"] as? Double) ?? 0) > 0 }, "\(kernels)")
        let perCall = try #require(object["opencl_per_call"] as? [String: Double])
        // The gradient each call returns on the device reuses the one the run before last dropped:
        // one allocation in the three timed runs (the first, while the warm-up's result is held).
        let written: Double = perCall["written_bytes"] ?? .infinity, allocations: Double = perCall["allocations"] ?? 3
        #expect(written < 1200, "\(perCall)")
        #expect(3 * allocations <= 1, "\(perCall)")
    }

    /// CLBlast's tuner output and the plain form both parse; bad files are refused with the variable named.
    @Test func clblastParameterFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lk-clblast-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let tuner = folder.appendingPathComponent("clblast_xgemm_1_32.json").path
        try #"{"kernel_family": "xgemm_1", "precision": "32", "best_parameters": "KWG=16 MWG=64 NWG=64"}"#.write(
            toFile: tuner, atomically: true, encoding: .utf8)
        #expect(try CLBlast.tuning(from: tuner) == [CLBlast.KernelParameters(kernel: "Xgemm", values: ["KWG": 16, "MWG": 64, "NWG": 64])])
        let plain = folder.appendingPathComponent("plain.json").path
        try #"{"XgemmDirect": {"WGD": 32}, "Xgemm": {"KWG": 32}}"#.write(toFile: plain, atomically: true, encoding: .utf8)
        #expect(try CLBlast.tuning(from: plain).map(\.kernel) == ["Xgemm", "XgemmDirect"])
        let bad = folder.appendingPathComponent("bad.json").path
        try #"{"Xgemm": {"KWG": "many"}}"#.write(toFile: bad, atomically: true, encoding: .utf8)
        for path in [bad, folder.appendingPathComponent("missing.json").path] {
            let error = #expect(throws: LossKernelsError.self) { try CLBlast.tuning(from: path) }
            #expect(error?.description.contains("LOSSKERNELS_CLBLAST_PARAMETERS") == true, "\(String(describing: error))")
        }
    }
}
