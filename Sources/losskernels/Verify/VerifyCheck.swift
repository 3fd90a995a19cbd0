import Foundation
import LossKernelsCatalog
import LossKernelsReference

/// One output of one operation compared with its float64 reference.
///
/// Rules (docs/OPERATIONS.md, "Accuracy"):
/// - `.elementwise(tolerance)`: every value within `tolerance·max(1, |ref|)`; NaN only where the
///   reference is NaN, infinities only where it is the same infinity.
/// - `.gemm`: results computed through a matrix product: all finite, `‖out − ref‖/‖ref‖ ≤ 1e-4`
///   and every value within `1e-3·max(1, |ref|)`.
/// Both are `ComparisonRules`, the tests' own rules.
struct VerifyCheck {
    enum Rule {
        case elementwise(Double)
        case gemm

        var description: String {
            switch self {
            case .elementwise(let tolerance): return "|Δ| ≤ \(tolerance)·max(1,|ref|)"
            case .gemm: return "‖Δ‖/‖ref‖ ≤ 1e-4, |Δ| ≤ 1e-3·max(1,|ref|)"
            }
        }
    }

    /// The tolerance of an elementwise rule.
    static func tolerance(_ rule: ReferenceResult.Rule) -> Double {
        if case .elementwise(let tolerance) = rule { return tolerance }
        return 1e-4
    }

    var output: String
    var actual: [Float]
    var reference: [Double]
    var rule: Rule

    /// The largest `|out − ref| / max(1, |ref|)` over the output (∞ for a misplaced NaN or
    /// infinity, or a size mismatch).
    var maxError: Double {
        guard actual.count == reference.count else { return .infinity }
        var worst = 0.0
        for (a, r) in zip(actual, reference) {
            let a = Double(a)
            if r.isNaN || r.isInfinite || a.isNaN || a.isInfinite {
                if !(r.isNaN && a.isNaN) && a != r { return .infinity }
                continue
            }
            worst = max(worst, abs(a - r) / max(1, abs(r)))
        }
        return worst
    }

    /// The rules of the tests (`ComparisonRules`), so that `verify` passes exactly what they pass.
    var passed: Bool {
        switch rule {
        case .elementwise(let tolerance):
            return actual.count == reference.count
                && zip(actual, reference).allSatisfy { ComparisonRules.mismatch($0, $1, tolerance: tolerance) == nil }
        case .gemm:
            return ComparisonRules.gemmMismatch(actual, reference) == nil
        }
    }
}
