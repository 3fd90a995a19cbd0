import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// Proves the float64 reference (`LossReference`) itself: every analytic gradient agrees with
/// central differences of the reference loss, on small random inputs, for every option the
/// library tests use. The objective differentiated is the reduced loss (mean, sum), or
/// `Σ_i g_i·loss_i` for `none` (g = 1 without an upstream gradient).
@Suite struct FiniteDifferenceTests {
    /// Step of the central difference.
    static let step = 1e-6

    /// Checks `analytic` against `(f(x + h·e_i) − f(x − h·e_i)) / 2h` for every finite `x_i`:
    /// `|fd − analytic| ≤ 1e-6·|analytic| + 1e-8` (rounding of the difference quotient is
    /// ≈ 1e-16·|f|/h ≈ 1e-9 here, truncation ≈ h²·f‴/6 ≈ 1e-12). Also requires a non-trivial
    /// gradient, so the check cannot pass vacuously.
    static func expectMatchesFiniteDifferences(
        _ x: [Double], analytic: [Double], _ context: String,
        sourceLocation: SourceLocation = #_sourceLocation,
        objective: ([Double]) -> Double
    ) {
        #expect(analytic.count == x.count, "\(context): gradient count", sourceLocation: sourceLocation)
        #expect(analytic.contains { $0.isFinite && Swift.abs($0) > 1e-4 }, "\(context): gradient is trivially zero", sourceLocation: sourceLocation)
        var bad = 0
        var first = ""
        var probe = x
        for i in x.indices where x[i].isFinite {
            probe[i] = x[i] + step
            let up = objective(probe)
            probe[i] = x[i] - step
            let down = objective(probe)
            probe[i] = x[i]
            let fd = (up - down) / (2 * step)
            let an = analytic[i]
            if !(Swift.abs(fd - an) <= 1e-6 * Swift.abs(an) + 1e-8) {
                bad += 1
                if first.isEmpty { first = "index \(i): analytic \(an), finite difference \(fd)" }
            }
        }
        if bad > 0 { Issue.record("\(context): \(bad) of \(x.count) derivatives off; first at \(first)", sourceLocation: sourceLocation) }
    }

    /// The scalar that a reduction's gradient is the gradient of.
    static func objective(_ loss: [Double], _ reduction: LossReduction, _ gradOutput: [Double]?) -> Double {
        guard reduction == .none else { return loss[0] }
        var s = 0.0
        for (i, l) in loss.enumerated() { s += (gradOutput?[i] ?? 1) * l }
        return s
    }

    static func normals(_ count: Int, scale: Double, seed: UInt64) -> [Double] {
        var rng = TestRNG(seed: seed)
        return (0..<count).map { _ in rng.normal() * scale }
    }

    static func uniforms(_ count: Int, in range: ClosedRange<Double>, seed: UInt64) -> [Double] {
        var rng = TestRNG(seed: seed)
        return (0..<count).map { _ in range.lowerBound + (range.upperBound - range.lowerBound) * rng.unit() }
    }

    // MARK: Cross-entropy

    struct CECase: Sendable, CustomTestStringConvertible {
        let name: String
        var rows = 4, columns = 5
        var labels: [Int] = [0, 3, 1, 4]
        var weighted = false
        var ignoreIndex = -100
        var smoothing = 0.0
        var reduction: LossReduction = .mean
        var withGradOutput = false
        /// (row, column) entries set to −∞.
        var masks: [(Int, Int)] = []
        var testDescription: String { name }
    }

    static let ceCases: [CECase] = [
        CECase(name: "plain mean"),
        CECase(name: "plain sum", reduction: .sum),
        CECase(name: "plain none", reduction: .none),
        CECase(name: "weights + ignore + smoothing 0.1, mean", labels: [0, -100, 2, 4], weighted: true, smoothing: 0.1),
        CECase(name: "weights + smoothing 1.0, sum", weighted: true, smoothing: 1.0, reduction: .sum),
        CECase(
            name: "custom ignoreIndex 3 + weights + smoothing 0.3, none with gradOutput", labels: [3, 1, 3, 0], weighted: true,
            ignoreIndex: 3, smoothing: 0.3, reduction: .none, withGradOutput: true),
        CECase(name: "weights, mean, −∞ masks", weighted: true, masks: [(0, 1), (1, 0), (1, 4), (3, 2)]),
    ]

