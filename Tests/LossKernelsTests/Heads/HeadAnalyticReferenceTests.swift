import Foundation
import LossKernelsReference
import Testing

@testable import LossKernels

// MARK: - Validation of the analytic reference

/// Checks a float64 result against a float64 reference: `|a − r| ≤ tolerance·max(1, |r|)`, no NaN.
func expectCloseFloat64(
    _ actual: [Double], _ reference: [Double], tolerance: Double, _ context: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == reference.count else {
        Issue.record("\(context): \(actual.count) values, reference has \(reference.count)", sourceLocation: sourceLocation)
        return
    }
    var bad = 0, first: Int?
    for k in actual.indices {
        let ok = actual[k].isFinite && reference[k].isFinite && abs(actual[k] - reference[k]) <= tolerance * max(1, abs(reference[k]))
        if !ok { bad += 1; if first == nil { first = k } }
    }
    if let k = first {
        Issue.record(
            "\(context): \(bad) of \(actual.count) values off; first at index \(k): \(actual[k]) vs reference \(reference[k])",
            sourceLocation: sourceLocation)
    }
}

/// The analytic reference against `HeadLossReference` (independent loss) and central differences,
/// for every head, both gradient modes and every reduction, on small random shapes.
@Suite struct HeadAnalyticReferenceTests {
    /// Heads with the gradient mode left to the caller.
    static let heads: [(String, @Sendable (MarginGradient) -> MarginHead)] = [
        ("normalized", { MarginHead(kind: .normalized, scale: 8, gradient: $0) }),
        ("cosFace", { .cosFace(scale: 8, margin: 0.35, gradient: $0) }),
        ("arcFace", { .arcFace(scale: 8, margin: 0.5, gradient: $0) }),
        ("arcFace m=1.2", { .arcFace(scale: 6, margin: 1.2, gradient: $0) }),
        ("arcFace easy", { .arcFace(scale: 8, margin: 0.5, easyMargin: true, gradient: $0) }),
        ("combined", { .combined(scale: 8, m1: 1.3, m2: 0.3, m3: 0.2, gradient: $0) }),
        ("sphereFace m4 λ0", { .sphereFace(margin: 4, scale: 1.5, lambda: 0, gradient: $0) }),
        ("sphereFace m3 λ2", { .sphereFace(margin: 3, scale: 1, lambda: 2, gradient: $0) }),
        ("sphereFace m1", { .sphereFace(margin: 1, scale: 1, lambda: 0, gradient: $0) }),
        ("largeMargin m2 λ1", { .largeMargin(margin: 2, lambda: 1, gradient: $0) }),
        ("largeMargin m4 λ0", { .largeMargin(margin: 4, lambda: 0, gradient: $0) }),
    ]

    static func head(_ name: String, _ mode: MarginGradient) -> MarginHead { heads.first { $0.0 == name }!.1(mode) }

    /// A small random problem; `gradOutput` only for `.none`.
    static func problem(_ head: MarginHead, reduction: LossReduction, seed: UInt64, b: Int = 4, c: Int = 7, d: Int = 5) -> HeadLossReference.Problem {
        var rng = TestRNG(seed: seed)
        let x = (0..<(b * d)).map { _ in Double(Float(rng.normal())) }
        let w = (0..<(c * d)).map { _ in Double(Float(rng.normal() * 0.6)) }
        let labels = (0..<b).map { _ in rng.index(c) }
        let g: [Double]? = reduction == .none ? (0..<b).map { _ in Double(Float(rng.normal())) } : nil
        return HeadLossReference.Problem(x: x, w: w, labels: labels, b: b, c: c, d: d, head: head, reduction: reduction, gradOutput: g)
    }

