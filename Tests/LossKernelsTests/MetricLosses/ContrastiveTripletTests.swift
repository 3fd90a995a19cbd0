import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

/// `contrastiveLoss` and `tripletMarginLoss` on both backends against `MetricReference`
/// (docs/OPERATIONS.md tolerance `1e-5·max(1,|ref|)`): random shapes with every reduction (and an upstream
/// gradient), then the edge cases — identical pairs, zero distances, hinges exactly at the
/// margin, swap on/off, p = 1 and 2.
@Suite struct ContrastiveTripletTests {
    static let cpuShapes = [(1, 1), (1, 128), (5, 1), (5, 7), (64, 7), (64, 128), (300, 1), (300, 7), (300, 128)]
    static let openCLShapes = [(1, 7), (5, 1), (5, 128), (64, 7), (300, 7)]

    static func expectShape(_ m: Matrix, _ rows: Int, _ columns: Int, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(
            m.rows == rows && m.columns == columns, "\(context): shape [\(m.rows), \(m.columns)], expected [\(rows), \(columns)]",
            sourceLocation: sourceLocation)
    }

    // MARK: Contrastive, random

    struct PairData {
        var left: [Float], right: [Float], similar: [Bool]
    }

    @Test(arguments: MetricCase.cases(cpu: cpuShapes, opencl: openCLShapes, seed: 0xC0))
    func contrastiveMatchesReference(_ c: MetricCase) throws {
        let engine = try Backends.engine(for: c.backend)
        let rows = c.rows, d = c.dimension, scale = 1 / Double(d).squareRoot()
        let margins: [Float] = [1, 1.5]
        let data = try #require(
            MetricTestData.draw(
                seed: c.seed,
                { rng in
                    var similar = (0..<rows).map { _ in rng.unit() < 0.5 }
                    if rows > 1 { similar[0] = true; similar[1] = false }
                    return PairData(
                        left: MetricTestData.grid(rows * d, scale: scale, rng: &rng), right: MetricTestData.grid(rows * d, scale: scale, rng: &rng),
                        similar: similar)
                },
                acceptable: { data in
                    margins.allSatisfy { m in
                        let r = MetricReference.contrastive(
                            left: MetricReference.widen(data.left), right: MetricReference.widen(data.right), similar: data.similar,
                            rows: rows, dimension: d, margin: Double(m))
                        return r.kinkGap > 1e-4 && r.smallestActiveDistance > 1e-4
                    }
                }), "no draw away from the hinge's kink")
        let left = MetricTestData.matrix(rows, d, data.left), right = MetricTestData.matrix(rows, d, data.right)
        var activeDissimilar = 0
        for (k, (reduction, withGrad)) in MetricTestData.variants.enumerated() {
            var rng = TestRNG(seed: c.seed ^ 0x5EED &+ UInt64(k))
            let go = withGrad ? MetricTestData.gradOutput(rows, rng: &rng) : nil
            // The first variant uses the defaults (margin 1, mean).
            let margin = k == 0 ? margins[0] : margins[1]
            let out =
                k == 0
                ? try engine.contrastiveLoss(left: left, right: right, similar: data.similar)
                : try engine.contrastiveLoss(left: left, right: right, similar: data.similar, margin: margin, reduction: reduction, gradOutput: go)
            let ref = MetricReference.contrastive(
                left: MetricReference.widen(data.left), right: MetricReference.widen(data.right), similar: data.similar,
                rows: rows, dimension: d, margin: Double(margin), reduction: reduction,
                gradOutput: go.map(MetricReference.widen))
            let context = "\(c) contrastive margin=\(margin) \(MetricTestData.describe(reduction, withGrad))"
            #expect(out.backend == c.backend.expected, "\(context): ran on \(out.backend)")
            Self.expectShape(out.gradLeft, rows, d, "\(context) gradLeft")
            Self.expectShape(out.gradRight, rows, d, "\(context) gradRight")
            expectClose(out.loss, ref.loss, "\(context) loss")
            expectClose(out.gradLeft.values, ref.gradLeft, "\(context) gradLeft")
            expectClose(out.gradRight.values, ref.gradRight, "\(context) gradRight")
            activeDissimilar += (0..<rows).filter { !data.similar[$0] && ref.losses[$0] > 0 }.count
        }
        if rows >= 5 { #expect(activeDissimilar > 0, "\(c): the data exercise the dissimilar hinge") }
    }

    // MARK: Triplet, random

    struct TripletData {
        var anchors: [Float], positives: [Float], negatives: [Float]
    }