    @Test(arguments: ceCases)
    func crossEntropyGradient(_ c: CECase) {
        var z = Self.normals(c.rows * c.columns, scale: 2, seed: 11)
        for (r, j) in c.masks { z[r * c.columns + j] = -.infinity }
        let w = c.weighted ? Self.uniforms(c.columns, in: 0.2...2, seed: 12) : nil
        let g = c.withGradOutput ? Self.normals(c.rows, scale: 2, seed: 13) : nil
        func run(_ x: [Double]) -> LossReference.Result {
            LossReference.crossEntropy(
                logits: x, rows: c.rows, columns: c.columns, labels: c.labels, classWeights: w, ignoreIndex: c.ignoreIndex,
                labelSmoothing: c.smoothing, reduction: c.reduction, gradOutput: g)
        }
        let reference = run(z)
        #expect(reference.loss.allSatisfy { $0.isFinite }, "\(c.name): loss \(reference.loss)")
        // Ignored rows have exactly zero gradient.
        for n in 0..<c.rows where c.labels[n] == c.ignoreIndex {
            #expect(reference.gradient[(n * c.columns)..<((n + 1) * c.columns)].allSatisfy { $0 == 0 }, "\(c.name): ignored row \(n)")
        }
        Self.expectMatchesFiniteDifferences(z, analytic: reference.gradient, "cross-entropy \(c.name)") {
            Self.objective(run($0).loss, c.reduction, g)
        }
    }

    // MARK: Softmax focal

    struct FocalCase: Sendable, CustomTestStringConvertible {
        let gamma: Double
        let perClassAlpha: Bool
        let reduction: LossReduction
        var testDescription: String { "γ \(gamma) \(perClassAlpha ? "per-class α" : "α 0.25") \(reduction.rawValue)" }
    }

    static let focalCases: [FocalCase] = [0, 0.5, 2, 5].flatMap { gamma in
        [
            FocalCase(gamma: gamma, perClassAlpha: false, reduction: .mean), FocalCase(gamma: gamma, perClassAlpha: true, reduction: .sum),
            FocalCase(gamma: gamma, perClassAlpha: true, reduction: .none),
        ]
    }

    @Test(arguments: focalCases)
    func focalGradient(_ c: FocalCase) {
        let rows = 4, columns = 6, labels = [0, 5, 2, 3]
        var z = Self.normals(rows * columns, scale: 2, seed: 21)
        // Row 2 is a confident correct row (q ≈ 0.01), where the γ-term q^{γ−1}·p·log p matters.
        z[2 * columns + 2] = 7
        let alpha = c.perClassAlpha ? Self.uniforms(columns, in: 0.1...1, seed: 22) : [0.25]
        let g = c.reduction == .none ? Self.normals(rows, scale: 2, seed: 23) : nil
        func run(_ x: [Double]) -> LossReference.Result {
            LossReference.focal(logits: x, rows: rows, columns: columns, labels: labels, gamma: c.gamma, alpha: alpha, reduction: c.reduction, gradOutput: g)
        }
        let reference = run(z)
        #expect(reference.loss.allSatisfy { $0.isFinite })
        Self.expectMatchesFiniteDifferences(z, analytic: reference.gradient, "focal \(c.testDescription)") {
            Self.objective(run($0).loss, c.reduction, g)
        }
    }

    // MARK: Elementwise

