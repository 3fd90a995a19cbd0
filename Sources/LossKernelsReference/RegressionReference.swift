import Foundation
import LossKernels

/// The float64 reference of the regression losses, per element, from docs/OPERATIONS.md's
/// table: with `d = p − t`,
///
///     mse      d²                                   ∂/∂p = 2d
///     l1       |d|                                  ∂/∂p = sign d
///     smoothL1 ½d²/β if |d| < β, else |d| − ½β       (β = 0: l1)
///     huber    ½d² if |d| < δ, else δ(|d| − ½δ)
///     msle     (log(max(p, ε)+1) − log(max(t, ε)+1))²,  ε = 1e-7 (∂/∂p = 0 where p ≤ ε)
///     mape     100·|t − p| / max(|t|, ε)
///
/// Reductions (mean over every element, sum, none) are applied by the caller.
package enum RegressionReference {
    /// `(loss, ∂loss/∂p)` of one element `p` (prediction) against `t` (target).
    package static func element(_ loss: RegressionLoss, _ p: Double, _ t: Double) -> (loss: Double, derivative: Double) {
        let d = p - t
        func sign(_ x: Double) -> Double { x > 0 ? 1 : (x < 0 ? -1 : 0) }
        switch loss {
        case .mse: return (d * d, 2 * d)
        case .l1: return (abs(d), sign(d))
        case .smoothL1(let beta):
            let beta = Double(beta)
            if beta == 0 { return (abs(d), sign(d)) }
            return abs(d) < beta ? (0.5 * d * d / beta, d / beta) : (abs(d) - 0.5 * beta, sign(d))
        case .huber(let delta):
            let delta = Double(delta)
            return abs(d) < delta ? (0.5 * d * d, d) : (delta * (abs(d) - 0.5 * delta), delta * sign(d))
        case .msle:
            let eps = 1e-7
            let r = log(max(p, eps) + 1) - log(max(t, eps) + 1)
            return (r * r, p > eps ? 2 * r / (max(p, eps) + 1) : 0)
        case .mape:
            let eps = 1e-7
            return (100 * abs(t - p) / max(abs(t), eps), 100 * sign(p - t) / max(abs(t), eps))
        }
    }
}
