import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// The comparison rule of results computed through a GEMM (docs/OPERATIONS.md, "Accuracy", shared with
/// `losskernels verify`: `ComparisonRules.gemmMismatch`).
func expectCloseGEMM(_ actual: [Float], _ reference: [Double], _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
    if let why = ComparisonRules.gemmMismatch(actual, reference) {
        Issue.record("\(context): \(why)", sourceLocation: sourceLocation)
    }
}

// MARK: - The reference's analytic gradients against central differences

/// Each analytic gradient of `MetricReference` against central differences of its own loss, in
/// double, on inputs away from the kinks (hinge boundaries, zero distances, swap switches, ties).
@Suite struct MetricReferenceTests {
    /// Central difference of `f` at every coordinate of `x`.
    static func numericGradient(_ x: [Double], step: Double = 1e-6, _ f: ([Double]) -> Double) -> [Double] {
        var g = [Double](repeating: 0, count: x.count)
        var y = x
        for k in x.indices {
            let h = step * max(1, abs(x[k]))
            y[k] = x[k] + h
            let up = f(y)
            y[k] = x[k] - h
            let down = f(y)
            y[k] = x[k]
            g[k] = (up - down) / (2 * h)
        }
        return g
    }

    static func expectGradient(_ analytic: [Double], _ numeric: [Double], _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(analytic.count == numeric.count, "\(context): sizes", sourceLocation: sourceLocation)
        var worst = 0.0, at = -1
        for (k, (a, n)) in zip(analytic, numeric).enumerated() {
            let err = abs(a - n) / max(1e-3, abs(n))
            if err > worst { worst = err; at = k }
        }
        #expect(
            worst <= 1e-5, "\(context): worst relative error \(worst) at \(at): analytic \(at >= 0 ? analytic[at] : 0), numeric \(at >= 0 ? numeric[at] : 0)",
            sourceLocation: sourceLocation)
        // The check is not vacuous: some gradient is clearly non-zero.
        #expect(numeric.contains { abs($0) > 1e-3 }, "\(context): numeric gradient is all ~0", sourceLocation: sourceLocation)
    }

    static func randomVector(_ count: Int, scale: Double = 1, rng: inout TestRNG) -> [Double] {
        (0..<count).map { _ in rng.normal() * scale }
    }

    /// Σ_i w_i·loss_i — the objective whose gradient the reference returns for a reduction.
    static func weighted(_ losses: [Double], _ w: [Double]) -> Double { zip(losses, w).reduce(0) { $0 + $1.0 * $1.1 } }

    static let reductions: [(LossReduction, Bool)] = [(.mean, false), (.sum, false), (.none, false), (.none, true)]

    @Test(arguments: 0..<4)
    func contrastiveGradients(_ variant: Int) throws {
        let (reduction, withGrad) = Self.reductions[variant]
        var rng = TestRNG(seed: 11 + UInt64(variant))
        let rows = 6, d = 5, margin = 2.5
        let similar = [true, false, false, true, false, false]
        let go: [Double]? = withGrad ? Self.randomVector(rows, rng: &rng) : nil
        let w = MetricReference.rowScales(rows: rows, reduction: reduction, gradOutput: go)
        let a = Self.randomVector(rows * d, scale: 0.5, rng: &rng), b = Self.randomVector(rows * d, scale: 0.5, rng: &rng)
        let r = MetricReference.contrastive(left: a, right: b, similar: similar, rows: rows, dimension: d, margin: margin, reduction: reduction, gradOutput: go)
        try #require(r.kinkGap > 1e-2 && r.smallestActiveDistance > 1e-2)
        #expect(r.losses.enumerated().contains { !similar[$0.offset] && $0.element > 0 }, "some dissimilar hinge is active")
        let f = { (x: [Double], y: [Double]) in
            Self.weighted(MetricReference.contrastive(left: x, right: y, similar: similar, rows: rows, dimension: d, margin: margin).losses, w)
        }
        Self.expectGradient(r.gradLeft, Self.numericGradient(a) { f($0, b) }, "contrastive \(reduction) left")
        Self.expectGradient(r.gradRight, Self.numericGradient(b) { f(a, $0) }, "contrastive \(reduction) right")
        // The reduced loss is the reduction of the per-row losses.
        let expected = reduction == .mean ? [r.losses.reduce(0, +) / Double(rows)] : reduction == .sum ? [r.losses.reduce(0, +)] : r.losses
        #expect(r.loss == expected)
    }

    @Test(arguments: [(1, false), (2, false), (1, true), (2, true)])
    func tripletGradients(_ p: Int, _ swap: Bool) throws {
        let rows = 8, d = 3, margin = p == 1 ? 1.0 : 0.5, eps = 1e-3
        for (variant, (reduction, withGrad)) in Self.reductions.enumerated() {
            // Positives near the anchors, negatives anywhere; the draw is away from every kink and
            // has active and inactive rows (and, with swap, a swapped active row).
            let drawn = try #require(
                MetricTestData.draw(
                    seed: 101 + UInt64(variant) + UInt64(p) * 10 + (swap ? 100 : 0),
                    { rng in
                        let go: [Double]? = withGrad ? Self.randomVector(rows, rng: &rng) : nil
                        let a = Self.randomVector(rows * d, rng: &rng)
                        let pos = zip(a, Self.randomVector(rows * d, scale: 0.7, rng: &rng)).map { $0 + $1 }
                        let neg = Self.randomVector(rows * d, rng: &rng)
                        return (go, a, pos, neg)
                    },
                    acceptable: { (go, a, pos, neg) in
                        let r = MetricReference.triplet(
                            anchors: a, positives: pos, negatives: neg, rows: rows, dimension: d, margin: margin, p: p, eps: eps,
                            swap: swap)
                        return r.kinkGap > 1e-3 && r.swapGap > 1e-3 && r.smallestComponent > 1e-4 && r.activeRows > 0 && r.activeRows < rows
                            && (!swap || r.swappedRows > 0)
                    }), "no draw away from the kinks with a mix of rows")
            let (go, a, pos, neg) = drawn
            let w = MetricReference.rowScales(rows: rows, reduction: reduction, gradOutput: go)
            let r = MetricReference.triplet(
                anchors: a, positives: pos, negatives: neg, rows: rows, dimension: d, margin: margin, p: p, eps: eps, swap: swap,
                reduction: reduction, gradOutput: go)
            let f = { (x: [Double], y: [Double], z: [Double]) in
                Self.weighted(
                    MetricReference.triplet(
                        anchors: x, positives: y, negatives: z, rows: rows, dimension: d, margin: margin, p: p, eps: eps,
                        swap: swap
                    ).losses, w)
            }
            let c = "triplet p=\(p) swap=\(swap) \(reduction)\(withGrad ? "+gradOutput" : "")"
            #expect(r.loss == MetricReference.reduce(r.losses, reduction), "\(c): reduced loss")
            Self.expectGradient(r.gradAnchors, Self.numericGradient(a) { f($0, pos, neg) }, "\(c) anchors")
            Self.expectGradient(r.gradPositives, Self.numericGradient(pos) { f(a, $0, neg) }, "\(c) positives")
            Self.expectGradient(r.gradNegatives, Self.numericGradient(neg) { f(a, pos, $0) }, "\(c) negatives")
        }
    }

    @Test func centerGradientAndUpdate() {
        var rng = TestRNG(seed: 7)
        let rows = 9, classes = 4, d = 3, alpha = 0.3
        let labels = [0, 2, 2, 0, 2, 1, 0, 2, 2]   // class 3 absent, class 2 five times
        let x = Self.randomVector(rows * d, rng: &rng), c = Self.randomVector(classes * d, rng: &rng)
        let r = MetricReference.center(features: x, labels: labels, centers: c, rows: rows, classes: classes, dimension: d, alpha: alpha)
        let loss = { (x: [Double], c: [Double]) in
            MetricReference.center(features: x, labels: labels, centers: c, rows: rows, classes: classes, dimension: d, alpha: alpha).loss
        }
        Self.expectGradient(r.gradFeatures, Self.numericGradient(x) { loss($0, c) }, "center ∂L/∂x")
        // The update is c_j − α·B·(∂L/∂c_j)/(1 + n_j), since ∂L/∂c_j = Σ_{i: y_i = j}(c_j − x_i)/B.
        let dc = Self.numericGradient(c) { loss(x, $0) }
        let counts = (0..<classes).map { j in labels.filter { $0 == j }.count }
        var expected = c
        for j in 0..<classes { for k in 0..<d { expected[j * d + k] -= alpha * Double(rows) * dc[j * d + k] / Double(1 + counts[j]) } }
        Self.expectGradient(
            r.updatedCenters.enumerated().map { $0.element - c[$0.offset] }, expected.enumerated().map { $0.element - c[$0.offset] },
            "center update step")
        #expect(Array(r.updatedCenters[(3 * d)...]) == Array(c[(3 * d)...]), "absent class 3 unchanged")
        #expect(abs(r.loss - 0.5 * x.indices.reduce(0) { $0 + pow(x[$1] - c[labels[$1 / d] * d + $1 % d], 2) } / Double(rows)) < 1e-12)
    }

    @Test(arguments: TripletMining.allCases)
    func minedGradients(_ mining: TripletMining) throws {
        var rng = TestRNG(seed: mining == .batchAll ? 21 : 22)
        let rows = 10, d = 3, margin = 1.0
        let labels = [0, 1, 2, 0, 1, 2, 0, 1, 3, 1]   // class 3 has one member: an anchor without positive
        let e = Self.randomVector(rows * d, scale: 0.8, rng: &rng)
        let r = MetricReference.mined(embeddings: e, labels: labels, rows: rows, dimension: d, mining: mining, margin: margin, countTolerance: 1e-3)
        try #require(r.ambiguousTriplets == 0 && r.ambiguousAnchors == 0, "seed gives a near kink or tie")
        #expect(r.tripletCount > 0)
        if mining == .batchHard { #expect(r.tripletCount == 9, "every anchor but the single member of class 3") }
        Self.expectGradient(
            r.gradient,
            Self.numericGradient(e) {
                MetricReference.mined(embeddings: $0, labels: labels, rows: rows, dimension: d, mining: mining, margin: margin).loss
            }, "mined \(mining)")
    }

    /// Small hand-computed cases pin the definitions themselves (not only their self-consistency).
    @Test func handComputedValues() {
        // Contrastive: d = 5; similar ½·25; dissimilar with margin 7: ½·4, ∂/∂a = −(2/5)·(a − b).
        let c = MetricReference.contrastive(
            left: [3, 4, 0, 0], right: [0, 0, 3, 4], similar: [true, false], rows: 2, dimension: 2, margin: 7,
            reduction: .none)
        #expect(c.losses == [12.5, 2])
        #expect(c.gradLeft == [3, 4, 0.4 * 3, 0.4 * 4] && c.gradRight == [-3, -4, -0.4 * 3, -0.4 * 4])
        // Triplet p = 1, eps = 0: d(a,p) = 3, d(a,n) = 2, margin 1 → 2; swap: d(p,n) = 1 → 3, where
        // ∂/∂p = −sign(a − p) − sign(p − n) and ∂/∂n = sign(p − n).
        let a: [Double] = [0, 0], pos: [Double] = [2, 1], neg: [Double] = [1, 1]
        let t = MetricReference.triplet(anchors: a, positives: pos, negatives: neg, rows: 1, dimension: 2, margin: 1, p: 1, eps: 0, swap: false)
        #expect(t.loss == [2] && t.gradAnchors == [-1 + 1, -1 + 1] && t.gradPositives == [1, 1] && t.gradNegatives == [-1, -1])
        let s = MetricReference.triplet(anchors: a, positives: pos, negatives: neg, rows: 1, dimension: 2, margin: 1, p: 1, eps: 0, swap: true)
        #expect(s.loss == [3] && s.gradAnchors == [-1, -1] && s.gradPositives == [1 - 1, 1 - 0] && s.gradNegatives == [1, 0])
        // Center: B = 2, x = (1), (3), both class 0 at c = 0: L = (1 + 9)/4, update 0 − 0.5·(−4)/3.
        let ce = MetricReference.center(features: [1, 3], labels: [0, 0], centers: [0, 5], rows: 2, classes: 2, dimension: 1, alpha: 0.5)
        #expect(ce.loss == 2.5 && ce.gradFeatures == [0.5, 1.5] && abs(ce.updatedCenters[0] - 2.0 / 3) < 1e-15 && ce.updatedCenters[1] == 5)
        // Mined on a line: 0 (A), 1 (A), 1.5 (B), 4 (B); margin 1.
        let e: [Double] = [0, 1, 1.5, 4], labels = [0, 0, 1, 1]
        let all = MetricReference.mined(embeddings: e, labels: labels, rows: 4, dimension: 1, mining: .batchAll, margin: 1)
        // a=0: p=1: (1 − 1.5 + 1) = .5, (1 − 4 + 1) < 0; a=1: p=0: (1 − .5 + 1) = 1.5, (1 − 3 + 1) < 0;
        // a=2: p=3: (2.5 − 1.5 + 1) = 2, (2.5 − .5 + 1) = 3; a=3: p=2: (2.5 − 4 + 1) < 0, (2.5 − 3 + 1) = .5
        #expect(all.tripletCount == 5 && abs(all.loss - 7.5 / 5) < 1e-15)
        let hard = MetricReference.mined(embeddings: e, labels: labels, rows: 4, dimension: 1, mining: .batchHard, margin: 1)
        // a=0: 1 − 1.5 + 1 = .5; a=1: 1 − .5 + 1 = 1.5; a=2: 2.5 − .5 + 1 = 3; a=3: 2.5 − 3 + 1 = .5
        #expect(hard.tripletCount == 4 && abs(hard.loss - 5.5 / 4) < 1e-15)
    }
}

