import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// `binaryCrossEntropyWithLogits(logits:targets:weight:posWeight:…)` on every backend against the
/// float64 reference (WeightedBinaryCrossEntropyReference.swift): element weights of the logits'
/// shape or one broadcast row, per-column positive weights, each alone and together, zero weights,
/// hard/soft/mixed targets, logits of ±100, every reduction and gradOutput, more than 2^20
/// elements; that the unweighted call is unchanged; refused inputs; `checkFinite`; CPU–OpenCL
/// agreement; bitwise determinism across thread counts.
@Suite struct WeightedBinaryCrossEntropyTests {
    enum WeightKind: String, Sendable {
        case none
        /// The logits' shape.
        case full
        /// One row of C values for every row.
        case row
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let rows: Int
        let columns: Int
        var weight: WeightKind = .full
        var posWeight = true
        var scale: Double = 3
        var targets: BinaryLossTests.Targets = .mixed
        var extremes = false
        /// Fraction of weights (and positive weights) that are exactly 0.
        var zeroWeights: Double = 0
        var seed: UInt64 = 9

        var testDescription: String {
            "\(rows)×\(columns) weight \(weight.rawValue)\(posWeight ? " + posWeight" : "") scale \(scale) \(targets.rawValue) targets"
                + (extremes ? " + extreme logits" : "") + (zeroWeights > 0 ? " zero weights \(zeroWeights)" : "")
        }

        struct Inputs {
            var logits: Matrix, targets: Matrix, gradOutput: Matrix
            var weight: Matrix?, posWeight: [Float]?
        }

        func inputs() throws -> Inputs {
            let base = BinaryLossTests.Case(loss: .bce, rows: rows, columns: columns, scale: scale, targets: targets, extremes: extremes, seed: seed)
            let (logits, targets, gradOutput) = try base.inputs()
            var rng = TestRNG(seed: seed &+ 0x5EED &+ UInt64(rows * 31 + columns))
            func positive(_ count: Int) -> [Float] {
                (0..<count).map { _ in rng.unit() < zeroWeights ? 0 : Float(0.05 + 3 * rng.unit()) }
            }
            let weight: Matrix?
            switch self.weight {
            case .none: weight = nil
            case .full: weight = try Matrix(rows: rows, columns: columns, values: positive(rows * columns))
            case .row: weight = try Matrix(rows: 1, columns: columns, values: positive(columns))
            }
            return Inputs(logits: logits, targets: targets, gradOutput: gradOutput, weight: weight, posWeight: posWeight ? positive(columns) : nil)
        }
    }

    static let cases: [Case] = [
        Case(rows: 1, columns: 1),
        Case(rows: 1, columns: 1, weight: .row, posWeight: false),
        Case(rows: 3, columns: 2, weight: .none),
        Case(rows: 3, columns: 2, weight: .row, posWeight: false, targets: .soft),
        Case(rows: 17, columns: 7, targets: .hard, extremes: true),
        Case(rows: 64, columns: 8, weight: .row, extremes: true),
        Case(rows: 3, columns: 9, weight: .none, scale: 100, targets: .soft),
        Case(rows: 17, columns: 33, weight: .full, posWeight: false, targets: .soft, extremes: true),
        Case(rows: 17, columns: 33, zeroWeights: 0.3),
        Case(rows: 64, columns: 1000, weight: .row, targets: .soft, extremes: true, zeroWeights: 0.1),
        Case(rows: 3, columns: 20_000, scale: 30, targets: .hard, extremes: true),
        // More than one launch of 2^20 work-items, and many thread blocks with columns straddling them.
        Case(rows: 53, columns: 20_000, weight: .row, extremes: true),
        Case(rows: 53, columns: 20_000, weight: .full, posWeight: false, targets: .soft),
    ]

    static func reference(_ x: Case.Inputs, _ reduction: LossReduction, _ g: Matrix?) -> LossReference.Result {
        LossReference.binaryCrossEntropyWithLogits(
            logits: x.logits.values, targets: x.targets.values, columns: x.logits.columns, weights: x.weight?.values,
            posWeight: x.posWeight, reduction: reduction, gradOutput: g?.values)
    }

