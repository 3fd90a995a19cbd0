import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// `crossEntropy(logits:targetProbabilities:…)` on every backend against the float64 reference
/// (ProbabilityCrossEntropyReference.swift): soft, one-hot, unnormalised and partly zero targets,
/// class weights, label smoothing, every reduction and gradOutput, −∞ masks, logits of ±300, rows
/// longer than one 16,384-column block and an input of more than 2^20 values; the edges of the
/// contract (masked classes with and without target mass, NaN/+∞/all-masked rows, all-zero target
/// rows), the buffer form, the class-index identity, refused inputs, `checkFinite`, CPU–OpenCL
/// agreement and bitwise determinism across thread counts.
@Suite struct ProbabilityCrossEntropyTests {
    enum Targets: String, Sendable {
        /// Rows of positive values summing to 1.
        case soft
        /// One 1 per row, at a random unmasked class.
        case oneHot
        /// Rows summing to 1 with about 40 % exact zeros (masked classes always 0).
        case sparse
        /// Positive values in (0, 1], not normalised.
        case unnormalized
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let rows: Int
        let columns: Int
        var scale: Double = 3
        var targets: Targets = .soft
        var weighted = false
        var smoothing: Float = 0
        /// Probability of a −∞ mask per logit; masked classes get target 0 (finite loss without smoothing).
        var maskProbability: Double = 0
        var seed: UInt64 = 5

        var testDescription: String {
            var text = "\(rows)×\(columns) scale \(scale) \(targets.rawValue) targets"
            if weighted { text += " weights" }
            if smoothing != 0 { text += " smoothing \(smoothing)" }
            if maskProbability > 0 { text += " masks \(maskProbability)" }
            return text
        }

        func inputs() throws -> (logits: Matrix, targets: Matrix, weights: [Float]?, gradOutput: [Float]) {
            var rng = TestRNG(seed: seed &* 0x9E37_79B9 &+ UInt64(rows * 7919 + columns))
            let z = TestData.logits(rows: rows, columns: columns, scale: scale, maskProbability: maskProbability, rng: &rng)
            var t: [Float]
            switch targets {
            case .soft: t = NewLossCheck.probabilities(rows: rows, columns: columns, rng: &rng)
            case .sparse: t = NewLossCheck.probabilities(rows: rows, columns: columns, zeros: 0.4, rng: &rng)
            case .unnormalized: t = NewLossCheck.probabilities(rows: rows, columns: columns, normalized: false, rng: &rng)
            case .oneHot:
                t = [Float](repeating: 0, count: rows * columns)
                for r in 0..<rows {
                    var j = rng.index(columns)
                    while !z[r * columns + j].isFinite { j = rng.index(columns) }
                    t[r * columns + j] = 1
                }
            }
            for i in z.indices where z[i] == -.infinity { t[i] = 0 }
            if targets != .oneHot {
                // Rows whose mass was all on masked classes get it back on a finite one.
                for r in 0..<rows where !t[(r * columns)..<((r + 1) * columns)].contains(where: { $0 > 0 }) {
                    let j = (0..<columns).first { z[r * columns + $0].isFinite }!
                    t[r * columns + j] = 1
                }
            }
            let weights = weighted ? (0..<columns).map { _ in Float(0.1 + 2.9 * rng.unit()) } : nil
            let gradOutput = TestData.normal(rows, scale: 2, rng: &rng)
            return (try Matrix(rows: rows, columns: columns, values: z), try Matrix(rows: rows, columns: columns, values: t), weights, gradOutput)
        }
    }

