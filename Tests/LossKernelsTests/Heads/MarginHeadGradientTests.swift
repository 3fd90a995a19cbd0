import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// Every head's loss and both gradients against the float64 reference loss and its central
/// differences, on small shapes, tiled and untiled.
@Suite struct MarginHeadGradientTests {
    static let heads: [(String, MarginHead)] = [
        ("normalized", .normalized(scale: 8)),
        ("cosFace", .cosFace(scale: 8, margin: 0.35)),
        ("arcFace", .arcFace(scale: 8, margin: 0.5)),
        ("arcFace easy", .arcFace(scale: 8, margin: 0.5, easyMargin: true)),
        ("combined", .combined(scale: 8, m1: 1.2, m2: 0.3, m3: 0.2)),
        ("sphereFace m4 λ0", .sphereFace(margin: 4, scale: 2, lambda: 0)),
        ("sphereFace m3 λ2", .sphereFace(margin: 3, scale: 1.5, lambda: 2)),
        ("largeMargin m2 λ1", .largeMargin(margin: 2, lambda: 1)),
        ("largeMargin m4 λ0", .largeMargin(margin: 4, lambda: 0)),
    ]

    @Test(arguments: heads.map(\.0), [(TestBackend.cpu, false), (.cpu, true), (.opencl, false), (.opencl, true)])
    func matchesCentralDifferences(name: String, run: (backend: TestBackend, tiled: Bool)) throws {
        let head = Self.heads.first { $0.0 == name }!.1
        let tiled = run.tiled
        var rng = TestRNG(seed: 42)
        let (b, c, d) = (5, 9, 6)
        let x = (0..<(b * d)).map { _ in Float(rng.normal()) }
        let w = (0..<(c * d)).map { _ in Float(rng.normal() * 0.7) }
        let labels = (0..<b).map { _ in rng.index(c) }
        let engine = try Backends.engine(for: run.backend)
        let out = try engine.marginSoftmax(
            features: Matrix(rows: b, columns: d, values: x), classWeights: Matrix(rows: c, columns: d, values: w),
            labels: labels, head: head, memoryBudget: tiled ? b * 4 * 4 : nil)
        let problem = HeadLossReference.Problem(x: x.map(Double.init), w: w.map(Double.init), labels: labels, b: b, c: c, d: d, head: head)
        #expect(out.backend.rawValue == run.backend.rawValue)
        let refLoss = HeadLossReference.loss(problem)
        #expect(abs(Double(out.loss[0]) - refLoss) <= 1e-4 * max(1, abs(refLoss)), "loss \(out.loss[0]) vs \(refLoss)")
        let (dx, dw) = HeadLossReference.numericalGradients(problem)
        expectClose(out.gradFeatures.values, dx, tolerance: 2e-4, "\(name) dX")
        expectClose(out.gradClassWeights.values, dw, tolerance: 2e-4, "\(name) dW")
    }
}