    @Test(arguments: Backends.all, cases)
    func matchesReference(_ backend: TestBackend, _ c: Case) throws {
        let engine = try Backends.engine(for: backend)
        let x = try c.inputs()
        for (reduction, withGradOutput) in LossCheck.variants {
            let g = withGradOutput ? x.gradOutput : nil
            let output = try engine.binaryCrossEntropyWithLogits(
                logits: x.logits, targets: x.targets, weight: x.weight, posWeight: x.posWeight,
                reduction: reduction, gradOutput: g)
            let reference = Self.reference(x, reduction, g)
            #expect(reference.loss.allSatisfy { $0.isFinite } && reference.gradient.allSatisfy { $0.isFinite }, "reference not finite")
            LossCheck.expectMatches(
                output, reference, backend: backend, rows: c.rows, columns: c.columns,
                "\(backend) \(c.testDescription) \(LossCheck.describe(reduction, withGradOutput))")
        }
    }

    /// Known values: with `ew = 2`, `pw = 3`, `z = 0`, `t = 1`: `ℓ = 2·3·log 2`, `∂ℓ/∂z = 2·(3·0.5 − 3)`;
    /// `t = 0`: `ℓ = 2·log 2`, `∂ℓ/∂z = 2·0.5`. Zero weights give exactly 0; a zero positive weight
    /// leaves only the negative term.
    @Test(arguments: Backends.all)
    func knownValues(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let logits = try Matrix(rows: 2, columns: 3, values: [0, 0, 5, 0, 7, -5])
        let targets = try Matrix(rows: 2, columns: 3, values: [1, 0, 1, 1, 0.5, 0])
        let weight = try Matrix(rows: 1, columns: 3, values: [2, 2, 0])
        let out = try engine.binaryCrossEntropyWithLogits(logits: logits, targets: targets, weight: weight, posWeight: [3, 3, 0], reduction: .none)
        let log2 = Float(Foundation.log(2.0))
        expectClose([out.loss[0], out.loss[1], out.loss[3]], [Double(6 * log2), Double(2 * log2), Double(6 * log2)], "\(backend) known losses")
        expectClose([out.gradient.values[0], out.gradient.values[1]], [2 * (1.5 - 3), 1], "\(backend) known derivatives")
        #expect(out.loss[2] == 0 && out.gradient.values[2] == 0 && out.loss[5] == 0 && out.gradient.values[5] == 0, "zero element weight: exactly 0")
        // Column 2 of row 1 (t = 0, pw = 0, ew = 0 there too); row 1 column 1: t = 0.5 with pw = 3.
        let reference = LossReference.binaryCrossEntropyWithLogits(
            logits: logits.values, targets: targets.values, columns: 3, weights: weight.values,
            posWeight: [3, 3, 0], reduction: .none)
        LossCheck.expectMatches(out, reference, backend: backend, rows: 2, columns: 3, "\(backend) known values")
    }

    /// Without weight and posWeight the call is the plain BCE: the reference of the unweighted
    /// loss, and (within rounding) the weighted path with weights of 1; a 1×C weight equals the
    /// same row repeated as a full B×C weight.
    @Test(arguments: Backends.all)
    func unweightedAndBroadcastEquivalences(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let x = try Case(rows: 17, columns: 33, weight: .row, extremes: true).inputs()
        let plain = try engine.binaryCrossEntropyWithLogits(logits: x.logits, targets: x.targets, reduction: .none)
        LossCheck.expectMatches(
            plain, LossReference.binaryCrossEntropyWithLogits(logits: x.logits.values, targets: x.targets.values, reduction: .none),
            backend: backend, rows: 17, columns: 33, "\(backend) unweighted")
        let ones = try engine.binaryCrossEntropyWithLogits(
            logits: x.logits, targets: x.targets, weight: Matrix(rows: 1, columns: 33, repeating: 1),
            posWeight: [Float](repeating: 1, count: 33), reduction: .none)
        expectClose(ones.loss, plain.loss.map(Double.init), tolerance: 2e-5, "\(backend) weights of 1 vs unweighted: loss")
        expectClose(ones.gradient.values, plain.gradient.values.map(Double.init), tolerance: 2e-5, "\(backend) weights of 1 vs unweighted: gradient")
        let row = x.weight!
        let full = try Matrix(rows: 17, columns: 33, values: (0..<17).flatMap { _ in row.values })
        for reduction in [LossReduction.mean, .none] {
            let broadcast = try engine.binaryCrossEntropyWithLogits(
                logits: x.logits, targets: x.targets, weight: row, posWeight: x.posWeight, reduction: reduction)
            let repeated = try engine.binaryCrossEntropyWithLogits(
                logits: x.logits, targets: x.targets, weight: full, posWeight: x.posWeight, reduction: reduction)
            NewLossCheck.expectBitwise(broadcast, repeated, "\(backend) 1×C weight vs the row repeated (\(reduction))")
        }
    }

