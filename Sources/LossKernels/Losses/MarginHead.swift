import Foundation
import _CMicrokernels

/// How the target logit's derivative with respect to the cosine is taken.
public enum MarginGradient: String, Sendable, CaseIterable, Equatable {
    /// The exact chain rule through the margin function.
    case exact
    /// The margin is a constant offset: the target's derivative is that of a non-target logit
    /// (InsightFace's and OpenSphere's choice).
    case detached
}

/// A normalised-cosine softmax head with a margin on the target class (docs/OPERATIONS.md,
/// "Margin heads"). With `x̂ = x/max(‖x‖, 1e-12)`, `ŵ = w/max(‖w‖, 1e-12)`,
/// `c = clamp(x̂·ŵ, −1, 1)`, `θ = acos c`:
///
/// | kind | non-target logit | target logit |
/// |---|---|---|
/// | normalized | `s·c` | `s·c` |
/// | cosFace | `s·c` | `s·(c − m)` |
/// | arcFace | `s·c` | `s·cos(θ+m)` if `θ+m ≤ π`, else `s·(c − m·sin m)`; easy margin: `s·cos(θ+m)` if `c > 0`, else `s·c` |
/// | combined | `s·c` | `s·(cos(m1·θ + m2) − m3)` |
/// | sphereFace | `s·‖x‖·c` | `s·‖x‖·(ψ(θ) + λc)/(1+λ)` |
/// | largeMargin | `‖w‖·‖x‖·c` | `‖w_y‖·‖x‖·(ψ(θ) + λc)/(1+λ)` |
///
/// `ψ(θ) = (−1)^k·cos(mθ) − 2k`, `k = ⌊mθ/π⌋` clamped to `0…m−1`, evaluated as `T_m(c)` with
/// derivative `(−1)^k·m·U_{m−1}(c)`.
public struct MarginHead: Sendable, Equatable {
    /// The head families of the table above.
    public enum Kind: String, Sendable, CaseIterable, Equatable {
        case normalized, cosFace, arcFace, combined, sphereFace, largeMargin

        /// The kernels' code (`lk_margin_head_kind`, lk_codes.h).
        var code: Int32 {
            let kind: lk_margin_head_kind
            switch self {
            case .normalized: kind = LK_HEAD_NORMALIZED
            case .cosFace: kind = LK_HEAD_COSFACE
            case .arcFace: kind = LK_HEAD_ARCFACE
            case .combined: kind = LK_HEAD_COMBINED
            case .sphereFace: kind = LK_HEAD_SPHEREFACE
            case .largeMargin: kind = LK_HEAD_LARGE_MARGIN
            }
            return Int32(kind.rawValue)
        }
    }

    public var kind: Kind
    /// `s` (not used by largeMargin, whose scale is ‖w‖·‖x‖).
    public var scale: Float
    /// cosFace/arcFace: the additive margin `m`; sphereFace/largeMargin: the integer angle multiplier `m`.
    public var margin: Float
    /// combined: `cos(m1·θ + m2) − m3`.
    public var m1: Float
    public var m2: Float
    public var m3: Float
    /// arcFace: use `cos(θ+m)` only where `c > 0`.
    public var easyMargin: Bool
    /// sphereFace/largeMargin: the annealing weight `λ ≥ 0` (see `LambdaSchedule`).
    public var lambda: Float
    /// Exact or detached target derivative.
    public var gradient: MarginGradient

    public init(
        kind: Kind, scale: Float, margin: Float = 0, m1: Float = 1, m2: Float = 0, m3: Float = 0,
        easyMargin: Bool = false, lambda: Float = 0, gradient: MarginGradient = .exact
    ) {
        self.kind = kind
        self.scale = scale
        self.margin = margin
        self.m1 = m1
        self.m2 = m2
        self.m3 = m3
        self.easyMargin = easyMargin
        self.lambda = lambda
        self.gradient = gradient
    }

    /// NormFace: `s·c` for every class (s = 64).
    public static func normalized(scale: Float = 64) -> MarginHead { MarginHead(kind: .normalized, scale: scale) }
    /// CosFace / LMCL: target `s·(c − m)` (s = 64, m = 0.35).
    public static func cosFace(scale: Float = 64, margin: Float = 0.35, gradient: MarginGradient = .exact) -> MarginHead {
        MarginHead(kind: .cosFace, scale: scale, margin: margin, gradient: gradient)
    }
    /// ArcFace: target `s·cos(θ + m)` (s = 64, m = 0.5), exact gradient by default.
    public static func arcFace(scale: Float = 64, margin: Float = 0.5, easyMargin: Bool = false, gradient: MarginGradient = .exact) -> MarginHead {
        MarginHead(kind: .arcFace, scale: scale, margin: margin, easyMargin: easyMargin, gradient: gradient)
    }
    /// InsightFace's combined margin: target `s·(cos(m1·θ + m2) − m3)` (s = 64, 1, 0.3, 0.2).
    public static func combined(scale: Float = 64, m1: Float = 1, m2: Float = 0.3, m3: Float = 0.2, gradient: MarginGradient = .exact) -> MarginHead {
        MarginHead(kind: .combined, scale: scale, m1: m1, m2: m2, m3: m3, gradient: gradient)
    }
    /// SphereFace / A-Softmax: logits `s·‖x‖·c`, target `s·‖x‖·(ψ(θ) + λc)/(1+λ)` (m = 4, s = 1, λ = 0).
    public static func sphereFace(margin: Int = 4, scale: Float = 1, lambda: Float = 0, gradient: MarginGradient = .exact) -> MarginHead {
        MarginHead(kind: .sphereFace, scale: scale, margin: Float(margin), lambda: lambda, gradient: gradient)
    }
    /// L-Softmax: logits `w_j·x`, target `‖w_y‖·‖x‖·(ψ(θ) + λc)/(1+λ)` (m = 4, λ = 0).
    public static func largeMargin(margin: Int = 4, lambda: Float = 0, gradient: MarginGradient = .exact) -> MarginHead {
        MarginHead(kind: .largeMargin, scale: 1, margin: Float(margin), lambda: lambda, gradient: gradient)
    }