    @Test(arguments: LossReduction.allCases)
    func binaryCrossEntropyGradient(_ reduction: LossReduction) {
        let z = Self.normals(12, scale: 3, seed: 31)
        let t = Self.uniforms(12, in: 0...1, seed: 32)
        let g = reduction == .none ? Self.normals(12, scale: 2, seed: 33) : nil
        func run(_ x: [Double]) -> LossReference.Result {
            LossReference.binaryCrossEntropyWithLogits(logits: x, targets: t, reduction: reduction, gradOutput: g)
        }
        Self.expectMatchesFiniteDifferences(z, analytic: run(z).gradient, "BCE \(reduction)") { Self.objective(run($0).loss, reduction, g) }
    }

    struct SigmoidFocalCase: Sendable, CustomTestStringConvertible {
        let gamma: Double
        let alpha: Double
        let hardTargets: Bool
        let reduction: LossReduction
        var testDescription: String { "γ \(gamma) α \(alpha) \(hardTargets ? "hard" : "soft") \(reduction.rawValue)" }
    }

    static let sigmoidFocalCases: [SigmoidFocalCase] = [0, 0.5, 2, 5].flatMap { gamma in
        [
            SigmoidFocalCase(gamma: gamma, alpha: 0.25, hardTargets: true, reduction: .mean),
            SigmoidFocalCase(gamma: gamma, alpha: -1, hardTargets: false, reduction: .sum),
            SigmoidFocalCase(gamma: gamma, alpha: 0.75, hardTargets: false, reduction: .none),
            SigmoidFocalCase(gamma: gamma, alpha: 0, hardTargets: true, reduction: .none),
        ]
    }

    @Test(arguments: sigmoidFocalCases)
    func sigmoidFocalGradient(_ c: SigmoidFocalCase) {
        let count = 12
        let z = Self.normals(count, scale: 3, seed: 41)
        var t = Self.uniforms(count, in: 0...1, seed: 42)
        if c.hardTargets { t = t.map { $0 < 0.5 ? 0 : 1 } }
        let g = c.reduction == .none ? Self.normals(count, scale: 2, seed: 43) : nil
        func run(_ x: [Double]) -> LossReference.Result {
            LossReference.sigmoidFocal(logits: x, targets: t, gamma: c.gamma, alpha: c.alpha, reduction: c.reduction, gradOutput: g)
        }
        Self.expectMatchesFiniteDifferences(z, analytic: run(z).gradient, "sigmoid focal \(c.testDescription)") {
            Self.objective(run($0).loss, c.reduction, g)
        }
    }
}