// MARK: - Shared test data and cases of the metric-loss suites

/// One parameterised case of the metric-loss parity suites: a backend, a shape and a seed.
struct MetricCase: Sendable, CustomTestStringConvertible {
    let backend: TestBackend
    let rows: Int
    let dimension: Int
    let seed: UInt64

    var testDescription: String { "\(backend) B=\(rows) D=\(dimension)" }

    /// Every shape of `cpu` on the CPU and of `opencl` on OpenCL (PoCL is slow: small shapes there).
    static func cases(cpu: [(Int, Int)], opencl: [(Int, Int)], seed: UInt64) -> [MetricCase] {
        cpu.map { MetricCase(backend: .cpu, rows: $0.0, dimension: $0.1, seed: seed &+ UInt64($0.0 * 1000 + $0.1)) }
            + opencl.map { MetricCase(backend: .opencl, rows: $0.0, dimension: $0.1, seed: seed &+ UInt64($0.0 * 1000 + $0.1)) }
    }
}

enum MetricTestData {
    /// `count` normal values times `scale`, rounded to the grid `2^-12` (so that differences of two
    /// inputs are exact in float32 and never tiny but non-zero), as float32.
    static func grid(_ count: Int, scale: Double, rng: inout TestRNG) -> [Float] {
        (0..<count).map { _ in Float((rng.normal() * scale * 4096).rounded() / 4096) }
    }