    static let cases: [Case] = [
        Case(rows: 1, columns: 1),
        Case(rows: 3, columns: 1, smoothing: 0.1),
        Case(rows: 3, columns: 2),
        Case(rows: 3, columns: 2, scale: 300, targets: .oneHot),
        Case(rows: 17, columns: 7, weighted: true),
        Case(rows: 64, columns: 8, targets: .sparse, smoothing: 0.1),
        Case(rows: 17, columns: 33, targets: .unnormalized, weighted: true, smoothing: 1.0),
        Case(rows: 64, columns: 9, scale: 100, targets: .oneHot, weighted: true),
        Case(rows: 17, columns: 33, scale: 100, targets: .sparse),
        Case(rows: 64, columns: 1000, targets: .unnormalized, weighted: true, smoothing: 0.1),
        // −∞ masks (their targets 0): finite losses without smoothing.
        Case(rows: 17, columns: 33, targets: .sparse, weighted: true, maskProbability: 0.3),
        Case(rows: 3, columns: 1000, targets: .oneHot, maskProbability: 0.9),
        // C above one 16,384-column block: a row's blocks are merged (and split over threads).
        Case(rows: 1, columns: 20_000, scale: 100),
        Case(rows: 3, columns: 20_000, targets: .sparse, weighted: true, smoothing: 0.1),
        Case(rows: 1, columns: 16_385, targets: .oneHot, maskProbability: 0.5),
        Case(rows: 2, columns: 40_000, scale: 30, targets: .unnormalized, maskProbability: 0.2),
        // More than 2^20 values (64×16,400), many rows of two blocks each.
        Case(rows: 64, columns: 16_400, targets: .sparse, weighted: true, smoothing: 0.05),
    ]

    static func reference(_ c: Case, _ z: Matrix, _ t: Matrix, _ w: [Float]?, _ reduction: LossReduction, _ g: [Float]?) -> LossReference.Result {
        LossReference.crossEntropy(
            logits: z.values, rows: z.rows, columns: z.columns, probabilityTargets: t.values, classWeights: w,
            labelSmoothing: c.smoothing, reduction: reduction, gradOutput: g)
    }

    @Test(arguments: Backends.all, cases)
    func matchesReference(_ backend: TestBackend, _ c: Case) throws {
        let engine = try Backends.engine(for: backend)
        let (logits, targets, weights, gradOutput) = try c.inputs()
        for (reduction, withGradOutput) in LossCheck.variants {
            let g = withGradOutput ? gradOutput : nil
            let output = try engine.crossEntropy(
                logits: logits, targetProbabilities: targets, classWeights: weights, labelSmoothing: c.smoothing,
                reduction: reduction, gradOutput: g)
            let reference = Self.reference(c, logits, targets, weights, reduction, g)
            if c.smoothing == 0 || c.maskProbability == 0 {
                #expect(reference.loss.allSatisfy { $0.isFinite }, "reference loss not finite: the case is not what it claims")
            }
            LossCheck.expectMatches(
                output, reference, backend: backend, rows: c.rows, columns: c.columns,
                "\(backend) \(c.testDescription) \(LossCheck.describe(reduction, withGradOutput))")
        }
    }

    /// Defaults: no weights, no smoothing, mean over rows.
    @Test(arguments: Backends.all)
    func defaults(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let c = Case(rows: 5, columns: 6, targets: .sparse)
        let (logits, targets, _, _) = try c.inputs()
        LossCheck.expectMatches(
            try engine.crossEntropy(logits: logits, targetProbabilities: targets),
            LossReference.crossEntropy(logits: logits.values, rows: 5, columns: 6, probabilityTargets: targets.values),
            backend: backend, rows: 5, columns: 6, "\(backend) defaults")
    }