    /// Throws `.invalidOption` naming the option when it is out of range: scale ≤ 0 or not finite,
    /// an arcFace margin outside [0, π), a sphereFace/largeMargin margin that is not an integer
    /// ≥ 1, λ < 0, non-finite margins.
    public func validate() throws {
        func fail(_ name: String, _ value: Float, _ allowed: String) -> LossKernelsError {
            .invalidOption(name: name, value: "\(value)", allowed: allowed)
        }
        if kind != .largeMargin, !(scale.isFinite && scale > 0) { throw fail("scale", scale, "> 0 and finite") }
        switch kind {
        case .normalized: break
        case .cosFace:
            guard margin.isFinite else { throw fail("margin", margin, "finite") }
        case .arcFace:
            guard margin >= 0 && Double(margin) < Double.pi else { throw fail("margin", margin, "[0, π) for arcFace") }
        case .combined:
            guard m1.isFinite, m1 > 0 else { throw fail("m1", m1, "> 0 and finite") }
            guard m2.isFinite else { throw fail("m2", m2, "finite") }
            guard m3.isFinite else { throw fail("m3", m3, "finite") }
        case .sphereFace, .largeMargin:
            guard margin >= 1, margin == margin.rounded(), margin <= 64 else { throw fail("margin", margin, "an integer in 1...64 for \(kind.rawValue)") }
            guard lambda.isFinite, lambda >= 0 else { throw fail("lambda", lambda, ">= 0 and finite") }
        }
    }

    /// The target's margin function of the cosine, `F(c)`, and its derivative `F'(c)` (1 when
    /// the gradient is detached). Non-target classes have `F(c) = c`.
    func target(_ c: Double) -> (value: Double, derivative: Double) {
        let (value, exact) = targetExact(c)
        return (value, gradient == .detached ? 1 : exact)
    }

    private func targetExact(_ c: Double) -> (Double, Double) {
        switch kind {
        case .normalized:
            return (c, 1)
        case .cosFace:
            return (c - Double(margin), 1)
        case .arcFace:
            let m = Double(margin)
            let theta = Foundation.acos(c)
            if easyMargin ? c > 0 : theta + m <= Double.pi {
                return (Foundation.cos(theta + m), Foundation.sin(theta + m) / Self.sinTheta(c))
            }
            return easyMargin ? (c, 1) : (c - m * Foundation.sin(m), 1)
        case .combined:
            let a = Double(m1), b = Double(m2)
            let theta = Foundation.acos(c)
            return (Foundation.cos(a * theta + b) - Double(m3), a * Foundation.sin(a * theta + b) / Self.sinTheta(c))
        case .sphereFace, .largeMargin:
            let m = Int(margin), l = Double(lambda)
            let (psi, dpsi) = Self.psi(c, m)
            return ((psi + l * c) / (1 + l), (dpsi + l) / (1 + l))
        }
    }

    /// `sin θ = sqrt(max(1 − c², 1e-12))`.
    static func sinTheta(_ c: Double) -> Double { (Swift.max(1 - c * c, 1e-12)).squareRoot() }

    /// ψ(θ) = (−1)^k·T_m(c) − 2k and dψ/dc = (−1)^k·m·U_{m−1}(c), k = ⌊mθ/π⌋ in 0…m−1.
    static func psi(_ c: Double, _ m: Int) -> (Double, Double) {
        var k = Int((Double(m) * Foundation.acos(c) / Double.pi).rounded(.down))
        k = Swift.min(Swift.max(k, 0), m - 1)
        // T_1 = c, T_{n+1} = 2c·T_n − T_{n−1}; U_0 = 1, U_{n+1} = 2c·U_n − U_{n−1} (U_{−1} = 0).
        var tPrevious = 1.0, t = c, uPrevious = 0.0, u = 1.0
        for _ in 1..<Swift.max(m, 1) {
            (tPrevious, t) = (t, 2 * c * t - tPrevious)
            (uPrevious, u) = (u, 2 * c * u - uPrevious)
        }
        let sign: Double = k % 2 == 0 ? 1 : -1
        return (sign * t - 2 * Double(k), sign * Double(m) * u)
    }
}

/// The annealing schedule of SphereFace / L-Softmax: `λ = max(λ_min, base·(1 + γ·iteration)^(−power))`.
public struct LambdaSchedule: Sendable, Equatable {
    public var base: Float
    public var gamma: Float
    public var power: Float
    public var minimum: Float

    /// SphereFace's published schedule: base 1000, γ 0.12, power 1, minimum 5.
    public init(base: Float = 1000, gamma: Float = 0.12, power: Float = 1, minimum: Float = 5) {
        self.base = base
        self.gamma = gamma
        self.power = power
        self.minimum = minimum
    }

    /// λ at `iteration` (≥ 0).
    public func lambda(at iteration: Int) -> Float {
        Swift.max(minimum, Float(Double(base) * Foundation.pow(1 + Double(gamma) * Double(iteration), -Double(power))))
    }
}
