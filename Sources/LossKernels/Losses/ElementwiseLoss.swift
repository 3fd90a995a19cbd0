import Foundation
import _CMicrokernels

/// A loss that compares an input with a target element by element (logits with binary targets,
/// predictions with regression targets, log-probabilities with KL targets), with its derivative
/// with respect to the input.
/// One description serves the CPU loop, the OpenCL kernel (`kind.code` is the kernel's op code,
/// an `lk_elementwise_kind` of lk_codes.h) and the tests.
struct ElementwiseLoss: Sendable {
    enum Kind: Sendable {
        /// `max(z,0) − z·t + log(1 + exp(−|z|))`; derivative σ(z) − t.
        case binaryCrossEntropyWithLogits
        /// torchvision `sigmoid_focal_loss`: `ce·(1−p_t)^γ·α_t`.
        case sigmoidFocal
        /// `(p − t)²`.
        case mse
        /// `|p − t|`.
        case l1
        /// `0.5(p−t)²/β` if `|p−t| < β`, else `|p−t| − 0.5β` (β = `parameter`; β = 0 is l1).
        case smoothL1
        /// `0.5(p−t)²` if `|p−t| < δ`, else `δ(|p−t| − 0.5δ)` (δ = `parameter`).
        case huber
        /// `(log(max(p,ε)+1) − log(max(t,ε)+1))²`, ε = 1e-7.
        case msle
        /// `100·|t − p| / max(|t|, ε)`, ε = 1e-7.
        case mape
        /// PyTorch's `binary_cross_entropy_with_logits` with `weight` ew and `pos_weight` pw (the
        /// element's, from `ElementWeights`): with `lw = 1 + (pw − 1)·t`,
        /// `ew·[(1 − t)·z + lw·(log1p(exp(−|z|)) + max(−z, 0))]`; derivative `ew·(lw·σ(z) − pw·t)`.
        case weightedBinaryCrossEntropyWithLogits
        /// KL divergence of log-probabilities x against probabilities t: `t·(log t − x)`, derivative
        /// `−t`; both exactly 0 where t = 0, whatever x.
        case klDivergence
        /// KL divergence against log-probabilities lt: `exp(lt)·(lt − x)`, derivative `−exp(lt)`;
        /// both exactly 0 where lt = −∞.
        case klDivergenceLogTarget

        /// The kernels' and microkernels' code (lk_codes.h).
        var code: Int32 {
            let kind: lk_elementwise_kind
            switch self {
            case .binaryCrossEntropyWithLogits: kind = LK_ELEMENTWISE_BCE_WITH_LOGITS
            case .sigmoidFocal: kind = LK_ELEMENTWISE_SIGMOID_FOCAL
            case .mse: kind = LK_ELEMENTWISE_MSE
            case .l1: kind = LK_ELEMENTWISE_L1
            case .smoothL1: kind = LK_ELEMENTWISE_SMOOTH_L1
            case .huber: kind = LK_ELEMENTWISE_HUBER
            case .msle: kind = LK_ELEMENTWISE_MSLE
            case .mape: kind = LK_ELEMENTWISE_MAPE
            case .weightedBinaryCrossEntropyWithLogits: kind = LK_ELEMENTWISE_WEIGHTED_BCE_WITH_LOGITS
            case .klDivergence: kind = LK_ELEMENTWISE_KL_DIV
            case .klDivergenceLogTarget: kind = LK_ELEMENTWISE_KL_DIV_LOG_TARGET
            }
            return Int32(kind.rawValue)
        }
    }

    let kind: Kind
    /// β of smoothL1, δ of huber.
    var parameter: Float = 0
    /// γ of sigmoid focal.
    var gamma: Float = 0
    /// α of sigmoid focal (no α weighting when negative).
    var alpha: Float = -1
    let reduction: LossReduction
    /// What mean divides the sum by: the number of elements (every loss but KL's batchmean), or a
    /// number of rows.
    var mean: Mean = .elements

    /// The denominator of a mean.
    enum Mean: Sendable, Equatable {
        /// The number of elements `N`.
        case elements
        /// The number of rows `B` (`KLDivReduction.batchMean`).
        case rows(Int)
    }