    /// The contract's edges, row by row (reduction none, and sum): a masked class with target 0
    /// adds nothing; a masked class with target mass gives +∞ with a finite gradient; ε > 0 with a
    /// mask gives +∞; a zero class weight on a masked class with mass gives NaN (the plain product);
    /// rows with NaN, +∞ or only −∞ give NaN loss and an all-NaN gradient row; an all-zero target row
    /// gives loss 0 and a zero gradient; the other rows stay finite.
    @Test(arguments: Backends.all)
    func edgeRows(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let C = 5, inf = Float.infinity
        let rows: [(z: [Float], t: [Float], name: String)] = [
            ([1, -inf, 0.5, 2, -1], [0.2, 0, 0.3, 0.4, 0.1], "masked class, target 0"),
            ([1, -inf, 0.5, 2, -1], [0.2, 0.1, 0.3, 0.3, 0.1], "masked class with target mass"),
            ([1, 2, 3, 4, 5], [0, 0, 0, 0, 0], "all-zero targets"),
            ([1, .nan, 0.5, 2, -1], [0.2, 0.2, 0.2, 0.2, 0.2], "NaN logit"),
            ([1, inf, 0.5, 2, -1], [0.2, 0.2, 0.2, 0.2, 0.2], "+∞ logit"),
            ([-inf, -inf, -inf, -inf, -inf], [0.2, 0.2, 0.2, 0.2, 0.2], "all −∞"),
            ([0.3, -0.2, 0.1, 0.7, -0.5], [0.1, 0.2, 0.3, 0.2, 0.2], "regular"),
        ]
        let logits = try Matrix(rows: rows.count, columns: C, values: rows.flatMap(\.z))
        let targets = try Matrix(rows: rows.count, columns: C, values: rows.flatMap(\.t))
        let g: [Float] = [1.5, -0.5, 2, 1, 1, 1, -1]
        for reduction in [LossReduction.none, .sum] {
            let gradOutput = reduction == .none ? g : nil
            let output = try engine.crossEntropy(logits: logits, targetProbabilities: targets, reduction: reduction, gradOutput: gradOutput)
            let reference = LossReference.crossEntropy(
                logits: logits.values, rows: rows.count, columns: C, probabilityTargets: targets.values,
                reduction: reduction, gradOutput: gradOutput)
            LossCheck.expectMatches(output, reference, backend: backend, rows: rows.count, columns: C, "\(backend) edge rows \(reduction)")
        }
        let none = try engine.crossEntropy(logits: logits, targetProbabilities: targets, reduction: .none)
        #expect(none.loss[0].isFinite, "masked class with target 0: \(none.loss[0])")
        #expect(none.loss[1] == .infinity, "masked class with target mass: \(none.loss[1])")
        #expect(none.gradient.values[C..<(2 * C)].allSatisfy { $0.isFinite }, "masked class with mass: gradient must stay finite")
        #expect(none.gradient.values[C + 1] == -0.1, "masked class with mass: gradient −T' there, got \(none.gradient.values[C + 1])")
        #expect(none.loss[2] == 0 && none.gradient.values[(2 * C)..<(3 * C)].allSatisfy { $0 == 0 }, "all-zero targets: loss 0 and zero gradient")
        for r in 3...5 {
            #expect(none.loss[r].isNaN && none.gradient.values[(r * C)..<((r + 1) * C)].allSatisfy { $0.isNaN }, "\(rows[r].name): NaN row")
        }
        #expect(none.loss[6].isFinite && none.loss[6] > 0)

        // Smoothing gives every class mass: any mask makes the loss +∞, the gradient stays finite.
        let smoothed = try engine.crossEntropy(logits: logits, targetProbabilities: targets, labelSmoothing: 0.1, reduction: .none)
        #expect(smoothed.loss[0] == .infinity && smoothed.gradient.values[0..<C].allSatisfy { $0.isFinite }, "ε > 0 with a mask")
        // A zero weight on the masked class with mass: 0·∞ is NaN in the reference (and PyTorch).
        let w: [Float] = [1, 0, 1, 1, 1]
        let zeroWeight = try engine.crossEntropy(logits: logits, targetProbabilities: targets, classWeights: w, reduction: .none)
        let zeroWeightReference = LossReference.crossEntropy(
            logits: logits.values, rows: rows.count, columns: C, probabilityTargets: targets.values,
            classWeights: w, reduction: .none)
        #expect(zeroWeight.loss[1].isNaN && zeroWeightReference.loss[1].isNaN, "zero weight on a masked class with mass")
        LossCheck.expectMatches(zeroWeight, zeroWeightReference, backend: backend, rows: rows.count, columns: C, "\(backend) zero class weight")
    }