    /// The option sets of the random triplet cases: norm, swap, then per reduction variant the
    /// margin and eps (`nil`: the defaults, margin 1 and eps 1e-6, are not passed).
    static let tripletOptions: [(p: Int, swap: Bool)] = [(2, false), (1, false), (2, true), (1, true)]
    static let tripletMarginEps: [(margin: Float, eps: Float)?] = [nil, (0.6, 0), (0.6, 0.05), (0.6, 1e-6)]

    static func tripletReference(
        _ data: TripletData, rows: Int, dimension: Int, margin: Float, p: Int, eps: Float, swap: Bool,
        reduction: LossReduction = .mean, gradOutput: [Float]? = nil
    ) -> MetricReference.Triplet {
        MetricReference.triplet(
            anchors: MetricReference.widen(data.anchors), positives: MetricReference.widen(data.positives),
            negatives: MetricReference.widen(data.negatives), rows: rows, dimension: dimension, margin: Double(margin), p: p,
            eps: Double(eps), swap: swap, reduction: reduction, gradOutput: gradOutput.map(MetricReference.widen))
    }

    @Test(arguments: MetricCase.cases(cpu: cpuShapes, opencl: openCLShapes, seed: 0x7E))
    func tripletMatchesReference(_ c: MetricCase) throws {
        let engine = try Backends.engine(for: c.backend)
        let rows = c.rows, d = c.dimension, scale = 1 / Double(d).squareRoot()
        let data = try #require(
            MetricTestData.draw(
                seed: c.seed,
                { rng in
                    let a = MetricTestData.grid(rows * d, scale: scale, rng: &rng)
                    let noise = MetricTestData.grid(rows * d, scale: 0.6 * scale, rng: &rng)
                    return TripletData(anchors: a, positives: zip(a, noise).map { $0 + $1 }, negatives: MetricTestData.grid(rows * d, scale: scale, rng: &rng))
                },
                acceptable: { data in
                    Self.tripletOptions.allSatisfy { o in
                        Self.tripletMarginEps.allSatisfy { me in
                            let r = Self.tripletReference(data, rows: rows, dimension: d, margin: me?.margin ?? 1, p: o.p, eps: me?.eps ?? 1e-6, swap: o.swap)
                            return r.kinkGap > 1e-4 && r.swapGap > 1e-4 && r.smallestComponent > 5e-7
                        }
                    }
                }), "no draw away from the kinks")
        let a = MetricTestData.matrix(rows, d, data.anchors), pos = MetricTestData.matrix(rows, d, data.positives)
        let neg = MetricTestData.matrix(rows, d, data.negatives)
        var active = 0, inactive = 0, swapped = 0
        for o in Self.tripletOptions {
            for (k, (reduction, withGrad)) in MetricTestData.variants.enumerated() {
                var rng = TestRNG(seed: c.seed ^ 0x60 &+ UInt64(k))
                let go = withGrad ? MetricTestData.gradOutput(rows, rng: &rng) : nil
                let me = Self.tripletMarginEps[k]
                let out =
                    try me == nil
                    ? (o.p == 2 && !o.swap
                        ? engine.tripletMarginLoss(anchors: a, positives: pos, negatives: neg)
                        : engine.tripletMarginLoss(anchors: a, positives: pos, negatives: neg, p: o.p, swap: o.swap, reduction: reduction, gradOutput: go))
                    : engine.tripletMarginLoss(
                        anchors: a, positives: pos, negatives: neg, margin: me!.margin, p: o.p, eps: me!.eps, swap: o.swap,
                        reduction: reduction, gradOutput: go)
                let margin = me?.margin ?? 1, eps = me?.eps ?? 1e-6
                let ref = Self.tripletReference(
                    data, rows: rows, dimension: d, margin: margin, p: o.p, eps: eps, swap: o.swap, reduction: reduction,
                    gradOutput: go)
                let context = "\(c) triplet p=\(o.p) swap=\(o.swap) margin=\(margin) eps=\(eps) \(MetricTestData.describe(reduction, withGrad))"
                #expect(out.backend == c.backend.expected, "\(context): ran on \(out.backend)")
                Self.expectShape(out.gradAnchors, rows, d, "\(context) gradAnchors")
                Self.expectShape(out.gradPositives, rows, d, "\(context) gradPositives")
                Self.expectShape(out.gradNegatives, rows, d, "\(context) gradNegatives")
                expectClose(out.loss, ref.loss, "\(context) loss")
                expectClose(out.gradAnchors.values, ref.gradAnchors, "\(context) gradAnchors")
                expectClose(out.gradPositives.values, ref.gradPositives, "\(context) gradPositives")
                expectClose(out.gradNegatives.values, ref.gradNegatives, "\(context) gradNegatives")
                active += ref.activeRows
                inactive += rows - ref.activeRows
                swapped += ref.swappedRows
            }
        }
        if rows >= 64 {
            #expect(active > 0 && inactive > 0 && swapped > 0, "\(c): data exercise both hinge sides and the swap (\(active), \(inactive), \(swapped))")
        }
    }

    // MARK: Contrastive edge cases

    @Test(arguments: Backends.all)
    func contrastiveIdenticalPairs(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        var rng = TestRNG(seed: 31)
        let rows = 4, d = 7
        let x = MetricTestData.matrix(rows, d, TestData.normal(rows * d, rng: &rng))
        let similar = [true, false, true, false]
        // d = 0: a similar pair costs 0, a dissimilar one ½·margin²; no gradient at all (the
        // dissimilar hinge has no direction at d = 0).
        let none = try engine.contrastiveLoss(left: x, right: x, similar: similar, margin: 2, reduction: .none)
        #expect(none.backend == backend.expected)
        #expect(none.loss == [0, 2, 0, 2], "\(backend) identical pairs, none: \(none.loss)")
        #expect(allZero(none.gradLeft.values) && allZero(none.gradRight.values), "\(backend) identical pairs: gradients must be exactly 0")
        #expect(none.gradLeft.values.allSatisfy { !$0.isNaN }, "\(backend) identical pairs: no NaN (0/0) in the gradient")
        let mean = try engine.contrastiveLoss(left: x, right: x, similar: similar, margin: 2)
        #expect(mean.loss == [1], "\(backend) identical pairs, mean: \(mean.loss)")
        #expect(allZero(mean.gradLeft.values) && allZero(mean.gradRight.values))
        let sum = try engine.contrastiveLoss(left: x, right: x, similar: similar, reduction: .sum)
        #expect(sum.loss == [1], "\(backend) identical pairs, default margin 1, sum: \(sum.loss)")
    }

    @Test(arguments: Backends.all)
    func contrastiveHingeAtMargin(_ backend: TestBackend) throws {
        let engine = try Backends.engine(for: backend)
        // Rows: d = 5 dissimilar (exactly at margin 5), d = 3 dissimilar (inside), d = 5 similar,
        // d = 6 dissimilar (outside), d = 4.5 dissimilar (inside).
        let left = MetricTestData.matrix(5, 2, [3, 4, 0, 0, 1, 1, 6, 0, 1, 2])
        let right = MetricTestData.matrix(5, 2, [0, 0, 0, 3, -2, -3, 0, 0, 1, -2.5])
        let similar = [false, false, true, false, false]
        for (reduction, withGrad) in MetricTestData.variants {
            let go: [Float]? = withGrad ? [2, -1, 0.5, 3, 4] : nil
            let out = try engine.contrastiveLoss(left: left, right: right, similar: similar, margin: 5, reduction: reduction, gradOutput: go)
            let ref = MetricReference.contrastive(
                left: MetricReference.widen(left.values), right: MetricReference.widen(right.values), similar: similar,
                rows: 5, dimension: 2, margin: 5, reduction: reduction, gradOutput: go.map(MetricReference.widen))
            let context = "\(backend) contrastive hinge at margin \(MetricTestData.describe(reduction, withGrad))"
            #expect(out.backend == backend.expected)
            expectClose(out.loss, ref.loss, "\(context) loss")
            expectClose(out.gradLeft.values, ref.gradLeft, "\(context) gradLeft")
            expectClose(out.gradRight.values, ref.gradRight, "\(context) gradRight")
            // At d = margin and beyond: exactly no loss and no gradient.
            #expect(
                allZero(Array(out.gradLeft.values[0..<2])) && allZero(Array(out.gradLeft.values[6..<8])),
                "\(context): rows at/after the margin have gradient \(out.gradLeft.values)")
            if reduction == .none {
                #expect(out.loss[0] == 0 && out.loss[3] == 0 && out.loss[1] == 2 && out.loss[2] == 12.5 && out.loss[4] == 0.125, "\(context): \(out.loss)")
            }
        }
        // Margin 0: no dissimilar pair costs anything.
        let zero = try engine.contrastiveLoss(left: left, right: right, similar: similar, margin: 0, reduction: .none)
        #expect(zero.loss == [0, 0, 12.5, 0, 0], "\(backend) margin 0: \(zero.loss)")
        #expect(allZero(Array(zero.gradLeft.values[0..<4])) && allZero(Array(zero.gradLeft.values[6...])))
        #expect(zero.gradLeft.values[4..<6] == [3, 4] && zero.gradRight.values[4..<6] == [-3, -4], "\(backend) similar row gradient a − b")
    }

    // MARK: Triplet edge cases

    @Test(arguments: Backends.all, [1, 2])
    func tripletZeroDistances(_ backend: TestBackend, _ p: Int) throws {
        let engine = try Backends.engine(for: backend)
        var rng = TestRNG(seed: 41)
        let rows = 3, d = 7
        let x = MetricTestData.matrix(rows, d, TestData.normal(rows * d, rng: &rng))
        // eps = 0: every distance is 0, each loss is the margin, and there is no gradient.
        let exact = try engine.tripletMarginLoss(anchors: x, positives: x, negatives: x, p: p, eps: 0, reduction: .none)
        #expect(exact.backend == backend.expected)
        #expect(exact.loss == [1, 1, 1], "\(backend) p=\(p) a = p = n, eps 0: \(exact.loss)")
        #expect(
            allZero(exact.gradAnchors.values) && allZero(exact.gradPositives.values) && allZero(exact.gradNegatives.values),
            "\(backend) p=\(p) a = p = n, eps 0: gradients must be exactly 0")
        // Default eps: v = eps in every component, so d(a,p) = d(a,n) and the loss is still the
        // margin, but the direction is defined (v/‖v‖ or sign(v)): the positives get −direction,
        // the negatives +direction, and the anchor's two terms cancel.
        for (reduction, withGrad) in MetricTestData.variants {
            let go: [Float]? = withGrad ? [1, -2, 0.5] : nil
            let out = try engine.tripletMarginLoss(anchors: x, positives: x, negatives: x, p: p, reduction: reduction, gradOutput: go)
            let ref = MetricReference.triplet(
                anchors: MetricReference.widen(x.values), positives: MetricReference.widen(x.values),
                negatives: MetricReference.widen(x.values), rows: rows, dimension: d, margin: 1, p: p,
                eps: Double(Float(1e-6)), swap: false, reduction: reduction, gradOutput: go.map(MetricReference.widen))
            let context = "\(backend) p=\(p) a = p = n, eps 1e-6, \(MetricTestData.describe(reduction, withGrad))"
            expectClose(out.loss, ref.loss, "\(context) loss")
            expectClose(out.gradAnchors.values, ref.gradAnchors, "\(context) gradAnchors")
            expectClose(out.gradPositives.values, ref.gradPositives, "\(context) gradPositives")
            expectClose(out.gradNegatives.values, ref.gradNegatives, "\(context) gradNegatives")
        }
        // Spelled out for sum: positives −(1/√D or 1), negatives +(1/√D or 1) per component.
        let sum = try engine.tripletMarginLoss(anchors: x, positives: x, negatives: x, p: p, reduction: .sum)
        let unit = p == 2 ? 1 / Double(d).squareRoot() : 1
        expectClose(sum.gradPositives.values, [Double](repeating: -unit, count: rows * d), "\(backend) p=\(p) eps direction, positives")
        expectClose(sum.gradNegatives.values, [Double](repeating: unit, count: rows * d), "\(backend) p=\(p) eps direction, negatives")
    }

    @Test(arguments: Backends.all, [1, 2])
    func tripletHingeAtMargin(_ backend: TestBackend, _ p: Int) throws {
        let engine = try Backends.engine(for: backend)
        // eps = 0 and integer coordinates: d(a,p) = 5 (p=2) or 7 (p=1), d(a,n) = 10 or 14 in row 0,
        // 4 in row 1 and 13 or 17 in row 2; the margin equals d(a,p), so row 0 is exactly at 0.
        let a = MetricTestData.matrix(3, 2, [0, 0, 1, 1, -1, 2])
        let pos = MetricTestData.matrix(3, 2, [3, 4, 4, 5, 2, 6])
        let neg = MetricTestData.matrix(3, 2, [6, 8, 1, 5, 4, 14])
        let margin: Float = p == 2 ? 5 : 7
        for (reduction, withGrad) in MetricTestData.variants {
            let go: [Float]? = withGrad ? [3, 0.5, -2] : nil
            let out = try engine.tripletMarginLoss(
                anchors: a, positives: pos, negatives: neg, margin: margin, p: p, eps: 0, reduction: reduction,
                gradOutput: go)
            let ref = MetricReference.triplet(
                anchors: MetricReference.widen(a.values), positives: MetricReference.widen(pos.values),
                negatives: MetricReference.widen(neg.values), rows: 3, dimension: 2, margin: Double(margin), p: p, eps: 0,
                swap: false, reduction: reduction, gradOutput: go.map(MetricReference.widen))
            let context = "\(backend) p=\(p) triplet at the margin \(MetricTestData.describe(reduction, withGrad))"
            #expect(out.backend == backend.expected)
            #expect(ref.losses[0] == 0 && ref.losses[1] > 0 && ref.losses[2] == 0, "reference: row 0 at, row 1 inside, row 2 beyond")
            expectClose(out.loss, ref.loss, "\(context) loss")
            expectClose(out.gradAnchors.values, ref.gradAnchors, "\(context) gradAnchors")
            expectClose(out.gradPositives.values, ref.gradPositives, "\(context) gradPositives")
            expectClose(out.gradNegatives.values, ref.gradNegatives, "\(context) gradNegatives")
            for g in [out.gradAnchors, out.gradPositives, out.gradNegatives] {
                #expect(
                    allZero(Array(g.values[0..<2])) && allZero(Array(g.values[4..<6])),
                    "\(context): rows at or beyond the boundary must have exactly zero gradient: \(g.values)")
            }
            if reduction == .none { #expect(out.loss[0] == 0 && out.loss[2] == 0, "\(context): \(out.loss)") }
        }
    }

    @Test(arguments: Backends.all, [1, 2])
    func tripletSwap(_ backend: TestBackend, _ p: Int) throws {
        let engine = try Backends.engine(for: backend)
        // Row 0: d(p,n) < d(a,n), the swap changes the loss; row 1: d(p,n) > d(a,n), it does not.
        let a = MetricTestData.matrix(2, 2, [0, 0, 0, 0])
        let pos = MetricTestData.matrix(2, 2, [2, 1, -1, 0])
        let neg = MetricTestData.matrix(2, 2, [1, 1, 0.5, 0])
        var results: [Bool: Engine.TripletLossOutput] = [:]
        for swap in [false, true] {
            let out = try engine.tripletMarginLoss(anchors: a, positives: pos, negatives: neg, p: p, eps: 0, swap: swap, reduction: .none)
            let ref = MetricReference.triplet(
                anchors: MetricReference.widen(a.values), positives: MetricReference.widen(pos.values),
                negatives: MetricReference.widen(neg.values), rows: 2, dimension: 2, margin: 1, p: p, eps: 0, swap: swap,
                reduction: .none)
            let context = "\(backend) p=\(p) swap=\(swap)"
            #expect(out.backend == backend.expected)
            #expect(ref.swappedRows == (swap ? 1 : 0))
            expectClose(out.loss, ref.loss, "\(context) loss")
            expectClose(out.gradAnchors.values, ref.gradAnchors, "\(context) gradAnchors")
            expectClose(out.gradPositives.values, ref.gradPositives, "\(context) gradPositives")
            expectClose(out.gradNegatives.values, ref.gradNegatives, "\(context) gradNegatives")
            results[swap] = out
        }
        let off = try #require(results[false]), on = try #require(results[true])
        // Row 0 swapped: the loss grows (d(p,n) = 1 replaces d(a,n)) and the anchor only keeps the
        // d(a,p) term; row 1 is the same either way.
        #expect(on.loss[0] > off.loss[0], "\(backend) p=\(p): swap must use the smaller d(p,n): \(on.loss[0]) vs \(off.loss[0])")
        expectClose([on.loss[1]], [Double(off.loss[1])], "\(backend) p=\(p) unswapped row loss")
        if p == 1 {
            // Row 0: ∂/∂a = sign(a − p), ∂/∂p = −sign(a − p) − sign(p − n), ∂/∂n = sign(p − n);
            // row 1: ∂/∂a = sign(a − p) − sign(a − n), with sign(0) = 0 in the second component.
            expectClose(on.gradAnchors.values, [-1, -1, 2, 0], "\(backend) p=1 swap gradAnchors")
            expectClose(on.gradPositives.values, [0, 1, -1, 0], "\(backend) p=1 swap gradPositives")
            expectClose(on.gradNegatives.values, [1, 0, -1, 0], "\(backend) p=1 swap gradNegatives")
        }
    }
}
