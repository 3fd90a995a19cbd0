import Foundation
import LossKernels

/// A float64 ANALYTIC reference of the margin heads (loss, ∂L/∂X, ∂L/∂W), written from
/// docs/OPERATIONS.md, "Margin heads", by the chain rule. It costs
/// O(B·C·D), so it can check shapes far beyond what central differences allow. It is validated
/// against `HeadLossReference` (an independent loss implementation and its central differences)
/// in `HeadAnalyticReferenceTests` below.
///
/// Notation (per row i, class j): `u_i = ‖x_i‖`, `x̂_i = x_i/max(u_i, ε)`, `v_j = ‖w_j‖`,
/// `ŵ_j = w_j/max(v_j, ε)`, ε = 1e-12, `c_ij = clamp(x̂_i·ŵ_j, −1, 1)`. Every head's logit is
/// `z_ij = A_i·B_j·F_ij(c_ij)` with
///
/// - amplitude `A_i`: `s` (normalized, cosFace, arcFace, combined), `s·u_i` (sphereFace), `u_i` (largeMargin);
/// - class factor `B_j`: `v_j` for largeMargin, else 1;
/// - `F_ij(c) = c` for a non-target class and the spec's margin function `F(c)` for the target
///   (cosFace `c − m`; arcFace `cos(θ+m)` or the fallback `c − m·sin m`, or with easy margin `c`
///   where `c ≤ 0`; combined `cos(m1θ+m2) − m3`; sphereFace/largeMargin `(ψ(θ) + λc)/(1+λ)`).
///
/// Backward, with `G_ij = r_i·(p_ij − [j = y_i])` (`r_i` = 1/B for mean, 1 for sum, the upstream
/// value for none):
///
/// - `∂L/∂c_ij = G_ij·A_i·B_j·F'_ij`, `F' = 1` for non-targets; the target's `F'` is
///   arcFace/combined `m1·sin(m1θ+m2)/sinθ` with `sinθ = sqrt(max(1−c², 1e-12))` (arcFace m1 = 1,
///   m2 = m), the fallback branch (and easy margin's `c ≤ 0` branch) 1, cosFace 1,
///   sphereFace/largeMargin `((−1)^k·m·U_{m−1}(c) + λ)/(1+λ)`; with `gradient: .detached` the
///   target's `F'` is 1 (that of a non-target logit).
/// - The clamp is taken with derivative 1: `x̂·ŵ` leaves `[−1, 1]` only by rounding (Cauchy–Schwarz),
///   and at `|x̂·ŵ| = 1` the derivative of `x̂·ŵ` itself is 0 anyway.
/// - `∂L/∂x̂_i = Σ_j ∂L/∂c_ij·ŵ_j`, `∂L/∂ŵ_j = Σ_i ∂L/∂c_ij·x̂_i`; the normalisation's Jacobian
///   is `(I − x̂x̂ᵀ)/u` when `u > ε` and `I/ε` when the norm is clamped (a zero row).
/// - Amplitudes: `∂L/∂A_i = Σ_j G_ij·B_j·F_ij`, `∂A_i/∂x_i = s·x_i/u_i` (sphereFace) or `x_i/u_i`
///   (largeMargin); `∂L/∂B_j = Σ_i G_ij·A_i·F_ij`, `∂B_j/∂w_j = w_j/v_j` (largeMargin). At a zero
///   row the norm's (sub)gradient is taken as 0.
///
/// Detached mode and its numerical check: the detached gradient is the exact gradient of a
/// different loss, one whose target logit is `A_i·B_y·(c + K_i)` with the offset
/// `K_i = F(c⁰_iy) − c⁰_iy` FROZEN at the evaluation point (a constant, like a `.detach()`d margin):
/// at that point its logits and loss equal the head's, and its ∂z/∂c is that of a non-target.
/// `frozenTargetOffsets` computes the `K_i`, `evaluate(_:frozenOffsets:)` evaluates that loss (and,
/// with the offsets, analytic gradients that use F' = 1), and `numericalGradients(_:frozenOffsets:)`
/// takes its central differences: those are what the detached analytic gradient is checked against.
package enum HeadAnalyticReference {
    package static let epsilon = 1e-12

    /// The reference's results for one problem.
    package struct Result {
        /// Per-row losses `lse_i − z_iy`.
        package var rowLosses: [Double]
        /// What the library returns as `loss`: `[mean]`, `[sum]`, or the per-row losses for `.none`.
        package var loss: [Double]
        /// The differentiated objective: the reduced loss, or `Σ g_i·loss_i` for `.none`.
        package var objective: Double
        package var dx: [Double]
        package var dw: [Double]

        package init(rowLosses: [Double], loss: [Double], objective: Double, dx: [Double], dw: [Double]) {
            (self.rowLosses, self.loss, self.objective, self.dx, self.dw) = (rowLosses, loss, objective, dx, dw)
        }
    }

    // MARK: - The margin function, from the spec

    /// `T_m(c)` and `U_{m−1}(c)` by their recurrences (T_0 = 1, T_1 = c; U_0 = 1, U_1 = 2c).
    package static func chebyshev(_ m: Int, _ c: Double) -> (t: Double, u: Double) {
        precondition(m >= 1)
        var t0 = 1.0, t1 = c   // T_{n−1}, T_n with n = 1
        var u0 = 0.0, u1 = 1.0   // U_{n−2}, U_{n−1} with n = 1 (U_{−1} = 0)
        var n = 1
        while n < m {
            (t0, t1) = (t1, 2 * c * t1 - t0)
            (u0, u1) = (u1, 2 * c * u1 - u0)
            n += 1
        }
        return (t1, u1)
    }

    /// `ψ(θ) = (−1)^k·cos(mθ) − 2k` with `k = ⌊mθ/π⌋` clamped to `0…m−1`, `cos(mθ) = T_m(c)`,
    /// and `dψ/dc = (−1)^k·m·U_{m−1}(c)`.
    package static func psi(_ c: Double, m: Int) -> (value: Double, derivative: Double) {
        let theta = acos(min(max(c, -1), 1))
        let k = min(max(Int(floor(Double(m) * theta / Double.pi)), 0), m - 1)
        let sign: Double = k.isMultiple(of: 2) ? 1 : -1
        let (t, u) = chebyshev(m, c)
        return (sign * t - 2 * Double(k), sign * Double(m) * u)
    }

    /// `sin θ = sqrt(max(1 − c², 1e-12))`.
    package static func sinTheta(_ c: Double) -> Double { max(1 - c * c, 1e-12).squareRoot() }

    /// The target's `F(c)` and its EXACT derivative `F'(c)` (whatever the head's gradient mode).
    package static func target(_ head: MarginHead, _ c: Double) -> (f: Double, df: Double) {
        let m = Double(head.margin)
        switch head.kind {
        case .normalized:
            return (c, 1)
        case .cosFace:
            return (c - m, 1)
        case .arcFace:
            let theta = acos(c)
            let useCos = head.easyMargin ? c > 0 : theta + m <= Double.pi
            if useCos { return (cos(theta + m), sin(theta + m) / sinTheta(c)) }
            return head.easyMargin ? (c, 1) : (c - m * sin(m), 1)
        case .combined:
            let theta = acos(c), m1 = Double(head.m1), m2 = Double(head.m2)
            return (cos(m1 * theta + m2) - Double(head.m3), m1 * sin(m1 * theta + m2) / sinTheta(c))
        case .sphereFace, .largeMargin:
            let lambda = Double(head.lambda)
            let (p, dp) = psi(c, m: Int(head.margin))
            return ((p + lambda * c) / (1 + lambda), (dp + lambda) / (1 + lambda))
        }
    }

    /// `K_i = F(c⁰_iy) − c⁰_iy` at the problem's point: the frozen target offsets of the detached check.
    package static func frozenTargetOffsets(_ p: HeadLossReference.Problem) -> [Double] {
        (0..<p.b).map { i in
            let xi = Array(p.x[(i * p.d)..<((i + 1) * p.d)]), wy = Array(p.w[(p.labels[i] * p.d)..<((p.labels[i] + 1) * p.d)])
            let xn = max(HeadLossReference.norm(xi[...]), epsilon), wn = max(HeadLossReference.norm(wy[...]), epsilon)
            var dot = 0.0
            for k in 0..<p.d { dot += (xi[k] / xn) * (wy[k] / wn) }
            let c = min(max(dot, -1), 1)
            return target(p.head, c).f - c
        }
    }

    package static func rowScale(_ p: HeadLossReference.Problem) -> [Double] {
        switch p.reduction {
        case .mean: return [Double](repeating: 1 / Double(p.b), count: p.b)
        case .sum: return [Double](repeating: 1, count: p.b)
        case .none: return p.gradOutput ?? [Double](repeating: 1, count: p.b)
        }
    }

    // MARK: - Loss and analytic gradients

    /// Loss and analytic gradients. With `frozenOffsets`, the target logit is `A·B·(c + K_i)` (the
    /// detached check's loss, F' = 1); without, the head's own logits, and the target's F' is the
    /// exact one or 1 as `p.head.gradient` says.
    package static func evaluate(_ p: HeadLossReference.Problem, frozenOffsets: [Double]? = nil) -> Result {
        let (b, n, d) = (p.b, p.c, p.d)
        let head = p.head
        let detached = frozenOffsets != nil || head.gradient == .detached
        let r = rowScale(p)

        // Norms and normalised rows.
        var xn = [Double](repeating: 0, count: b), wn = [Double](repeating: 0, count: n)
        var xh = [Double](repeating: 0, count: b * d), wh = [Double](repeating: 0, count: n * d)
        for i in 0..<b {
            var s = 0.0
            for k in 0..<d { s += p.x[i * d + k] * p.x[i * d + k] }
            xn[i] = s.squareRoot()
            for k in 0..<d { xh[i * d + k] = p.x[i * d + k] / max(xn[i], epsilon) }
        }
        for j in 0..<n {
            var s = 0.0
            for k in 0..<d { s += p.w[j * d + k] * p.w[j * d + k] }
            wn[j] = s.squareRoot()
            for k in 0..<d { wh[j * d + k] = p.w[j * d + k] / max(wn[j], epsilon) }
        }
        let amplitude: [Double] = (0..<b).map { i in
            switch head.kind {
            case .sphereFace: return Double(head.scale) * xn[i]
            case .largeMargin: return xn[i]
            default: return Double(head.scale)
            }
        }
        let classFactor: [Double] = head.kind == .largeMargin ? wn : [Double](repeating: 1, count: n)

        // Cosines, F, F', logits.
        var f = [Double](repeating: 0, count: b * n), df = [Double](repeating: 1, count: b * n)
        var z = [Double](repeating: 0, count: b * n)
        xh.withUnsafeBufferPointer { xp in
            wh.withUnsafeBufferPointer { wp in
                f.withUnsafeMutableBufferPointer { fp in
                    for i in 0..<b {
                        let xi = xp.baseAddress! + i * d
                        for j in 0..<n {
                            let wj = wp.baseAddress! + j * d
                            var dot = 0.0
                            for k in 0..<d { dot += xi[k] * wj[k] }
                            fp[i * n + j] = min(max(dot, -1), 1)
                        }
                    }
                }
            }
        }
        for i in 0..<b {
            let y = p.labels[i], c = f[i * n + y]
            if let frozenOffsets {
                f[i * n + y] = c + frozenOffsets[i]
            } else {
                let t = target(head, c)
                f[i * n + y] = t.f
                df[i * n + y] = detached ? 1 : t.df
            }
            for j in 0..<n { z[i * n + j] = amplitude[i] * classFactor[j] * f[i * n + j] }
        }

        // Softmax cross-entropy; G = r·(p − onehot); ∂L/∂c, ∂L/∂A, ∂L/∂B.
        var rowLosses = [Double](repeating: 0, count: b)
        var dc = [Double](repeating: 0, count: b * n)
        var dA = [Double](repeating: 0, count: b), dB = [Double](repeating: 0, count: n)
        for i in 0..<b {
            var m = -Double.infinity
            for j in 0..<n { m = max(m, z[i * n + j]) }
            var s = 0.0
            for j in 0..<n { s += exp(z[i * n + j] - m) }
            let lse = m + log(s)
            let y = p.labels[i]
            rowLosses[i] = lse - z[i * n + y]
            for j in 0..<n {
                let g = r[i] * (exp(z[i * n + j] - lse) - (j == y ? 1 : 0))
                dc[i * n + j] = g * amplitude[i] * classFactor[j] * df[i * n + j]
                dA[i] += g * classFactor[j] * f[i * n + j]
                dB[j] += g * amplitude[i] * f[i * n + j]
            }
        }

        // ∂L/∂x̂ = dc·Ŵ, ∂L/∂ŵ = dcᵀ·X̂.
        var gxh = [Double](repeating: 0, count: b * d), gwh = [Double](repeating: 0, count: n * d)
        dc.withUnsafeBufferPointer { dcp in
            xh.withUnsafeBufferPointer { xp in
                wh.withUnsafeBufferPointer { wp in
                    gxh.withUnsafeMutableBufferPointer { gx in
                        gwh.withUnsafeMutableBufferPointer { gw in
                            for i in 0..<b {
                                let gxi = gx.baseAddress! + i * d, xi = xp.baseAddress! + i * d
                                for j in 0..<n {
                                    let e = dcp[i * n + j]
                                    if e == 0 { continue }
                                    let wj = wp.baseAddress! + j * d, gwj = gw.baseAddress! + j * d
                                    for k in 0..<d {
                                        gxi[k] += e * wj[k]
                                        gwj[k] += e * xi[k]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        /// Vector–Jacobian product of `v ↦ v/max(‖v‖, ε)` at a row with norm `norm` and direction `unit`.
        func normalisationBackward(_ g: ArraySlice<Double>, unit: ArraySlice<Double>, norm: Double) -> [Double] {
            let g = Array(g), unit = Array(unit)
            if norm > epsilon {
                var dot = 0.0
                for k in 0..<g.count { dot += unit[k] * g[k] }
                return (0..<g.count).map { (g[$0] - dot * unit[$0]) / norm }
            }
            return g.map { $0 / epsilon }
        }

        var dx = [Double](repeating: 0, count: b * d), dw = [Double](repeating: 0, count: n * d)
        for i in 0..<b {
            var row = normalisationBackward(gxh[(i * d)..<((i + 1) * d)], unit: xh[(i * d)..<((i + 1) * d)], norm: xn[i])
            if head.kind == .sphereFace || head.kind == .largeMargin, xn[i] > 0 {
                let dAdu = head.kind == .sphereFace ? Double(head.scale) : 1
                for k in 0..<d { row[k] += dA[i] * dAdu * p.x[i * d + k] / xn[i] }
            }
            for k in 0..<d { dx[i * d + k] = row[k] }
        }
        for j in 0..<n {
            var row = normalisationBackward(gwh[(j * d)..<((j + 1) * d)], unit: wh[(j * d)..<((j + 1) * d)], norm: wn[j])
            if head.kind == .largeMargin, wn[j] > 0 {
                for k in 0..<d { row[k] += dB[j] * p.w[j * d + k] / wn[j] }
            }
            for k in 0..<d { dw[j * d + k] = row[k] }
        }

        let total = rowLosses.reduce(0, +)
        let loss: [Double], objective: Double
        switch p.reduction {
        case .mean: loss = [total / Double(b)]; objective = loss[0]
        case .sum: loss = [total]; objective = total
        case .none:
            loss = rowLosses
            objective = zip(rowLosses, r).reduce(0) { $0 + $1.0 * $1.1 }
        }
        return Result(rowLosses: rowLosses, loss: loss, objective: objective, dx: dx, dw: dw)
    }

    /// Central differences of `evaluate(_:frozenOffsets:).objective` (the detached check; same
    /// steps as `HeadLossReference.numericalGradients`).
    package static func numericalGradients(_ p: HeadLossReference.Problem, frozenOffsets: [Double], step: Double = 1e-6) -> (dx: [Double], dw: [Double]) {
        HeadLossReference.centralDifferences(p, step: step) { evaluate($0, frozenOffsets: frozenOffsets).objective }
    }
}