    /// One-hot targets are the class-index form: the same loss and gradient (weights and smoothing
    /// too; mean only differs in its denominator when weighted, so sum and none are compared).
    @Test(arguments: Backends.all)
    func oneHotMatchesClassIndices(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let c = Case(rows: 17, columns: 300, scale: 10, targets: .oneHot, weighted: true, maskProbability: 0.2)
        let (logits, targets, weights, g) = try c.inputs()
        let labels = (0..<c.rows).map { r in (0..<c.columns).first { targets[r, $0] == 1 }! }
        for (reduction, gradOutput) in [(LossReduction.sum, nil), (.none, g)] as [(LossReduction, [Float]?)] {
            let soft = try engine.crossEntropy(
                logits: logits, targetProbabilities: targets, classWeights: weights, reduction: reduction, gradOutput: gradOutput)
            let hard = try engine.crossEntropy(logits: logits, labels: labels, classWeights: weights, reduction: reduction, gradOutput: gradOutput)
            expectClose(soft.loss, hard.loss.map(Double.init), tolerance: 2e-5, "\(backend) one-hot \(reduction) loss")
            expectClose(soft.gradient.values, hard.gradient.values.map(Double.init), tolerance: 2e-5, "\(backend) one-hot \(reduction) gradient")
        }
        let soft = try engine.crossEntropy(logits: logits, targetProbabilities: targets)
        let hard = try engine.crossEntropy(logits: logits, labels: labels)
        expectClose(soft.loss, hard.loss.map(Double.init), tolerance: 2e-5, "\(backend) one-hot mean (unweighted)")
    }

    /// The buffer form writes the matrix form's bits into a reused buffer holding stale values.
    @Test(arguments: Backends.all)
    func bufferFormMatchesMatrixForm(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let c = Case(rows: 9, columns: 20_000, targets: .sparse, weighted: true, smoothing: 0.1, maskProbability: 0.1)
        let (logits, targets, weights, g) = try c.inputs()
        var gradient = [Float](repeating: .nan, count: logits.count)
        for (reduction, gradOutput) in [(LossReduction.mean, nil), (.none, g)] as [(LossReduction, [Float]?)] {
            let matrix = try engine.crossEntropy(
                logits: logits, targetProbabilities: targets, classWeights: weights, labelSmoothing: 0.1,
                reduction: reduction, gradOutput: gradOutput)
            let (loss, ran) = try logits.values.withUnsafeBufferPointer { z in
                try targets.values.withUnsafeBufferPointer { t in
                    try gradient.withUnsafeMutableBufferPointer { dz in
                        try engine.crossEntropy(
                            logits: z, rows: c.rows, columns: c.columns, targetProbabilities: t, classWeights: weights,
                            labelSmoothing: 0.1, reduction: reduction, gradOutput: gradOutput, gradient: dz)
                    }
                }
            }
            #expect(ran == backend.expected)
            expectBitwiseEqual(loss, matrix.loss, "\(backend) buffer form \(reduction) loss")
            expectBitwiseEqual(gradient, matrix.gradient.values, "\(backend) buffer form \(reduction) gradient")
        }
    }

    /// The work a call states (what `auto` and `bench` read): logits, targets and the gradient once
    /// each, the upstream and class weights, the loss.
    @Test func statedWork() throws {
        let (b, c) = (3, 50)
        let z = Matrix(rows: b, columns: c, repeating: 0.5), t = Matrix(rows: b, columns: c, repeating: 0.02)
        let (_, plain) = try Engine.recordingWork { try Backends.cpuEngine.crossEntropy(logits: z, targetProbabilities: t) }
        #expect(plain == OperationWork(bytes: (3 * b * c + 1) * 4))
        let (_, full) = try Engine.recordingWork {
            try Backends.cpuEngine.crossEntropy(
                logits: z, targetProbabilities: t, classWeights: [Float](repeating: 1, count: c), reduction: .none,
                gradOutput: [1, 1, 1])
        }
        #expect(full == OperationWork(bytes: (3 * b * c + b + c + b) * 4))
    }