    @Test(arguments: heads.map(\.0), [MarginGradient.exact, .detached])
    func analyticGradientsMatchCentralDifferences(name: String, mode: MarginGradient) {
        let head = Self.head(name, mode)
        for (n, reduction) in [LossReduction.mean, .sum, .none].enumerated() {
            let p = Self.problem(head, reduction: reduction, seed: 100 + UInt64(n))
            let context = "\(name) \(mode) \(reduction)"
            let analytic = HeadAnalyticReference.evaluate(p)
            // The loss: the independent implementation of the spec's table.
            let lossRef = HeadLossReference.loss(p)
            #expect(abs(analytic.objective - lossRef) <= 1e-12 * max(1, abs(lossRef)), "\(context): objective \(analytic.objective) vs \(lossRef)")
            expectCloseFloat64(analytic.rowLosses, HeadLossReference.rowLosses(p), tolerance: 1e-12, "\(context) row losses")
            let numerical: (dx: [Double], dw: [Double])
            if mode == .exact {
                numerical = HeadLossReference.numericalGradients(p)
            } else {
                // Detached: differentiate the loss whose target offset K = F(c⁰) − c⁰ is frozen.
                let offsets = HeadAnalyticReference.frozenTargetOffsets(p)
                let frozen = HeadAnalyticReference.evaluate(p, frozenOffsets: offsets)
                #expect(abs(frozen.objective - lossRef) <= 1e-12 * max(1, abs(lossRef)), "\(context): frozen-offset loss \(frozen.objective) vs \(lossRef)")
                expectCloseFloat64(frozen.dx, analytic.dx, tolerance: 1e-12, "\(context) frozen-offset analytic dX")
                numerical = HeadAnalyticReference.numericalGradients(p, frozenOffsets: offsets)
            }
            expectCloseFloat64(analytic.dx, numerical.dx, tolerance: 1e-6, "\(context) dX")
            expectCloseFloat64(analytic.dw, numerical.dw, tolerance: 1e-6, "\(context) dW")
        }
    }

    /// The modes differ where the margin's derivative is not 1, and coincide where it is.
    @Test(arguments: heads.map(\.0))
    func detachedDiffersFromExactOnlyWhereTheMarginBends(name: String) {
        let p = Self.problem(Self.head(name, .exact), reduction: .sum, seed: 7)
        var q = p
        q.head.gradient = .detached
        let exact = HeadAnalyticReference.evaluate(p), detached = HeadAnalyticReference.evaluate(q)
        let difference = zip(exact.dx + exact.dw, detached.dx + detached.dw).map { abs($0 - $1) }.max()!
        // F' ≡ 1 for normalized, cosFace, and sphereFace/largeMargin with m = 1 (ψ = c).
        let bends =
            !(p.head.kind == .normalized || p.head.kind == .cosFace || p.head.margin == 1 && (p.head.kind == .sphereFace || p.head.kind == .largeMargin))
        if bends {
            #expect(difference > 1e-3, "\(name): detached and exact gradients agree (max |Δ| \(difference))")
        } else {
            #expect(difference == 0, "\(name): detached and exact gradients differ by \(difference)")
        }
        #expect(exact.objective == detached.objective, "\(name): the mode changed the loss")
    }

    /// F against the independent table of `HeadLossReference.targetLogit`, and F' against central
    /// differences of F, on a grid of cosines that crosses every branch (arcFace's θ+m = π,
    /// easy margin's c = 0, ψ's k = 1…m−1).
    @Test(arguments: heads.map(\.0))
    func marginFunctionAndDerivative(name: String) {
        let head = Self.head(name, .exact)
        let scale: Double = head.kind == .largeMargin ? 1 : Double(head.scale)
        var checked = 0
        for step in 1..<400 {
            let c = -1 + Double(step) * 0.005 + 0.0012345
            guard c < 1 else { continue }
            let (f, df) = HeadAnalyticReference.target(head, c)
            let table = HeadLossReference.targetLogit(head, c: c, xNorm: 1, wNorm: 1) / scale
            #expect(abs(f - table) <= 1e-12, "\(name): F(\(c)) = \(f), table \(table)")
            let h = 1e-7
            let (up, down) = (HeadAnalyticReference.target(head, c + h).f, HeadAnalyticReference.target(head, c - h).f)
            // Skip the (discontinuous) branch switches of arcFace.
            if head.kind == .arcFace, abs(up - down) > 1e-3 { continue }
            let numerical = (up - down) / (2 * h)
            #expect(abs(df - numerical) <= 1e-5 * max(1, abs(numerical)), "\(name): F'(\(c)) = \(df), numerical \(numerical)")
            checked += 1
        }
        #expect(checked > 390)
        // ψ and its derivative at c = ±1 and the Chebyshev identities T_m(cos t) = cos(mt), U_{m−1}(cos t)·sin t = sin(mt).
        for m in 1...6 {
            for t in [0.1, 0.7, 1.3, 2.2, 3.0] {
                let (tm, um) = HeadAnalyticReference.chebyshev(m, cos(t))
                #expect(abs(tm - cos(Double(m) * t)) <= 1e-12 && abs(um * sin(t) - sin(Double(m) * t)) <= 1e-12, "m \(m) t \(t)")
            }
        }
    }
}
