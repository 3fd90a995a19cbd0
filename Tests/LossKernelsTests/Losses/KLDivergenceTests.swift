import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// `klDivLoss(logProbabilities:targets:logTarget:reduction:gradOutput:)` on every backend against
/// the float64 reference (KLDivergenceReference.swift): probability and log-probability targets
/// with exact zeros (and −∞ log-targets), inputs with −∞, every `KLDivReduction` and gradOutput,
/// more than 2^20 elements; the edges (t = 0 with x = −∞ or NaN gives 0; t > 0 with x = ±∞ or NaN);
/// refused targets; `checkFinite`; CPU–OpenCL agreement; bitwise determinism across thread counts.
@Suite struct KLDivergenceTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let rows: Int
        let columns: Int
        var logTarget = false
        /// Fraction of targets that are exactly 0 (−∞ as log-targets).
        var zeros: Double = 0
        /// Fraction of zero-target positions whose input is −∞.
        var maskedInputs: Double = 0
        /// Targets not normalised (values up to 2).
        var unnormalized = false
        var seed: UInt64 = 13

        var testDescription: String {
            "\(rows)×\(columns)\(logTarget ? " log-targets" : "") zeros \(zeros)" + (maskedInputs > 0 ? " −∞ inputs \(maskedInputs)" : "")
                + (unnormalized ? " unnormalised" : "")
        }

        func inputs() throws -> (x: Matrix, targets: Matrix, gradOutput: Matrix) {
            var rng = TestRNG(seed: seed &* 0x9E37_79B9 &+ UInt64(rows * 7919 + columns))
            // Log-probabilities of random logits, computed in double per row.
            var x = [Float](repeating: 0, count: rows * columns)
            for r in 0..<rows {
                let z = (0..<columns).map { _ in 2 * rng.normal() }
                let m = z.max()!
                let logSum = Foundation.log(z.reduce(0) { $0 + Foundation.exp($1 - m) })
                for c in 0..<columns { x[r * columns + c] = Float(z[c] - m - logSum) }
            }
            var t = NewLossCheck.probabilities(rows: rows, columns: columns, zeros: zeros, normalized: !unnormalized, rng: &rng)
            if unnormalized { t = t.map { 2 * $0 } }
            for i in t.indices where t[i] == 0 && rng.unit() < maskedInputs { x[i] = -.infinity }
            let targets = logTarget ? t.map { $0 == 0 ? -Float.infinity : Foundation.log($0) } : t
            let g = TestData.normal(rows * columns, scale: 2, rng: &rng)
            return (
                try Matrix(rows: rows, columns: columns, values: x), try Matrix(rows: rows, columns: columns, values: targets),
                try Matrix(rows: rows, columns: columns, values: g)
            )
        }
    }

    static let cases: [Case] = [
        Case(rows: 1, columns: 1),
        Case(rows: 1, columns: 1, logTarget: true),
        Case(rows: 3, columns: 2, zeros: 0.3),
        Case(rows: 17, columns: 7, logTarget: true, zeros: 0.3, maskedInputs: 0.5),
        Case(rows: 64, columns: 8, zeros: 0.5, maskedInputs: 1, unnormalized: true),
        Case(rows: 17, columns: 33, logTarget: true, unnormalized: true),
        Case(rows: 64, columns: 1000, zeros: 0.1, maskedInputs: 0.5),
        Case(rows: 3, columns: 20_000, logTarget: true, zeros: 0.2, maskedInputs: 0.3),
        // More than 2^20 elements (64×16,400): several device launches and many CPU blocks.
        Case(rows: 64, columns: 16_400, zeros: 0.2, maskedInputs: 0.2),
        Case(rows: 64, columns: 16_400, logTarget: true, zeros: 0.2, maskedInputs: 0.2, unnormalized: true),
    ]

    /// The reductions each case runs: every `KLDivReduction`, and none with an upstream gradient.
    static let variants: [(KLDivReduction, Bool)] = [(.batchMean, false), (.sum, false), (.mean, false), (.none, false), (.none, true)]

    @Test(arguments: Backends.all, cases)
    func matchesReference(_ backend: TestBackend, _ c: Case) throws {
        let engine = try Backends.engine(for: backend)
        let (x, targets, gradOutput) = try c.inputs()
        for (reduction, withGradOutput) in Self.variants {
            let g = withGradOutput ? gradOutput : nil
            let output = try engine.klDivLoss(logProbabilities: x, targets: targets, logTarget: c.logTarget, reduction: reduction, gradOutput: g)
            let reference = LossReference.klDivergence(
                input: x.values, targets: targets.values, rows: c.rows, columns: c.columns, logTarget: c.logTarget,
                reduction: reduction, gradOutput: g?.values)
            #expect(reference.loss.allSatisfy { $0.isFinite } && reference.gradient.allSatisfy { $0.isFinite }, "reference not finite")
            LossCheck.expectMatches(
                output, reference, backend: backend, rows: c.rows, columns: c.columns,
                "\(backend) \(c.testDescription) \(reduction.rawValue)\(withGradOutput ? " + gradOutput" : "")")
        }
    }

    /// The reductions divide as documented: batchMean by B, mean by B·C (the default), sum not at
    /// all; their gradients scale the same way.
    @Test(arguments: Backends.all)
    func reductionsDivideAsDocumented(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let (x, t, _) = try Case(rows: 4, columns: 5, zeros: 0.2).inputs()
        let sum = try engine.klDivLoss(logProbabilities: x, targets: t, reduction: .sum)
        let batchMean = try engine.klDivLoss(logProbabilities: x, targets: t, reduction: .batchMean)
        let mean = try engine.klDivLoss(logProbabilities: x, targets: t)
        #expect(sum.loss[0] > 0)
        expectClose(batchMean.loss, [Double(sum.loss[0]) / 4], "\(backend) batchmean = sum / B")
        expectClose(mean.loss, [Double(sum.loss[0]) / 20], "\(backend) mean (default) = sum / (B·C)")
        expectClose(batchMean.gradient.values, sum.gradient.values.map { Double($0) / 4 }, "\(backend) batchmean gradient")
        expectClose(mean.gradient.values, sum.gradient.values.map { Double($0) / 20 }, "\(backend) mean gradient")
        expectClose(sum.gradient.values, t.values.map { -Double($0) }, "\(backend) sum gradient = −t")
    }

    /// Per element: t = 0 gives ℓ = 0 and gradient 0 whatever x (−∞, NaN, +∞), where PyTorch gives
    /// NaN for x = −∞; t > 0 with x = −∞ gives +∞, with x = +∞ gives −∞, with x NaN gives NaN. The
    /// same with log-targets (lt = −∞ for t = 0).
    @Test(arguments: Backends.all, [false, true])
    func edgeElements(_ backend: TestBackend, _ logTarget: Bool) throws {
        let engine = try Backends.engine(for: backend)
        let inf = Float.infinity
        let x: [Float] = [-inf, .nan, inf, -1, -inf, inf, .nan, -0.5]
        let t: [Float] = [0, 0, 0, 0, 0.25, 0.5, 0.5, 1]
        let targets = logTarget ? t.map { $0 == 0 ? -inf : Foundation.log($0) } : t
        let xm = try Matrix(rows: 2, columns: 4, values: x), tm = try Matrix(rows: 2, columns: 4, values: targets)
        let out = try engine.klDivLoss(logProbabilities: xm, targets: tm, logTarget: logTarget, reduction: .none)
        #expect(Array(out.loss[0..<4]) == [0, 0, 0, 0] && Array(out.gradient.values[0..<4]) == [0, 0, 0, 0], "\(backend) t = 0: \(out.loss)")
        #expect(out.loss[4] == inf && out.loss[5] == -inf && out.loss[6].isNaN && out.loss[7].isFinite, "\(backend) t > 0: \(out.loss)")
        expectClose(Array(out.gradient.values[4..<8]), [-0.25, -0.5, -0.5, -1], "\(backend) gradient −t")
        LossCheck.expectMatches(
            out, LossReference.klDivergence(input: x, targets: targets, rows: 2, columns: 4, logTarget: logTarget, reduction: .none),
            backend: backend, rows: 2, columns: 4, "\(backend) edges")
        // Only zero-target elements are non-finite in x: every reduction stays finite.
        let safe = try Matrix(rows: 1, columns: 4, values: [-inf, .nan, inf, -1])
        let safeTargets = try Matrix(rows: 1, columns: 4, values: logTarget ? [-inf, -inf, -inf, Foundation.log(0.5)] : [0, 0, 0, 0.5])
        for reduction in KLDivReduction.allCases {
            let o = try engine.klDivLoss(logProbabilities: safe, targets: safeTargets, logTarget: logTarget, reduction: reduction)
            #expect(o.loss.allSatisfy { $0.isFinite } && o.gradient.values.allSatisfy { $0.isFinite }, "\(backend) \(reduction): \(o.loss)")
        }
    }

    /// The work a call states: input, targets and gradient once each (and the upstream), the loss
    /// (one value, or a tensor for none).
    @Test func statedWork() throws {
        let (b, c) = (3, 50)
        let x = Matrix(rows: b, columns: c, repeating: -1), t = Matrix(rows: b, columns: c, repeating: 0.02)
        let (_, batchMean) = try Engine.recordingWork { try Backends.cpuEngine.klDivLoss(logProbabilities: x, targets: t, reduction: .batchMean) }
        #expect(batchMean == OperationWork(bytes: (3 * b * c + 1) * 4))
        let g = Matrix(rows: b, columns: c, repeating: 3)   // not x's memory: the recorder counts one memory once
        let (_, none) = try Engine.recordingWork { try Backends.cpuEngine.klDivLoss(logProbabilities: x, targets: t, reduction: .none, gradOutput: g) }
        #expect(none == OperationWork(bytes: 5 * b * c * 4))
    }

    /// Every refused input names the tensor, index and value (or option) at fault.
    @Test func badInputsAreRefused() throws {
        let engine = Backends.cpuEngine
        let x = Matrix(rows: 2, columns: 3, repeating: -1)
        let t = try Matrix(rows: 2, columns: 3, values: [0.2, 0.3, 0.5, 0, 1, 0])
        func targets(_ bad: Float, at i: Int, log: Bool = false) throws -> Matrix {
            var values = log ? t.values.map { $0 == 0 ? -Float.infinity : Foundation.log($0) } : t.values
            values[i] = bad
            return try Matrix(rows: 2, columns: 3, values: values)
        }
        expectError(.value(tensor: "targets", index: 4, value: "-0.5"), "negative target") {
            try engine.klDivLoss(logProbabilities: x, targets: targets(-0.5, at: 4))
        }
        expectError(.value(tensor: "targets", index: 2, value: "nan"), "NaN target") {
            try engine.klDivLoss(logProbabilities: x, targets: targets(.nan, at: 2))
        }
        expectError(.value(tensor: "targets", index: 0, value: "inf"), "+∞ target") {
            try engine.klDivLoss(logProbabilities: x, targets: targets(.infinity, at: 0))
        }
        expectError(.value(tensor: "targets", index: 5, value: "-inf"), "−∞ target (not log)") {
            try engine.klDivLoss(logProbabilities: x, targets: targets(-.infinity, at: 5))
        }
        expectError(.value(tensor: "targets", index: 1, value: "nan"), "NaN log-target") {
            try engine.klDivLoss(logProbabilities: x, targets: targets(.nan, at: 1, log: true), logTarget: true)
        }
        expectError(.value(tensor: "targets", index: 3, value: "inf"), "+∞ log-target") {
            try engine.klDivLoss(logProbabilities: x, targets: targets(.infinity, at: 3, log: true), logTarget: true)
        }
        do {
            _ = try engine.klDivLoss(logProbabilities: x, targets: targets(.nan, at: 4, log: true), logTarget: true)
        } catch let error as LossKernelsError {
            #expect(error.description.contains("row 1, column 1"), "the message names row and column: \(error)")
        }
        // Log-targets: any finite value (positive too, t > 1) and −∞ are accepted.
        _ = try engine.klDivLoss(logProbabilities: x, targets: targets(3, at: 0, log: true), logTarget: true)
        expectError(.shape(tensor: "targets"), "targets of another shape") {
            try engine.klDivLoss(logProbabilities: x, targets: Matrix(rows: 3, columns: 2, repeating: 0.1))
        }
        for reduction in [KLDivReduction.batchMean, .sum, .mean] {
            expectError(.option(name: "gradOutput", value: "given with reduction \(reduction.rawValue)"), "gradOutput with \(reduction)") {
                try engine.klDivLoss(logProbabilities: x, targets: t, reduction: reduction, gradOutput: x)
            }
        }
        expectError(.shape(tensor: "gradOutput"), "gradOutput of another shape") {
            try engine.klDivLoss(logProbabilities: x, targets: t, reduction: .none, gradOutput: Matrix(rows: 1, columns: 6, repeating: 1))
        }
        expectError(.shape(tensor: "logProbabilities"), "empty input") {
            try engine.klDivLoss(logProbabilities: Matrix(rows: 0, columns: 3, values: []), targets: Matrix(rows: 0, columns: 3, values: []))
        }
    }

    /// `checkFinite`: an input that is NaN or +∞, or a non-finite gradOutput, is refused with its
    /// index; −∞ inputs and −∞ log-targets are accepted.
    @Test(arguments: Backends.all)
    func checkFinite(_ backend: TestBackend) throws {
        let engine = try NewLossCheck.checkingEngine(for: backend)
        let t = try Matrix(rows: 1, columns: 4, values: [0.25, 0.25, 0, 0.5])
        for bad in [Float.nan, .infinity] {
            expectError(.value(tensor: "logProbabilities", index: 1, value: "\(bad)"), "\(backend) \(bad) input") {
                try engine.klDivLoss(logProbabilities: Matrix(rows: 1, columns: 4, values: [-1, bad, -1, -1]), targets: t)
            }
            expectError(.value(tensor: "gradOutput", index: 3, value: "\(bad)"), "\(backend) \(bad) gradOutput") {
                try engine.klDivLoss(
                    logProbabilities: Matrix(rows: 1, columns: 4, repeating: -1), targets: t, reduction: .none,
                    gradOutput: Matrix(rows: 1, columns: 4, values: [1, 1, 1, bad]))
            }
        }
        let masked = try engine.klDivLoss(logProbabilities: Matrix(rows: 1, columns: 4, values: [-1, -1, -.infinity, -1]), targets: t)
        #expect(masked.loss[0].isFinite, "−∞ at a zero target is accepted and adds 0")
        let logTargets = try Matrix(rows: 1, columns: 4, values: [Foundation.log(0.25), Foundation.log(0.25), -.infinity, Foundation.log(0.5)])
        let withLogTargets = try engine.klDivLoss(logProbabilities: Matrix(rows: 1, columns: 4, repeating: -1), targets: logTargets, logTarget: true)
        #expect(withLogTargets.loss[0].isFinite, "−∞ log-targets are accepted under checkFinite")
    }

    @Test func cpuAndOpenCLAgree() throws {
        let opencl = try Backends.engine(for: .opencl)
        for c in [
            Case(rows: 64, columns: 16_400, zeros: 0.2, maskedInputs: 0.5), Case(rows: 17, columns: 1000, logTarget: true, zeros: 0.3, unnormalized: true),
        ] {
            let (x, t, g) = try c.inputs()
            for (reduction, gradOutput) in [(KLDivReduction.batchMean, nil), (.none, g)] as [(KLDivReduction, Matrix?)] {
                let a = try Backends.cpuEngine.klDivLoss(logProbabilities: x, targets: t, logTarget: c.logTarget, reduction: reduction, gradOutput: gradOutput)
                let b = try opencl.klDivLoss(logProbabilities: x, targets: t, logTarget: c.logTarget, reduction: reduction, gradOutput: gradOutput)
                NewLossCheck.expectBackendsAgree(cpu: a, opencl: b, "\(c.testDescription) \(reduction.rawValue)")
            }
        }
    }

    /// Identical bits with 1, 2 and 3 CPU threads over 401×499 elements, and across runs on one
    /// engine (OpenCL too).
    @Test(arguments: [false, true])
    func deterministicAcrossThreadCounts(_ logTarget: Bool) throws {
        let c = Case(rows: 401, columns: 499, logTarget: logTarget, zeros: 0.2, maskedInputs: 0.5)
        let (x, t, g) = try c.inputs()
        for (reduction, gradOutput) in [(KLDivReduction.batchMean, nil), (.none, g)] as [(KLDivReduction, Matrix?)] {
            let call = { (e: Engine) in try e.klDivLoss(logProbabilities: x, targets: t, logTarget: logTarget, reduction: reduction, gradOutput: gradOutput) }
            let baseline = try call(NewLossCheck.threadEngines[0])
            NewLossCheck.expectInformative(baseline, "\(c.testDescription) \(reduction.rawValue)")
            for engine in NewLossCheck.threadEngines.dropFirst() + [NewLossCheck.threadEngines[0]] {
                NewLossCheck.expectBitwise(try call(engine), baseline, "\(c.testDescription) \(reduction.rawValue) \(engine.cpuThreads) threads")
            }
            let opencl = try Backends.engine(for: .opencl)
            NewLossCheck.expectBitwise(try call(opencl), try call(opencl), "\(c.testDescription) \(reduction.rawValue) OpenCL rerun")
        }
    }
}
