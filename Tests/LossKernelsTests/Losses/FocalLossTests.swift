import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// Softmax `focalLoss` on every backend against the float64 reference (LossReference.swift): γ in
/// {0, 0.5, 2, 5}, scalar and per-class α, every reduction, confident rows, large C; and γ = 0,
/// α = 1 against cross-entropy.
@Suite struct FocalLossTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let rows: Int
        let columns: Int
        var scale: Double = 3
        let gamma: Float
        /// A scalar α, or nil for a random per-class α.
        var alpha: Float? = 1
        /// Rows 0, 1, … get their target logit raised to the row maximum plus these margins
        /// (confident, correct rows: `1 − p_y` tiny, `(1 − p_y)^{γ−1}` large for γ < 1).
        var confidentMargins: [Float] = []
        var seed: UInt64 = 2

        var testDescription: String {
            var text = "\(rows)×\(columns) scale \(scale) γ \(gamma) α \(alpha.map { "\($0)" } ?? "per-class")"
            if !confidentMargins.isEmpty { text += " confident rows \(confidentMargins)" }
            return text
        }

        func inputs() throws -> (logits: Matrix, labels: [Int], alpha: FocalAlpha, gradOutput: [Float]) {
            var rng = TestRNG(seed: seed &* 0x9E37_79B9 &+ UInt64(rows * 7919 + columns))
            var z = TestData.logits(rows: rows, columns: columns, scale: scale, rng: &rng)
            let labels = (0..<rows).map { _ in rng.index(columns) }
            for (r, margin) in confidentMargins.enumerated() where r < rows {
                let rowMax = z[(r * columns)..<((r + 1) * columns)].max()!
                z[r * columns + labels[r]] = rowMax + margin
            }
            let a: FocalAlpha = alpha.map { .scalar($0) } ?? .perClass((0..<columns).map { _ in Float(0.05 + 0.95 * rng.unit()) })
            return (try Matrix(rows: rows, columns: columns, values: z), labels, a, TestData.normal(rows, scale: 2, rng: &rng))
        }
    }

    static let cases: [Case] = [
        Case(rows: 1, columns: 1, gamma: 2),
        Case(rows: 3, columns: 2, gamma: 0.5),
        Case(rows: 3, columns: 2, scale: 300, gamma: 5, alpha: 0.25),
        Case(rows: 17, columns: 7, gamma: 2, alpha: 0.25),
        Case(rows: 64, columns: 8, gamma: 5, alpha: nil),
        Case(rows: 17, columns: 8, gamma: 0, alpha: nil),
        Case(rows: 3, columns: 9, scale: 1, gamma: 0.5, confidentMargins: [12, 20, 40]),
        Case(rows: 17, columns: 9, scale: 1, gamma: 0.5, alpha: nil, confidentMargins: [4, 6, 9, 12, 15, 18]),
        Case(rows: 17, columns: 9, scale: 1, gamma: 2, alpha: 0.25, confidentMargins: [4, 6, 9, 12]),
        Case(rows: 17, columns: 33, scale: 100, gamma: 0.5),
        Case(rows: 17, columns: 33, gamma: 0),
        Case(rows: 64, columns: 33, scale: 300, gamma: 2, alpha: 0.25),
        Case(rows: 64, columns: 1000, gamma: 2, alpha: nil),
        Case(rows: 3, columns: 1000, scale: 100, gamma: 5, alpha: nil),
        Case(rows: 1, columns: 20_000, scale: 100, gamma: 2),
        Case(rows: 1, columns: 20_000, gamma: 5, alpha: 0.5),
        Case(rows: 3, columns: 20_000, gamma: 0.5, alpha: nil, confidentMargins: [15]),
        Case(rows: 3, columns: 20_000, scale: 100, gamma: 2, alpha: nil),
    ]

    @Test(arguments: Backends.all, cases)
    func matchesReference(_ backend: TestBackend, _ c: Case) throws {
        let engine = try Backends.engine(for: backend)
        let (logits, labels, alpha, gradOutput) = try c.inputs()
        for (reduction, withGradOutput) in LossCheck.variants {
            let g = withGradOutput ? gradOutput : nil
            let output = try engine.focalLoss(logits: logits, labels: labels, gamma: c.gamma, alpha: alpha, reduction: reduction, gradOutput: g)
            let reference = LossReference.focal(
                logits: logits.values, rows: c.rows, columns: c.columns, labels: labels, gamma: c.gamma, alpha: alpha,
                reduction: reduction, gradOutput: g)
            #expect(reference.loss.allSatisfy { $0.isFinite } && reference.gradient.allSatisfy { $0.isFinite }, "reference not finite")
            LossCheck.expectMatches(
                output, reference, backend: backend, rows: c.rows, columns: c.columns,
                "\(backend) focal \(c.testDescription) \(LossCheck.describe(reduction, withGradOutput))")
        }
    }

    /// The default options are γ = 2, α = 1, mean.
    @Test(arguments: Backends.all)
    func defaults(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let (logits, labels, _, _) = try Case(rows: 17, columns: 9, gamma: 2).inputs()
        let output = try engine.focalLoss(logits: logits, labels: labels)
        let reference = LossReference.focal(logits: logits.values, rows: 17, columns: 9, labels: labels, gamma: 2, alpha: .scalar(1))
        LossCheck.expectMatches(output, reference, backend: backend, rows: 17, columns: 9, "\(backend) focal defaults")
    }

    struct Shape: Sendable, CustomTestStringConvertible {
        let rows: Int, columns: Int, scale: Double
        var testDescription: String { "\(rows)×\(columns) scale \(scale)" }
    }

    static let crossEntropyShapes: [Shape] = [
        Shape(rows: 3, columns: 2, scale: 3), Shape(rows: 17, columns: 33, scale: 100), Shape(rows: 64, columns: 1000, scale: 3),
        Shape(rows: 1, columns: 20_000, scale: 3), Shape(rows: 3, columns: 20_000, scale: 100),
    ]

    /// γ = 0, α = 1 is cross-entropy: both library results match the cross-entropy reference and
    /// each other (within the sum of their tolerances).
    @Test(arguments: Backends.all, crossEntropyShapes)
    func gammaZeroAlphaOneIsCrossEntropy(_ backend: TestBackend, _ s: Shape) throws {
        let engine = try Backends.engine(for: backend)
        var rng = TestRNG(seed: UInt64(s.rows * 1_000_003 + s.columns))
        let logits = try Matrix(rows: s.rows, columns: s.columns, values: TestData.logits(rows: s.rows, columns: s.columns, scale: s.scale, rng: &rng))
        let labels = (0..<s.rows).map { _ in rng.index(s.columns) }
        let gradOutput = TestData.normal(s.rows, scale: 2, rng: &rng)
        for (reduction, withGradOutput) in LossCheck.variants {
            let g = withGradOutput ? gradOutput : nil
            let focal = try engine.focalLoss(logits: logits, labels: labels, gamma: 0, alpha: .scalar(1), reduction: reduction, gradOutput: g)
            let ce = try engine.crossEntropy(logits: logits, labels: labels, reduction: reduction, gradOutput: g)
            let reference = LossReference.crossEntropy(
                logits: logits.values, rows: s.rows, columns: s.columns, labels: labels, reduction: reduction, gradOutput: g)
            let context = "\(backend) \(s.testDescription) \(LossCheck.describe(reduction, withGradOutput))"
            LossCheck.expectMatches(focal, reference, backend: backend, rows: s.rows, columns: s.columns, "focal γ0 α1 vs CE reference, \(context)")
            LossCheck.expectMatches(ce, reference, backend: backend, rows: s.rows, columns: s.columns, "CE vs CE reference, \(context)")
            expectClose(focal.loss, ce.loss.map(Double.init), tolerance: 2e-5, "focal γ0 α1 vs library CE loss, \(context)")
            expectClose(focal.gradient.values, ce.gradient.values.map(Double.init), tolerance: 2e-5, "focal γ0 α1 vs library CE gradient, \(context)")
        }
    }

    /// The buffer form fills every gradient element of a dirty buffer.
    @Test(arguments: Backends.all)
    func bufferForm(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        let (logits, labels, alpha, gradOutput) = try Case(rows: 9, columns: 13, gamma: 0.5, alpha: nil, confidentMargins: [10]).inputs()
        for (reduction, withGradOutput) in LossCheck.variants {
            let g = withGradOutput ? gradOutput : nil
            var gradient = [Float](repeating: .nan, count: logits.count)
            let (loss, ran) = try logits.values.withUnsafeBufferPointer { z in
                try gradient.withUnsafeMutableBufferPointer { dz in
                    try engine.focalLoss(
                        logits: z, rows: 9, columns: 13, labels: labels, gamma: 0.5, alpha: alpha, reduction: reduction, gradOutput: g, gradient: dz)
                }
            }
            let reference = LossReference.focal(
                logits: logits.values, rows: 9, columns: 13, labels: labels, gamma: 0.5, alpha: alpha, reduction: reduction, gradOutput: g)
            let context = "\(backend) focal buffer form \(LossCheck.describe(reduction, withGradOutput))"
            #expect(ran == backend.expected, "\(context): ran on \(ran)")
            expectClose(loss, reference.loss, "\(context) loss")
            expectClose(gradient, reference.gradient, "\(context) gradient")
        }
    }
}