    static func matrix(_ rows: Int, _ columns: Int, _ values: [Float]) -> Matrix {
        try! Matrix(rows: rows, columns: columns, values: values)
    }

    /// Draws data with `make` from seeds `seed, seed + 1, …` until `acceptable` holds (inputs away
    /// from kinks and near ties), at most `attempts` times.
    static func draw<T>(seed: UInt64, attempts: Int = 40, _ make: (inout TestRNG) -> T, acceptable: (T) -> Bool) -> T? {
        for attempt in 0..<attempts {
            var rng = TestRNG(seed: seed &+ UInt64(attempt) &* 0x9E37_79B9)
            let value = make(&rng)
            if acceptable(value) { return value }
        }
        return nil
    }

    /// The reductions each parity case runs: mean, sum, none, and none with an upstream gradient.
    static let variants: [(reduction: LossReduction, withGradOutput: Bool)] = [(.mean, false), (.sum, false), (.none, false), (.none, true)]

    static func describe(_ reduction: LossReduction, _ withGradOutput: Bool) -> String {
        reduction.rawValue + (withGradOutput ? "+gradOutput" : "")
    }

    /// Upstream gradients for `.none`: normal values, one of them 0.
    static func gradOutput(_ rows: Int, rng: inout TestRNG) -> [Float] {
        var g = TestData.normal(rows, rng: &rng)
        g[rng.index(rows)] = 0
        return g
    }
}

/// `true` when every value is exactly `+0.0` or `-0.0`.
func allZero(_ values: [Float]) -> Bool { values.allSatisfy { $0 == 0 } }