    /// Loss and ∂loss/∂input of one element, in double. `weight` (ew) and `posWeight` (pw) are read
    /// by the weighted BCE only.
    func evaluate(_ input: Double, _ target: Double, weight: Double = 1, posWeight: Double = 1) -> (loss: Double, derivative: Double) {
        switch kind {
        case .binaryCrossEntropyWithLogits:
            let z = input, t = target
            let ce = Swift.max(z, 0) - z * t + Foundation.log1p(Foundation.exp(-Swift.abs(z)))
            return (ce, Self.sigmoid(z) - t)
        case .sigmoidFocal:
            let z = input, t = target, g = Double(gamma), a = Double(alpha)
            let p = Self.sigmoid(z)
            let ce = Swift.max(z, 0) - z * t + Foundation.log1p(Foundation.exp(-Swift.abs(z)))
            let pt = p * t + (1 - p) * (1 - t)
            let q = 1 - pt
            let alphaT = a >= 0 ? a * t + (1 - a) * (1 - t) : 1
            let modulator = Foundation.pow(q, g)
            // d(1−p_t)^γ/dz = −γ(1−p_t)^{γ−1}·(2t−1)·p(1−p); 0 when γ = 0 or 1−p_t = 0.
            let dModulator = (g == 0 || q <= 0) ? 0 : -g * Foundation.pow(q, g - 1) * (2 * t - 1) * p * (1 - p)
            return (alphaT * ce * modulator, alphaT * ((p - t) * modulator + ce * dModulator))
        case .mse:
            let d = input - target
            return (d * d, 2 * d)
        case .l1:
            let d = input - target
            return (Swift.abs(d), Self.sign(d))
        case .smoothL1:
            let d = input - target, beta = Double(parameter)
            if beta > 0 && Swift.abs(d) < beta { return (0.5 * d * d / beta, d / beta) }
            return (Swift.abs(d) - 0.5 * beta, Self.sign(d))
        case .huber:
            let d = input - target, delta = Double(parameter)
            if Swift.abs(d) < delta { return (0.5 * d * d, d) }
            return (delta * (Swift.abs(d) - 0.5 * delta), delta * Self.sign(d))
        case .msle:
            let eps = 1e-7
            let pc = Swift.max(input, eps)
            let r = Foundation.log(pc + 1) - Foundation.log(Swift.max(target, eps) + 1)
            return (r * r, input > eps ? 2 * r / (pc + 1) : 0)
        case .mape:
            let denominator = Swift.max(Swift.abs(target), 1e-7)
            return (100 * Swift.abs(target - input) / denominator, 100 * Self.sign(input - target) / denominator)
        case .weightedBinaryCrossEntropyWithLogits:
            let z = input, t = target
            let lw = 1 + (posWeight - 1) * t
            let softplusOfMinusZ = Foundation.log1p(Foundation.exp(-Swift.abs(z))) + Swift.max(-z, 0)
            return (weight * ((1 - t) * z + lw * softplusOfMinusZ), weight * (lw * Self.sigmoid(z) - posWeight * t))
        case .klDivergence:
            let t = target
            if t == 0 { return (0, 0) }
            return (t * (Foundation.log(t) - input), -t)
        case .klDivergenceLogTarget:
            let lt = target
            if lt == -.infinity { return (0, 0) }
            let t = Foundation.exp(lt)
            return (t * (lt - input), -t)
        }
    }

    /// sign(x) with sign(0) = 0.
    static func sign(_ x: Double) -> Double { x > 0 ? 1 : (x < 0 ? -1 : 0) }

    static func sigmoid(_ z: Double) -> Double {
        z >= 0 ? 1 / (1 + Foundation.exp(-z)) : Foundation.exp(z) / (1 + Foundation.exp(z))
    }

    /// Checks the kind's parameters: β ≥ 0 (smoothL1), δ > 0 (huber), γ ≥ 0 and α ≤ 1
    /// (sigmoid focal), each finite.
    func validate() throws {
        switch kind {
        case .smoothL1:
            guard parameter.isFinite, parameter >= 0 else {
                throw LossKernelsError.invalidOption(name: "beta", value: "\(parameter)", allowed: ">= 0 and finite")
            }
        case .huber:
            guard parameter.isFinite, parameter > 0 else {
                throw LossKernelsError.invalidOption(name: "delta", value: "\(parameter)", allowed: "> 0 and finite")
            }
        case .sigmoidFocal:
            guard gamma.isFinite, gamma >= 0 else { throw LossKernelsError.invalidOption(name: "gamma", value: "\(gamma)", allowed: ">= 0 and finite") }
            guard alpha.isFinite, alpha <= 1 else {
                throw LossKernelsError.invalidOption(name: "alpha", value: "\(alpha)", allowed: "<= 1 (negative: no weighting)")
            }
        default:
            break
        }
    }

    /// The kernel's first parameter: γ for sigmoid focal, else `parameter` (β, δ).
    var firstParameter: Float { kind == .sigmoidFocal ? gamma : parameter }

    /// What mean divides the sum of `count` elements' losses by: `count`, or the rows of `mean`.
    func meanDenominator(count: Int) -> Double {
        switch mean {
        case .elements: return Double(count)
        case .rows(let rows): return Double(rows)
        }
    }

    /// The factor every element's derivative is multiplied by: 1/(mean's denominator) for mean, 1
    /// for sum and none (none then multiplies by the element's upstream value).
    func scale(count: Int) -> Double { reduction.gradientScale(meanDenominator: meanDenominator(count: count)) }

    /// The reduction's name in errors: KL divergence's `batchmean` for a mean over rows, else the
    /// `LossReduction`'s.
    var reductionName: String {
        if reduction == .mean, case .rows = mean { return KLDivReduction.batchMean.rawValue }
        return reduction.rawValue
    }
}

extension ElementwiseLoss {
    /// PyTorch's `kl_div(input, target, reduction:, log_target:)` over `rows` rows: the KL kind, and
    /// `KLDivReduction` as an elementwise reduction — batchMean is a mean over the rows, mean one
    /// over the elements, sum and none as themselves.
    static func klDivergence(logTarget: Bool, reduction: KLDivReduction, rows: Int) -> ElementwiseLoss {
        let kind: Kind = logTarget ? .klDivergenceLogTarget : .klDivergence
        switch reduction {
        case .batchMean: return ElementwiseLoss(kind: kind, reduction: .mean, mean: .rows(rows))
        case .mean: return ElementwiseLoss(kind: kind, reduction: .mean)
        case .sum: return ElementwiseLoss(kind: kind, reduction: .sum)
        case .none: return ElementwiseLoss(kind: kind, reduction: .none)
        }
    }
}
