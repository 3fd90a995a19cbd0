import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// `binaryCrossEntropyWithLogits` and `sigmoidFocalLoss` on every backend against the float64
/// reference (LossReference.swift): hard, soft and mixed targets, logits of ±100 (no overflow,
/// no NaN), every reduction, α < 0, and inputs larger than one OpenCL launch (53×20,000 > 2^20 elements).
@Suite struct BinaryLossTests {
    enum Loss: Sendable, CustomStringConvertible {
        case bce
        case sigmoidFocal(gamma: Float, alpha: Float)

        var description: String {
            switch self {
            case .bce: return "BCE"
            case let .sigmoidFocal(gamma, alpha): return "sigmoid focal γ \(gamma) α \(alpha)"
            }
        }
    }

    enum Targets: String, Sendable {
        /// 0 or 1.
        case hard
        /// Uniform in (0, 1).
        case soft
        /// 0, 1 and soft values.
        case mixed
    }

    /// Logits placed at the first positions of an `extremes` case (cycled with targets 0, 1, 0.5, …).
    static let extremeLogits: [Float] = [100, -100, 100, -100, 88, -88, 30, -30, 17, -17, 0, 1e-3, -1e-3, 1e-8, 100, -100, 50, -50]
    static let extremeTargets: [Float] = [0, 0, 1, 1, 0, 1, 0.5, 0.5, 1, 0, 0.5, 1, 0, 0.3, 0.5, 0.5, 0.999, 0.001]

    struct Case: Sendable, CustomTestStringConvertible {
        let loss: Loss
        let rows: Int
        let columns: Int
        var scale: Double = 3
        var targets: Targets = .soft
        var extremes = false
        var seed: UInt64 = 3

        var testDescription: String {
            "\(loss) \(rows)×\(columns) scale \(scale) \(targets.rawValue) targets\(extremes ? " + extreme logits" : "")"
        }

        func inputs() throws -> (logits: Matrix, targets: Matrix, gradOutput: Matrix) {
            let count = rows * columns
            var rng = TestRNG(seed: seed &* 0x9E37_79B9 &+ UInt64(rows * 7919 + columns))
            var z = TestData.normal(count, scale: scale, rng: &rng)
            var t = (0..<count).map { _ -> Float in
                let u = rng.unit()
                switch targets {
                case .hard: return u < 0.5 ? 0 : 1
                case .soft: return Float(0.001 + 0.998 * rng.unit())
                case .mixed: return u < 0.3 ? 0 : u < 0.6 ? 1 : Float(rng.unit())
                }
            }
            if extremes {
                for i in 0..<min(count, BinaryLossTests.extremeLogits.count) {
                    z[i] = BinaryLossTests.extremeLogits[i]
                    if targets != .soft || (0 < BinaryLossTests.extremeTargets[i] && BinaryLossTests.extremeTargets[i] < 1) {
                        t[i] = BinaryLossTests.extremeTargets[i]
                    }
                }
                // Sprinkle more ±100 through the rest (across thread chunks).
                for i in stride(from: BinaryLossTests.extremeLogits.count, to: count, by: 997) { z[i] = rng.unit() < 0.5 ? -100 : 100 }
            }
            let g = TestData.normal(count, scale: 2, rng: &rng)
            return (
                try Matrix(rows: rows, columns: columns, values: z), try Matrix(rows: rows, columns: columns, values: t),
                try Matrix(rows: rows, columns: columns, values: g)
            )
        }
    }