    /// The work a call states: logits, targets, the weights as given (B·C or C values), posWeight
    /// and the gradient once each, the loss (one value, or a tensor for none).
    @Test func statedWork() throws {
        let (b, c) = (3, 50)
        let z = Matrix(rows: b, columns: c, repeating: 0.5), t = Matrix(rows: b, columns: c, repeating: 1)
        let posWeight = [Float](repeating: 2, count: c)
        let (_, row) = try Engine.recordingWork {
            try Backends.cpuEngine.binaryCrossEntropyWithLogits(logits: z, targets: t, weight: Matrix(rows: 1, columns: c, repeating: 1), posWeight: posWeight)
        }
        #expect(row == OperationWork(bytes: (3 * b * c + 2 * c + 1) * 4))
        let (_, full) = try Engine.recordingWork {
            // Distinct arrays: the recorder counts one memory once.
            try Backends.cpuEngine.binaryCrossEntropyWithLogits(
                logits: z, targets: t, weight: Matrix(rows: b, columns: c, repeating: 2), reduction: .none,
                gradOutput: Matrix(rows: b, columns: c, repeating: 3))
        }
        #expect(full == OperationWork(bytes: 6 * b * c * 4))
    }

    /// Every refused input names the tensor, index and value (or option) at fault.
    @Test func badInputsAreRefused() throws {
        let engine = Backends.cpuEngine
        let z = try Matrix(rows: 3, columns: 2, values: [0, 1, 2, 3, 4, 5])
        let t = try Matrix(rows: 3, columns: 2, values: [0, 1, 0.5, 0, 1, 0])
        let w = Matrix(rows: 3, columns: 2, repeating: 1)
        expectError(.value(tensor: "targets", index: 3, value: "1.5"), "target above 1") {
            try engine.binaryCrossEntropyWithLogits(logits: z, targets: Matrix(rows: 3, columns: 2, values: [0, 1, 0.5, 1.5, 1, 0]), weight: w)
        }
        expectError(.value(tensor: "targets", index: 0, value: "-0.1"), "target below 0") {
            try engine.binaryCrossEntropyWithLogits(logits: z, targets: Matrix(rows: 3, columns: 2, values: [-0.1, 1, 0.5, 0, 1, 0]), posWeight: [1, 1])
        }
        expectError(.shape(tensor: "posWeight"), "posWeight of the wrong length") {
            try engine.binaryCrossEntropyWithLogits(logits: z, targets: t, posWeight: [1, 1, 1])
        }
        expectError(.shape(tensor: "posWeight"), "empty posWeight") {
            try engine.binaryCrossEntropyWithLogits(logits: z, targets: t, posWeight: [])
        }
        for (rows, columns) in [(3, 3), (2, 2), (2, 1), (1, 3), (6, 1)] {
            expectError(.shape(tensor: "weight"), "weight of shape [\(rows), \(columns)]") {
                try engine.binaryCrossEntropyWithLogits(logits: z, targets: t, weight: Matrix(rows: rows, columns: columns, repeating: 1))
            }
        }
        expectError(.value(tensor: "weight", index: 4, value: "-1.0"), "negative weight") {
            try engine.binaryCrossEntropyWithLogits(logits: z, targets: t, weight: Matrix(rows: 3, columns: 2, values: [1, 1, 1, 1, -1, 1]))
        }
        expectError(.value(tensor: "weight", index: 1, value: "inf"), "infinite broadcast weight") {
            try engine.binaryCrossEntropyWithLogits(logits: z, targets: t, weight: Matrix(rows: 1, columns: 2, values: [1, .infinity]))
        }
        expectError(.value(tensor: "posWeight", index: 0, value: "nan"), "NaN posWeight") {
            try engine.binaryCrossEntropyWithLogits(logits: z, targets: t, posWeight: [.nan, 1])
        }
        expectError(.value(tensor: "posWeight", index: 1, value: "-2.0"), "negative posWeight") {
            try engine.binaryCrossEntropyWithLogits(logits: z, targets: t, posWeight: [1, -2])
        }
        for reduction in [LossReduction.mean, .sum] {
            expectError(.option(name: "gradOutput", value: nil), "gradOutput with \(reduction)") {
                try engine.binaryCrossEntropyWithLogits(logits: z, targets: t, weight: w, reduction: reduction, gradOutput: w)
            }
        }
        expectError(.shape(tensor: "gradOutput"), "gradOutput of another shape") {
            try engine.binaryCrossEntropyWithLogits(
                logits: z, targets: t, posWeight: [1, 1], reduction: .none, gradOutput: Matrix(rows: 2, columns: 3, repeating: 1))
        }
        expectError(.shape(tensor: "targets"), "targets of another shape") {
            try engine.binaryCrossEntropyWithLogits(logits: z, targets: Matrix(rows: 2, columns: 3, repeating: 0), weight: w)
        }
    }