/// Spot values of the reference against numbers computed independently (NumPy, float64, from the
/// same docs/OPERATIONS.md formulas), and the identities the spec states.
@Suite struct LossReferenceTests {
    static func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-14) -> Bool { Swift.abs(a - b) <= tolerance * Swift.max(1, Swift.abs(b)) }

    @Test func crossEntropySpotValues() {
        // z = [[1,2,3],[0.5,−1,2]], y = [0,2], w = [0.2,1,3], ε = 0.1.
        let z: [Double] = [1, 2, 3, 0.5, -1, 2]
        let none = LossReference.crossEntropy(
            logits: z, rows: 2, columns: 3, labels: [0, 2], classWeights: [0.2, 1, 3], labelSmoothing: 0.1, reduction: .none)
        #expect(Self.close(none.loss[0], 0.5371005752888685) && Self.close(none.loss[1], 0.795324082506326), "\(none.loss)")
        let mean = LossReference.crossEntropy(logits: z, rows: 2, columns: 3, labels: [0, 2], classWeights: [0.2, 1, 3], labelSmoothing: 0.1)
        #expect(Self.close(mean.loss[0], 0.4163827055609982), "\(mean.loss)")
        // Uniform logits: −log(1/C).
        let uniform = LossReference.crossEntropy(logits: [Double](repeating: 7, count: 5), rows: 1, columns: 5, labels: [2])
        #expect(Self.close(uniform.loss[0], Foundation.log(5.0)))
        // All rows ignored: mean is NaN (0/0), sum 0, gradient 0.
        let ignored = LossReference.crossEntropy(logits: z, rows: 2, columns: 3, labels: [-100, -100])
        #expect(ignored.loss[0].isNaN && ignored.gradient.allSatisfy { $0 == 0 })
        #expect(LossReference.crossEntropy(logits: z, rows: 2, columns: 3, labels: [-100, -100], reduction: .sum).loss == [0])
        // A −∞ mask on a non-target class without smoothing: finite, and its gradient is 0.
        let masked = LossReference.crossEntropy(logits: [1, -.infinity, 3] as [Double], rows: 1, columns: 3, labels: [0])
        #expect(Self.close(masked.loss[0], Foundation.log(1 + Foundation.exp(2.0))) && masked.gradient[1] == 0)
        // A confident row keeps relative precision: −log p_y ≈ e^{−40}·(C−1).
        let confident = LossReference.crossEntropy(logits: [40, 0, 0] as [Double], rows: 1, columns: 3, labels: [0], reduction: .sum)
        #expect(Self.close(confident.loss[0], 2 * Foundation.exp(-40.0), 1e-12))
    }

    @Test func focalSpotValuesAndCrossEntropyIdentity() {
        let focal = LossReference.focal(logits: [2, 0.5, -1] as [Double], rows: 1, columns: 3, labels: [0], gamma: 2, alpha: [0.25])
        #expect(Self.close(focal.loss[0], 0.002773187522844956), "\(focal.loss)")
        // γ = 0, α = 1 is cross-entropy, loss and gradient, for every reduction.
        let z = FiniteDifferenceTests.normals(5 * 4, scale: 3, seed: 5), labels = [0, 3, 1, 1, 2]
        for reduction in LossReduction.allCases {
            let f = LossReference.focal(logits: z, rows: 5, columns: 4, labels: labels, gamma: 0, alpha: [1], reduction: reduction)
            let ce = LossReference.crossEntropy(logits: z, rows: 5, columns: 4, labels: labels, reduction: reduction)
            #expect(zip(f.loss, ce.loss).allSatisfy { Self.close($0, $1) } && zip(f.gradient, ce.gradient).allSatisfy { Self.close($0, $1) }, "\(reduction)")
        }
        // A certain row (the other classes are masked): loss 0 and gradient 0 for γ = 0.5, no NaN.
        let certain = LossReference.focal(logits: [3, -.infinity, -.infinity] as [Double], rows: 1, columns: 3, labels: [0], gamma: 0.5, alpha: [1])
        #expect(certain.loss == [0] && certain.gradient.allSatisfy { $0 == 0 }, "\(certain)")
    }

    @Test func elementwiseSpotValues() {
        let bce = LossReference.binaryCrossEntropyWithLogits(logits: [-100, 0, 100, 3] as [Double], targets: [0, 0.5, 1, 0.2], reduction: .none)
        let expected = [3.720075976020836e-44, 0.6931471805599453, 3.720075976020836e-44, 2.448587351573742]
        #expect(zip(bce.loss, expected).allSatisfy { Self.close($0, $1) }, "\(bce.loss)")
        #expect(Self.close(bce.gradient[2], -3.720075976020836e-44, 1e-12) && bce.gradient[1] == 0)
        let sf = LossReference.sigmoidFocal(logits: [2, -1] as [Double], targets: [1, 0], gamma: 2, alpha: 0.25, reduction: .none)
        #expect(Self.close(sf.loss[0], 0.00045089070881009483) && Self.close(sf.loss[1], 0.016993543131350496), "\(sf.loss)")
        // γ = 0, α < 0 is BCE.
        let z = FiniteDifferenceTests.normals(10, scale: 5, seed: 6), t = FiniteDifferenceTests.uniforms(10, in: 0...1, seed: 7)
        let a = LossReference.sigmoidFocal(logits: z, targets: t, gamma: 0, alpha: -1, reduction: .sum)
        let b = LossReference.binaryCrossEntropyWithLogits(logits: z, targets: t, reduction: .sum)
        #expect(Self.close(a.loss[0], b.loss[0]) && zip(a.gradient, b.gradient).allSatisfy { Self.close($0, $1) })
    }
}