    static let cases: [Case] = [
        Case(loss: .bce, rows: 1, columns: 1),
        Case(loss: .bce, rows: 3, columns: 2),
        Case(loss: .bce, rows: 17, columns: 7, targets: .hard, extremes: true),
        Case(loss: .bce, rows: 64, columns: 8, targets: .mixed, extremes: true),
        Case(loss: .bce, rows: 3, columns: 9, scale: 100),
        Case(loss: .bce, rows: 17, columns: 33, targets: .mixed),
        Case(loss: .bce, rows: 64, columns: 1000, targets: .soft, extremes: true),
        Case(loss: .bce, rows: 3, columns: 20_000, scale: 30, targets: .hard, extremes: true),
        Case(loss: .bce, rows: 53, columns: 20_000, targets: .mixed, extremes: true),
        Case(loss: .sigmoidFocal(gamma: 2, alpha: 0.25), rows: 1, columns: 1, targets: .hard),
        Case(loss: .sigmoidFocal(gamma: 2, alpha: 0.25), rows: 3, columns: 2),
        Case(loss: .sigmoidFocal(gamma: 0, alpha: -1), rows: 17, columns: 7, targets: .soft, extremes: true),
        Case(loss: .sigmoidFocal(gamma: 0.5, alpha: 0.25), rows: 64, columns: 8, targets: .hard, extremes: true),
        Case(loss: .sigmoidFocal(gamma: 0.5, alpha: -1), rows: 17, columns: 9, targets: .soft),
        Case(loss: .sigmoidFocal(gamma: 5, alpha: -1), rows: 3, columns: 9, targets: .mixed, extremes: true),
        Case(loss: .sigmoidFocal(gamma: 2, alpha: 0), rows: 17, columns: 33, targets: .soft),
        Case(loss: .sigmoidFocal(gamma: 2, alpha: 1), rows: 64, columns: 1000, targets: .mixed, extremes: true),
        Case(loss: .sigmoidFocal(gamma: 0.5, alpha: -1), rows: 1, columns: 20_000, scale: 100, targets: .soft),
        Case(loss: .sigmoidFocal(gamma: 2, alpha: 0.25), rows: 3, columns: 20_000, targets: .hard, extremes: true),
        Case(loss: .sigmoidFocal(gamma: 2, alpha: 0.25), rows: 17, columns: 20_000, targets: .mixed, extremes: true),
    ]

    static func reference(_ loss: Loss, _ z: Matrix, _ t: Matrix, _ reduction: LossReduction, _ g: Matrix?) -> LossReference.Result {
        switch loss {
        case .bce:
            return LossReference.binaryCrossEntropyWithLogits(logits: z.values, targets: t.values, reduction: reduction, gradOutput: g?.values)
        case let .sigmoidFocal(gamma, alpha):
            return LossReference.sigmoidFocal(logits: z.values, targets: t.values, gamma: gamma, alpha: alpha, reduction: reduction, gradOutput: g?.values)
        }
    }

    @Test(arguments: Backends.all, cases)
    func matchesReference(_ backend: TestBackend, _ c: Case) throws {
        let engine = try Backends.engine(for: backend)
        let (logits, targets, gradOutput) = try c.inputs()
        for (reduction, withGradOutput) in LossCheck.variants {
            let g = withGradOutput ? gradOutput : nil
            let output: LossOutput
            switch c.loss {
            case .bce:
                output = try engine.binaryCrossEntropyWithLogits(logits: logits, targets: targets, reduction: reduction, gradOutput: g)
            case let .sigmoidFocal(gamma, alpha):
                output = try engine.sigmoidFocalLoss(logits: logits, targets: targets, gamma: gamma, alpha: alpha, reduction: reduction, gradOutput: g)
            }
            let reference = Self.reference(c.loss, logits, targets, reduction, g)
            #expect(reference.loss.allSatisfy { $0.isFinite } && reference.gradient.allSatisfy { $0.isFinite }, "reference not finite")
            LossCheck.expectMatches(
                output, reference, backend: backend, rows: c.rows, columns: c.columns,
                "\(backend) \(c.testDescription) \(LossCheck.describe(reduction, withGradOutput))")
        }
    }

    /// Defaults: BCE mean; sigmoid focal γ = 2, α = 0.25, mean.
    @Test(arguments: Backends.all)
    func defaults(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let (logits, targets, _) = try Case(loss: .bce, rows: 5, columns: 6, targets: .mixed, extremes: true).inputs()
        LossCheck.expectMatches(
            try engine.binaryCrossEntropyWithLogits(logits: logits, targets: targets),
            LossReference.binaryCrossEntropyWithLogits(logits: logits.values, targets: targets.values),
            backend: backend, rows: 5, columns: 6, "\(backend) BCE defaults")
        LossCheck.expectMatches(
            try engine.sigmoidFocalLoss(logits: logits, targets: targets),
            LossReference.sigmoidFocal(logits: logits.values, targets: targets.values, gamma: 2, alpha: 0.25),
            backend: backend, rows: 5, columns: 6, "\(backend) sigmoid focal defaults")
    }
}