    /// Every refused input names the tensor, index and value (or option) at fault.
    @Test func badInputsAreRefused() throws {
        let engine = Backends.cpuEngine
        let z = try Matrix(rows: 2, columns: 3, values: [0, 1, 2, 3, 4, 5])
        let t = try Matrix(rows: 2, columns: 3, values: [0.2, 0.3, 0.5, 0, 1, 0])
        func targets(_ bad: Float, at i: Int) throws -> Matrix {
            var values = t.values
            values[i] = bad
            return try Matrix(rows: 2, columns: 3, values: values)
        }
        expectError(.value(tensor: "targetProbabilities", index: 5, value: "-0.5"), "negative target") {
            try engine.crossEntropy(logits: z, targetProbabilities: targets(-0.5, at: 5))
        }
        expectError(.value(tensor: "targetProbabilities", index: 1, value: "nan"), "NaN target") {
            try engine.crossEntropy(logits: z, targetProbabilities: targets(.nan, at: 1))
        }
        expectError(.value(tensor: "targetProbabilities", index: 3, value: "inf"), "+∞ target") {
            try engine.crossEntropy(logits: z, targetProbabilities: targets(.infinity, at: 3))
        }
        do {
            _ = try engine.crossEntropy(logits: z, targetProbabilities: targets(-0.5, at: 5))
        } catch let error as LossKernelsError {
            #expect(error.description.contains("row 1, column 2"), "the message names row and column: \(error)")
        }
        expectError(.shape(tensor: "targetProbabilities"), "targets of another shape") {
            try engine.crossEntropy(logits: z, targetProbabilities: Matrix(rows: 3, columns: 2, repeating: 0.5))
        }
        expectError(.shape(tensor: "classWeights"), "weights of the wrong length") {
            try engine.crossEntropy(logits: z, targetProbabilities: t, classWeights: [1, 1])
        }
        expectError(.value(tensor: "classWeights", index: 2, value: "nan"), "non-finite weight") {
            try engine.crossEntropy(logits: z, targetProbabilities: t, classWeights: [1, 1, .nan])
        }
        expectError(.option(name: "labelSmoothing", value: "1.5"), "ε > 1") {
            try engine.crossEntropy(logits: z, targetProbabilities: t, labelSmoothing: 1.5)
        }
        expectError(.option(name: "labelSmoothing", value: "-0.1"), "ε < 0") {
            try engine.crossEntropy(logits: z, targetProbabilities: t, labelSmoothing: -0.1)
        }
        for reduction in [LossReduction.mean, .sum] {
            expectError(.option(name: "gradOutput", value: nil), "gradOutput with \(reduction)") {
                try engine.crossEntropy(logits: z, targetProbabilities: t, reduction: reduction, gradOutput: [1, 1])
            }
        }
        expectError(.shape(tensor: "gradOutput"), "gradOutput of the wrong length") {
            try engine.crossEntropy(logits: z, targetProbabilities: t, reduction: .none, gradOutput: [1, 1, 1])
        }
        expectError(.shape(tensor: "logits"), "no rows") {
            try engine.crossEntropy(logits: Matrix(rows: 0, columns: 3, values: []), targetProbabilities: Matrix(rows: 0, columns: 3, values: []))
        }
        expectError(.shape(tensor: "logits"), "no columns") {
            try engine.crossEntropy(logits: Matrix(rows: 2, columns: 0, values: []), targetProbabilities: Matrix(rows: 2, columns: 0, values: []))
        }
        // The buffer form compares counts.
        var gradient = [Float](repeating: 0, count: 6)
        expectError(.shape(tensor: "targetProbabilities"), "buffer form: too few targets") {
            try z.values.withUnsafeBufferPointer { zb in
                try [Float](repeating: 0.5, count: 5).withUnsafeBufferPointer { tb in
                    try gradient.withUnsafeMutableBufferPointer {
                        try engine.crossEntropy(logits: zb, rows: 2, columns: 3, targetProbabilities: tb, gradient: $0)
                    }
                }
            }
        }
        var tooLong = [Float](repeating: 0, count: 7)
        expectError(.shape(tensor: "gradient"), "buffer form: gradient of the wrong size") {
            try z.values.withUnsafeBufferPointer { zb in
                try t.values.withUnsafeBufferPointer { tb in
                    try tooLong.withUnsafeMutableBufferPointer {
                        try engine.crossEntropy(logits: zb, rows: 2, columns: 3, targetProbabilities: tb, gradient: $0)
                    }
                }
            }
        }
    }

