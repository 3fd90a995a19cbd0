import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// `nllLoss(logProbabilities:labels:classWeights:ignoreIndex:reduction:gradOutput:)` on every
/// backend against the float64 reference (NLLReference.swift): class weights, ignored rows (also an
/// ignore index that is a valid class), every reduction and gradOutput, −∞ and NaN away from the
/// targets, rows longer than 16,384 columns and more than 2^20 values; the edges (every row ignored,
/// a zero denominator, −∞ at a target, non-finite ignored rows); a gradient that is exactly zero
/// off the targets; refused inputs; `checkFinite`; CPU–OpenCL agreement; bitwise determinism
/// across thread counts.
@Suite struct NLLLossTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let rows: Int
        let columns: Int
        var weighted = false
        var ignoreIndex = -100
        /// Rows (at random positions) whose label is set to `ignoreIndex`.
        var ignoredRows = 0
        /// Probability of a −∞ per entry off the targets (NaN in ignored rows).
        var maskProbability: Double = 0
        var seed: UInt64 = 21

        var testDescription: String {
            var text = "\(rows)×\(columns)"
            if weighted { text += " weights" }
            if ignoredRows > 0 { text += " ignore \(ignoredRows) rows (index \(ignoreIndex))" }
            if maskProbability > 0 { text += " −∞ off target \(maskProbability)" }
            return text
        }

        func inputs() throws -> (x: Matrix, labels: [Int], weights: [Float]?, gradOutput: [Float]) {
            var rng = TestRNG(seed: seed &* 0x9E37_79B9 &+ UInt64(rows * 7919 + columns))
            var x = (0..<rows * columns).map { _ in Float(-3 * rng.unit() - 0.01) }
            var labels = (0..<rows).map { _ in rng.index(columns) }
            if ignoredRows > 0 {
                var order = Array(0..<rows)
                order.shuffle(using: &rng)
                for r in order.prefix(ignoredRows) { labels[r] = ignoreIndex }
            }
            for r in 0..<rows {
                for j in 0..<columns where j != labels[r] && rng.unit() < maskProbability {
                    x[r * columns + j] = labels[r] == ignoreIndex && rng.unit() < 0.5 ? .nan : -.infinity
                }
            }
            let weights = weighted ? (0..<columns).map { _ in Float(0.1 + 2.9 * rng.unit()) } : nil
            return (try Matrix(rows: rows, columns: columns, values: x), labels, weights, TestData.normal(rows, scale: 2, rng: &rng))
        }
    }

    static let cases: [Case] = [
        Case(rows: 1, columns: 1),
        Case(rows: 3, columns: 2),
        Case(rows: 17, columns: 7, weighted: true),
        Case(rows: 64, columns: 8, ignoredRows: 10),
        Case(rows: 17, columns: 8, weighted: true, ignoreIndex: 3, ignoredRows: 5, maskProbability: 0.3),
        Case(rows: 64, columns: 1000, weighted: true, ignoredRows: 9, maskProbability: 0.5),
        Case(rows: 1, columns: 20_000, weighted: true),
        Case(rows: 3, columns: 20_000, ignoredRows: 1, maskProbability: 0.2),
        // More than 2^20 values (64×16,400).
        Case(rows: 64, columns: 16_400, weighted: true, ignoredRows: 7, maskProbability: 0.1),
        // Many short rows: gradient blocks hold many targets each.
        Case(rows: 100_000, columns: 3, weighted: true, ignoreIndex: 0, ignoredRows: 1000),
    ]

    @Test(arguments: Backends.all, cases)
    func matchesReference(_ backend: TestBackend, _ c: Case) throws {
        let engine = try Backends.engine(for: backend)
        let (x, labels, weights, gradOutput) = try c.inputs()
        for (reduction, withGradOutput) in LossCheck.variants {
            let g = withGradOutput ? gradOutput : nil
            let output = try engine.nllLoss(
                logProbabilities: x, labels: labels, classWeights: weights, ignoreIndex: c.ignoreIndex, reduction: reduction, gradOutput: g)
            let reference = LossReference.nllLoss(
                logProbabilities: x.values, rows: c.rows, columns: c.columns, labels: labels, classWeights: weights,
                ignoreIndex: c.ignoreIndex, reduction: reduction, gradOutput: g)
            #expect(reference.loss.allSatisfy { $0.isFinite }, "reference loss not finite")
            LossCheck.expectMatches(
                output, reference, backend: backend, rows: c.rows, columns: c.columns,
                "\(backend) \(c.testDescription) \(LossCheck.describe(reduction, withGradOutput))")
            // The gradient is exactly zero but at the counted rows' targets.
            let allowed = Set(labels.indices.compactMap { labels[$0] == c.ignoreIndex ? nil : $0 * c.columns + labels[$0] })
            let stray = NewLossCheck.nonZeroIndices(output.gradient.values).filter { !allowed.contains($0) }
            #expect(stray.isEmpty, "\(backend) \(c.testDescription): non-zero gradient off the targets at \(stray.prefix(5))")
        }
    }

    /// Defaults: no weights, ignore index −100, mean.
    @Test(arguments: Backends.all)
    func defaults(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let (x, labels, _, _) = try Case(rows: 6, columns: 5).inputs()
        LossCheck.expectMatches(
            try engine.nllLoss(logProbabilities: x, labels: labels),
            LossReference.nllLoss(logProbabilities: x.values, rows: 6, columns: 5, labels: labels),
            backend: backend, rows: 6, columns: 5, "\(backend) defaults")
    }

    /// Every row ignored: mean NaN (0/0), sum 0, none all 0, gradient all 0 — even with NaN and ±∞
    /// in the rows. A zero denominator with counted rows (their classes weigh 0): mean NaN, NaN at
    /// those targets, 0 elsewhere. −∞ at a target: +∞.
    @Test(arguments: Backends.all)
    func edges(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let inf = Float.infinity
        let x = try Matrix(rows: 3, columns: 4, values: [-1, .nan, inf, -2, -inf, -0.5, -1, -1, -0.1, -0.2, -0.3, -0.4])
        for (reduction, g) in LossCheck.variants.map({ ($0.reduction, $0.withGradOutput ? [Float]([2, -1, 0.5]) : nil) }) {
            let out = try engine.nllLoss(logProbabilities: x, labels: [7, 7, 7], ignoreIndex: 7, reduction: reduction, gradOutput: g)
            #expect(out.gradient.values.allSatisfy { $0 == 0 }, "\(backend) all ignored: gradient \(out.gradient.values)")
            switch reduction {
            case .mean: #expect(out.loss.count == 1 && out.loss[0].isNaN, "\(backend) all ignored mean: \(out.loss)")
            case .sum: #expect(out.loss == [0])
            case .none: #expect(out.loss == [0, 0, 0])
            }
        }
        // Rows 0 and 2 count, with class weight 0: the denominator is 0.
        let w: [Float] = [0, 1, 1, 0]
        let zero = try engine.nllLoss(logProbabilities: x, labels: [0, -100, 3], classWeights: w)
        let zeroReference = LossReference.nllLoss(logProbabilities: x.values, rows: 3, columns: 4, labels: [0, -100, 3], classWeights: w)
        #expect(zero.loss[0].isNaN && zero.gradient.values[0].isNaN && zero.gradient.values[11].isNaN)
        #expect(zero.gradient.values.indices.filter { $0 != 0 && $0 != 11 }.allSatisfy { zero.gradient.values[$0] == 0 }, "0 off the targets")
        LossCheck.expectMatches(zero, zeroReference, backend: backend, rows: 3, columns: 4, "\(backend) zero denominator")
        // −∞ at a counted target: +∞ (sum); NaN off the target does not matter.
        let masked = try engine.nllLoss(logProbabilities: x, labels: [0, 0, 2], reduction: .none)
        #expect(masked.loss[0] == 1 && masked.loss[1] == inf && masked.loss[2] == Float(0.3), "\(backend) \(masked.loss)")
        #expect(masked.gradient.values == [-1, 0, 0, 0, -1, 0, 0, 0, 0, 0, -1, 0])
        // Weights and the mean's denominator Σ w_y: (2·1 + 3·0.3)/(2 + 3).
        let weighted = try engine.nllLoss(logProbabilities: x, labels: [0, -100, 2], classWeights: [2, 1, 3, 1])
        expectClose(weighted.loss, [(2 * 1 + 3 * Double(Float(0.3))) / 5], "\(backend) weighted mean")
        expectClose(weighted.gradient.values, [-0.4, 0, 0, 0, 0, 0, 0, 0, 0, 0, -0.6, 0], "\(backend) weighted mean gradient")
    }

    /// The work a call states (what `auto` and `bench` read): the log-probabilities and the gradient
    /// once each (every input counts as read once, though only one value per row is), the labels
    /// (8 bytes each), the upstream and class weights, the loss.
    @Test func statedWork() throws {
        let (b, c) = (3, 50)
        let x = Matrix(rows: b, columns: c, repeating: -1)
        let (_, plain) = try Engine.recordingWork { try Backends.cpuEngine.nllLoss(logProbabilities: x, labels: [0, 1, 2]) }
        #expect(plain == OperationWork(bytes: (2 * b * c + 1) * 4 + 8 * b))
        let (_, full) = try Engine.recordingWork {
            try Backends.cpuEngine.nllLoss(
                logProbabilities: x, labels: [0, 1, 2], classWeights: [Float](repeating: 1, count: c), reduction: .none,
                gradOutput: [1, 1, 1])
        }
        #expect(full == OperationWork(bytes: (2 * b * c + b + c + b) * 4 + 8 * b))
    }

    /// Every refused input names the tensor, index and value (or option) at fault.
    @Test func badInputsAreRefused() throws {
        let engine = Backends.cpuEngine
        let x = Matrix(rows: 3, columns: 4, repeating: -1)
        expectError(.value(tensor: "labels", index: 1, value: "4"), "label = C") {
            try engine.nllLoss(logProbabilities: x, labels: [0, 4, 1])
        }
        expectError(.value(tensor: "labels", index: 2, value: "-1"), "negative label that is not the ignore index") {
            try engine.nllLoss(logProbabilities: x, labels: [0, 1, -1])
        }
        expectError(.value(tensor: "labels", index: 0, value: "-100"), "the default ignore index when another is set") {
            try engine.nllLoss(logProbabilities: x, labels: [-100, 1, 2], ignoreIndex: 3)
        }
        expectError(.shape(tensor: "labels"), "one label too few") {
            try engine.nllLoss(logProbabilities: x, labels: [0, 1])
        }
        expectError(.shape(tensor: "classWeights"), "weights of the wrong length") {
            try engine.nllLoss(logProbabilities: x, labels: [0, 1, 2], classWeights: [1, 1, 1])
        }
        expectError(.value(tensor: "classWeights", index: 1, value: "inf"), "infinite weight") {
            try engine.nllLoss(logProbabilities: x, labels: [0, 1, 2], classWeights: [1, .infinity, 1, 1])
        }
        for reduction in [LossReduction.mean, .sum] {
            expectError(.option(name: "gradOutput", value: nil), "gradOutput with \(reduction)") {
                try engine.nllLoss(logProbabilities: x, labels: [0, 1, 2], reduction: reduction, gradOutput: [1, 1, 1])
            }
        }
        expectError(.shape(tensor: "gradOutput"), "gradOutput of the wrong length") {
            try engine.nllLoss(logProbabilities: x, labels: [0, 1, 2], reduction: .none, gradOutput: [1, 1])
        }
        expectError(.shape(tensor: "logProbabilities"), "no rows") {
            try engine.nllLoss(logProbabilities: Matrix(rows: 0, columns: 4, values: []), labels: [])
        }
        expectError(.shape(tensor: "logProbabilities"), "no columns") {
            try engine.nllLoss(logProbabilities: Matrix(rows: 2, columns: 0, values: []), labels: [-100, -100])
        }
    }

    /// `checkFinite`: NaN or +∞ anywhere in the input (even off the targets, even in an ignored
    /// row), or a non-finite gradOutput, is refused with its index; −∞ is accepted.
    @Test(arguments: Backends.all)
    func checkFinite(_ backend: TestBackend) throws {
        let engine = try NewLossCheck.checkingEngine(for: backend)
        for bad in [Float.nan, .infinity] {
            expectError(.value(tensor: "logProbabilities", index: 5, value: "\(bad)"), "\(backend) \(bad) input") {
                try engine.nllLoss(logProbabilities: Matrix(rows: 2, columns: 3, values: [-1, -1, -1, -1, -1, bad]), labels: [0, -100])
            }
            expectError(.value(tensor: "gradOutput", index: 0, value: "\(bad)"), "\(backend) \(bad) gradOutput") {
                try engine.nllLoss(logProbabilities: Matrix(rows: 2, columns: 3, repeating: -1), labels: [0, 1], reduction: .none, gradOutput: [bad, 1])
            }
        }
        let masked = try engine.nllLoss(logProbabilities: Matrix(rows: 2, columns: 3, values: [-1, -.infinity, -1, -1, -1, -.infinity]), labels: [0, 1])
        #expect(masked.loss[0] == 1, "−∞ off the targets is accepted: \(masked.loss)")
        let unchecked = try Backends.engine(for: backend).nllLoss(
            logProbabilities: Matrix(rows: 2, columns: 3, values: [-1, -1, -1, -1, .nan, -1]),
            labels: [0, 1], reduction: .none)
        #expect(unchecked.loss[0] == 1 && unchecked.loss[1].isNaN, "without checkFinite NaN at a target flows: \(unchecked.loss)")
    }

    /// The backends agree; here bitwise, since both compute the losses and gradient values the
    /// same way on the host.
    @Test func cpuAndOpenCLAgree() throws {
        let opencl = try Backends.engine(for: .opencl)
        let c = Case(rows: 64, columns: 16_400, weighted: true, ignoredRows: 7, maskProbability: 0.1)
        let (x, labels, weights, g) = try c.inputs()
        for (reduction, gradOutput) in [(LossReduction.mean, nil), (.none, g)] as [(LossReduction, [Float]?)] {
            let a = try Backends.cpuEngine.nllLoss(logProbabilities: x, labels: labels, classWeights: weights, reduction: reduction, gradOutput: gradOutput)
            let b = try opencl.nllLoss(logProbabilities: x, labels: labels, classWeights: weights, reduction: reduction, gradOutput: gradOutput)
            NewLossCheck.expectBackendsAgree(cpu: a, opencl: b, "\(c.testDescription) \(reduction)")
            NewLossCheck.expectBitwise(b, a, "\(c.testDescription) \(reduction) OpenCL vs CPU")
        }
    }

    /// Identical bits with 1, 2 and 3 CPU threads (tall and wide inputs), and across runs on one engine.
    @Test(arguments: [Case(rows: 100_000, columns: 7, weighted: true, ignoredRows: 100), Case(rows: 2, columns: 300_000, ignoredRows: 0)])
    func deterministicAcrossThreadCounts(_ c: Case) throws {
        let (x, labels, weights, g) = try c.inputs()
        for (reduction, gradOutput) in [(LossReduction.mean, nil), (.none, g)] as [(LossReduction, [Float]?)] {
            let call = { (e: Engine) in
                try e.nllLoss(
                    logProbabilities: x, labels: labels, classWeights: weights, ignoreIndex: c.ignoreIndex, reduction: reduction, gradOutput: gradOutput)
            }
            let baseline = try call(NewLossCheck.threadEngines[0])
            NewLossCheck.expectInformative(baseline, "\(c.testDescription) \(reduction)")
            for engine in NewLossCheck.threadEngines.dropFirst() + [NewLossCheck.threadEngines[0]] {
                NewLossCheck.expectBitwise(try call(engine), baseline, "\(c.testDescription) \(reduction) \(engine.cpuThreads) threads")
            }
            let opencl = try Backends.engine(for: .opencl)
            NewLossCheck.expectBitwise(try call(opencl), try call(opencl), "\(c.testDescription) \(reduction) OpenCL rerun")
        }
    }
}