    /// `checkFinite` refuses a NaN or +∞ logit with its index (weights are always checked);
    /// without it a NaN logit gives NaN in its element only.
    @Test(arguments: Backends.all)
    func checkFinite(_ backend: TestBackend) throws {
        let engine = try NewLossCheck.checkingEngine(for: backend)
        let t = Matrix(rows: 2, columns: 2, repeating: 0.5), w = Matrix(rows: 1, columns: 2, repeating: 2)
        for bad in [Float.nan, .infinity, -.infinity] {
            expectError(.value(tensor: "logits", index: 2, value: "\(bad)"), "\(backend) \(bad) logit") {
                try engine.binaryCrossEntropyWithLogits(logits: Matrix(rows: 2, columns: 2, values: [0, 1, bad, 3]), targets: t, weight: w, posWeight: [1, 2])
            }
        }
        let out = try Backends.engine(for: backend).binaryCrossEntropyWithLogits(
            logits: Matrix(rows: 2, columns: 2, values: [0, 1, .nan, 3]), targets: t,
            weight: w, posWeight: [1, 2], reduction: .none)
        #expect(out.loss[2].isNaN && out.loss[0].isFinite && out.loss[1].isFinite && out.loss[3].isFinite, "without checkFinite: \(out.loss)")
    }

    @Test func cpuAndOpenCLAgree() throws {
        let opencl = try Backends.engine(for: .opencl)
        for c in [
            Case(rows: 53, columns: 20_000, weight: .full, extremes: true, zeroWeights: 0.05), Case(rows: 64, columns: 1000, weight: .row, targets: .soft),
        ] {
            let x = try c.inputs()
            for (reduction, g) in [(LossReduction.mean, nil), (.none, x.gradOutput)] as [(LossReduction, Matrix?)] {
                let a = try Backends.cpuEngine.binaryCrossEntropyWithLogits(
                    logits: x.logits, targets: x.targets, weight: x.weight, posWeight: x.posWeight,
                    reduction: reduction, gradOutput: g)
                let b = try opencl.binaryCrossEntropyWithLogits(
                    logits: x.logits, targets: x.targets, weight: x.weight, posWeight: x.posWeight,
                    reduction: reduction, gradOutput: g)
                NewLossCheck.expectBackendsAgree(cpu: a, opencl: b, "\(c.testDescription) \(reduction)")
            }
        }
    }

    /// Identical bits with 1, 2 and 3 CPU threads over 401×499 elements (blocks straddle rows), for
    /// full and broadcast weights, and across runs on one engine (OpenCL too).
    @Test(arguments: [WeightKind.full, .row])
    func deterministicAcrossThreadCounts(_ weight: WeightKind) throws {
        let c = Case(rows: 401, columns: 499, weight: weight, extremes: true)
        let x = try c.inputs()
        for (reduction, g) in [(LossReduction.mean, nil), (.none, x.gradOutput)] as [(LossReduction, Matrix?)] {
            let call = { (e: Engine) in
                try e.binaryCrossEntropyWithLogits(
                    logits: x.logits, targets: x.targets, weight: x.weight, posWeight: x.posWeight, reduction: reduction, gradOutput: g)
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