    /// `checkFinite`: a NaN or +∞ logit, or a non-finite gradOutput, is refused with its index; a
    /// −∞ logit (a mask) is accepted; without the check a NaN logit computes (NaN row).
    @Test(arguments: Backends.all)
    func checkFinite(_ backend: TestBackend) throws {
        let engine = try NewLossCheck.checkingEngine(for: backend)
        let t = try Matrix(rows: 2, columns: 3, values: [0.2, 0.3, 0.5, 0, 1, 0])
        for bad in [Float.nan, .infinity] {
            expectError(.value(tensor: "logits", index: 4, value: "\(bad)"), "\(backend) \(bad) logit") {
                try engine.crossEntropy(logits: Matrix(rows: 2, columns: 3, values: [0, 1, 2, 3, bad, 5]), targetProbabilities: t)
            }
            expectError(.value(tensor: "gradOutput", index: 1, value: "\(bad)"), "\(backend) \(bad) gradOutput") {
                try engine.crossEntropy(logits: Matrix(rows: 2, columns: 3, repeating: 0), targetProbabilities: t, reduction: .none, gradOutput: [1, bad])
            }
        }
        let masked = try engine.crossEntropy(logits: Matrix(rows: 2, columns: 3, values: [0, -.infinity, 2, 3, 4, 5]), targetProbabilities: t)
        #expect(masked.loss[0].isInfinite, "−∞ is a mask, accepted; the masked class has target mass 0.3: +∞")
        let unchecked = try Backends.engine(for: backend).crossEntropy(
            logits: Matrix(rows: 2, columns: 3, values: [0, 1, 2, 3, .nan, 5]),
            targetProbabilities: t, reduction: .none)
        #expect(unchecked.loss[0].isFinite && unchecked.loss[1].isNaN, "without checkFinite NaN flows: \(unchecked.loss)")
    }

    /// CPU and OpenCL agree on the same inputs (both are checked against the reference above; this
    /// pins their mutual agreement on large cases: weighted and smoothed, and masked).
    @Test(arguments: [
        Case(rows: 70, columns: 16_500, scale: 10, targets: .sparse, weighted: true, smoothing: 0.1),
        Case(rows: 70, columns: 16_500, scale: 100, targets: .sparse, weighted: true, maskProbability: 0.05),
    ])
    func cpuAndOpenCLAgree(_ c: Case) throws {
        let opencl = try Backends.engine(for: .opencl)
        let (logits, targets, weights, g) = try c.inputs()
        for (reduction, gradOutput) in [(LossReduction.mean, nil), (.none, g)] as [(LossReduction, [Float]?)] {
            let a = try Backends.cpuEngine.crossEntropy(
                logits: logits, targetProbabilities: targets, classWeights: weights, labelSmoothing: c.smoothing,
                reduction: reduction, gradOutput: gradOutput)
            let b = try opencl.crossEntropy(
                logits: logits, targetProbabilities: targets, classWeights: weights, labelSmoothing: c.smoothing,
                reduction: reduction, gradOutput: gradOutput)
            NewLossCheck.expectInformative(a, "\(c.testDescription) \(reduction)")
            NewLossCheck.expectBackendsAgree(cpu: a, opencl: b, "\(c.testDescription) \(reduction)")
        }
    }

    /// Identical bits with 1, 2 and 3 CPU threads, for rows split over threads (2×100,000) and rows
    /// spread over threads (64×3,000), and across runs on one engine (OpenCL too).
    @Test(arguments: [
        Case(rows: 2, columns: 100_000, scale: 10, targets: .sparse, weighted: true, smoothing: 0.1),
        Case(rows: 2, columns: 100_000, scale: 10, targets: .sparse, maskProbability: 0.01),
        Case(rows: 64, columns: 3000, targets: .unnormalized, weighted: true),
    ])
    func deterministicAcrossThreadCounts(_ c: Case) throws {
        let (logits, targets, weights, g) = try c.inputs()
        let call = { (e: Engine) in
            try e.crossEntropy(
                logits: logits, targetProbabilities: targets, classWeights: weights, labelSmoothing: c.smoothing, reduction: .none, gradOutput: g)
        }
        let baseline = try call(NewLossCheck.threadEngines[0])
        NewLossCheck.expectInformative(baseline, c.testDescription)
        for engine in NewLossCheck.threadEngines.dropFirst() + [NewLossCheck.threadEngines[0]] {
            NewLossCheck.expectBitwise(try call(engine), baseline, "\(c.testDescription) \(engine.cpuThreads) threads")
        }
        let opencl = try Backends.engine(for: .opencl)
        let first = try call(opencl)
        NewLossCheck.expectBitwise(try call(opencl), first, "\(c.testDescription) OpenCL rerun")
    }
}
