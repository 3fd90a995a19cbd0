import Foundation
import LossKernels

/// The float64 reference of the classification losses, written from docs/OPERATIONS.md
/// ("Conventions", "Cross-entropy from logits", "Focal loss") and PyTorch / torchvision semantics —
/// never from the library's kernels. Inputs are the float32 values a backend sees, widened exactly
/// to Double (`[Float]` overloads), or Double inputs directly (the finite-difference tests perturb
/// Double logits). Every computation is done in Double.
///
/// Every function returns the reduced loss (one value for mean/sum; one per row or element for
/// none) and the analytic gradient of that loss with respect to the logits:
/// - mean, sum: the gradient of the single value;
/// - none: the gradient of `Σ_i loss_i`, or of `Σ_i g_i·loss_i` when `gradOutput` `g` is given.
/// The finite-difference suite (`FiniteDifferenceTests`) checks each gradient against central
/// differences of the loss, so the reference is proven independently of the library.
package enum LossReference {
    package struct Result {
        package var loss: [Double]
        package var gradient: [Double]
    }

    // MARK: Log-softmax of one row

    /// Log-probabilities of one row: `log p_j = (z_j − m) − log Σ_k exp(z_k − m)` with `m` the row
    /// maximum. `Σ_k exp(z_k − m) = 1 + r`, `r` the sum over every entry but the (first) maximum,
    /// and `log(1 + r)` is taken as `log1p(r)`, so a confident row (`r` tiny) keeps full relative
    /// precision in `log p` of its maximum. Also returns `r` and the index of the maximum.
    /// A row that is all `−∞` gives NaN everywhere (as PyTorch); `−∞` elsewhere gives `log p = −∞`.
    package static func logSoftmaxRow(_ z: ArraySlice<Double>) -> (logP: [Double], rest: Double, argmax: Int) {
        let base = z.startIndex
        var best = base
        for j in z.indices where z[j] > z[best] { best = j }
        let m = z[best]
        guard m > -.infinity else { return ([Double](repeating: .nan, count: z.count), .nan, 0) }
        var rest = 0.0
        for j in z.indices where j != best { rest += Foundation.exp(z[j] - m) }
        let logSum = Foundation.log1p(rest)
        return (z.map { ($0 - m) - logSum }, rest, best - base)
    }

    // MARK: Cross-entropy from logits (class-index targets)

    /// Cross-entropy (docs/OPERATIONS.md, "Cross-entropy with class-index targets"), with `p = softmax(z_n)`, `y = y_n`,
    /// `W = Σ_c w_c`:
    ///
    ///     loss_n = (1−ε)·w_y·(−log p_y) + (ε/C)·Σ_c w_c·(−log p_c)      (0 for ignored rows)
    ///     mean   = Σ_n loss_n / Σ_{n not ignored} w_{y_n}                (NaN if that sum is 0)
    ///     dloss_n/dz_nj = (1−ε)·w_y·(p_j − [j=y]) + (ε/C)·(p_j·W − w_j)
    ///
    /// A row is ignored when its label equals `ignoreIndex` (even when that is a valid class); its
    /// gradient is 0. With ε = 0 the smoothing term is absent (so a `−∞` mask on a non-target class
    /// gives a finite loss). With mean and a zero denominator the loss is NaN; the gradient is then
    /// only defined (0) when every row is ignored.
    package static func crossEntropy(
        logits z: [Double], rows: Int, columns: Int, labels: [Int], classWeights: [Double]? = nil,
        ignoreIndex: Int = -100, labelSmoothing eps: Double = 0, reduction: LossReduction = .mean,
        gradOutput: [Double]? = nil
    ) -> Result {
        precondition(z.count == rows * columns && labels.count == rows)
        let C = columns
        let w = classWeights ?? [Double](repeating: 1, count: C)
        precondition(w.count == C)
        let totalWeight = w.reduce(0, +)
        var losses = [Double](repeating: 0, count: rows)
        var rowGradients = [Double](repeating: 0, count: z.count)   // dloss_n/dz_n, unscaled
        var ignored = [Bool](repeating: false, count: rows)
        var denominator = 0.0
        for n in 0..<rows {
            let y = labels[n]
            if y == ignoreIndex { ignored[n] = true; continue }
            precondition((0..<C).contains(y), "reference: label \(y) of row \(n) outside 0..<\(C)")
            denominator += w[y]
            let logP = logSoftmaxRow(z[(n * C)..<((n + 1) * C)]).logP
            var loss = (1 - eps) * w[y] * (-logP[y])
            if eps != 0 {
                var smooth = 0.0
                for c in 0..<C { smooth += w[c] * (-logP[c]) }
                loss += eps / Double(C) * smooth
            }
            losses[n] = loss
            for j in 0..<C {
                let p = Foundation.exp(logP[j])
                rowGradients[n * C + j] = (1 - eps) * w[y] * (p - (j == y ? 1 : 0)) + eps / Double(C) * (p * totalWeight - w[j])
            }
        }
        let total = losses.reduce(0, +)
        switch reduction {
        case .mean:
            return Result(loss: [total / denominator], gradient: scaleRows(rowGradients, columns: C, skip: ignored) { _ in 1 / denominator })
        case .sum:
            return Result(loss: [total], gradient: scaleRows(rowGradients, columns: C, skip: ignored) { _ in 1 })
        case .none:
            return Result(loss: losses, gradient: scaleRows(rowGradients, columns: C, skip: ignored) { gradOutput?[$0] ?? 1 })
        }
    }

    // MARK: Softmax (multi-class) focal loss

    /// Softmax focal loss `loss_n = −α_y·(1 − p_y)^γ·log p_y` (docs/OPERATIONS.md, "Softmax focal loss"), mean over
    /// rows. With `q = 1 − p_y` and `ℓ = log p_y`, `∂ℓ/∂z_j = [j=y] − p_j` and
    /// `∂q/∂z_j = −p_y·([j=y] − p_j)`, so
    ///
    ///     ∂loss_n/∂z_j = α_y·(q^γ − γ·q^{γ−1}·p_y·ℓ)·(p_j − [j=y])
    ///                  = α_y·q^γ·(1 − γ·p_y·ℓ/q)·(p_j − [j=y])
    ///
    /// The second form is used: `ℓ/q → −1` as `q → 0`, so a certain row (q = 0) has gradient 0
    /// for γ > 0 without evaluating `0^{γ−1}`. `q` is computed without cancellation (from the sum
    /// of the other classes' probabilities when y is the row maximum).
    package static func focal(
        logits z: [Double], rows: Int, columns: Int, labels: [Int], gamma: Double, alpha: [Double],
        reduction: LossReduction = .mean, gradOutput: [Double]? = nil
    ) -> Result {
        precondition(z.count == rows * columns && labels.count == rows)
        precondition(alpha.count == 1 || alpha.count == columns)
        let C = columns
        var losses = [Double](repeating: 0, count: rows)
        var rowGradients = [Double](repeating: 0, count: z.count)
        for n in 0..<rows {
            let y = labels[n]
            precondition((0..<C).contains(y))
            let a = alpha.count == 1 ? alpha[0] : alpha[y]
            let (logP, rest, argmax) = logSoftmaxRow(z[(n * C)..<((n + 1) * C)])
            let l = logP[y]
            let py = Foundation.exp(l)
            let q = argmax == y ? rest / (1 + rest) : 1 - py
            let modulator = Foundation.pow(q, gamma)
            losses[n] = -a * modulator * l
            let ratio = q > 0 ? l / q : -1
            let kappa = a * modulator * (1 - gamma * py * ratio)
            for j in 0..<C {
                rowGradients[n * C + j] = kappa * (Foundation.exp(logP[j]) - (j == y ? 1 : 0))
            }
        }
        let none = [Bool](repeating: false, count: rows)
        switch reduction {
        case .mean:
            return Result(loss: [losses.reduce(0, +) / Double(rows)], gradient: scaleRows(rowGradients, columns: C, skip: none) { _ in 1 / Double(rows) })
        case .sum:
            return Result(loss: [losses.reduce(0, +)], gradient: rowGradients)
        case .none:
            return Result(loss: losses, gradient: scaleRows(rowGradients, columns: C, skip: none) { gradOutput?[$0] ?? 1 })
        }
    }

    // MARK: Elementwise: BCE with logits, sigmoid focal

    /// `σ(z)`, evaluated without overflow for either sign.
    package static func sigmoid(_ z: Double) -> Double {
        z >= 0 ? 1 / (1 + Foundation.exp(-z)) : Foundation.exp(z) / (1 + Foundation.exp(z))
    }

    /// `max(z,0) − z·t + log(1 + exp(−|z|))`.
    package static func bceElement(_ z: Double, _ t: Double) -> Double {
        Swift.max(z, 0) - z * t + Foundation.log1p(Foundation.exp(-Swift.abs(z)))
    }

    /// Binary cross-entropy with logits, per element `max(z,0) − z·t + log(1 + exp(−|z|))`,
    /// derivative `σ(z) − t`; mean over elements.
    package static func binaryCrossEntropyWithLogits(
        logits z: [Double], targets t: [Double], reduction: LossReduction = .mean,
        gradOutput: [Double]? = nil
    ) -> Result {
        let (losses, derivatives) = eachElement(z, t) { z, t in (bceElement(z, t), sigmoid(z) - t) }
        return reduceElementwise(losses, derivatives, reduction, gradOutput)
    }

    /// torchvision `sigmoid_focal_loss`: `p = σ(z)`, `ce = BCEWithLogits(z,t)`,
    /// `p_t = p·t + (1−p)(1−t)`, `loss = ce·(1−p_t)^γ·α_t`, `α_t = α·t + (1−α)(1−t)` for α ≥ 0
    /// (1 for α < 0). With `u = 1 − p_t = p(1−t) + (1−p)t`, `∂u/∂z = (1−2t)·p(1−p)`:
    ///
    ///     ∂loss/∂z = α_t·[(p − t)·u^γ + ce·γ·u^{γ−1}·(1−2t)·p(1−p)]
    ///
    /// `1 − p` is computed as `σ(−z)` (no cancellation); the second term is 0 when γ = 0 or u = 0
    /// (its limit: u = 0 needs t ∈ {0,1} and then ce ~ u).
    package static func sigmoidFocal(
        logits z: [Double], targets t: [Double], gamma: Double, alpha: Double, reduction: LossReduction = .mean,
        gradOutput: [Double]? = nil
    ) -> Result {
        let (losses, derivatives) = eachElement(z, t) { z, t in
            let p = sigmoid(z), oneMinusP = sigmoid(-z)
            let ce = bceElement(z, t)
            let u = p * (1 - t) + oneMinusP * t
            let alphaT = alpha >= 0 ? alpha * t + (1 - alpha) * (1 - t) : 1
            let modulator = Foundation.pow(u, gamma)
            let modulatorTerm = (gamma == 0 || u == 0) ? 0 : ce * gamma * Foundation.pow(u, gamma - 1) * (1 - 2 * t) * p * oneMinusP
            return (ce * modulator * alphaT, alphaT * ((p - t) * modulator + modulatorTerm))
        }
        return reduceElementwise(losses, derivatives, reduction, gradOutput)
    }

    // MARK: Helpers

    /// `f(z_i, t_i)` for every element: the losses and the derivatives. Plain loops over buffers,
    /// because the tests run unoptimised and inputs reach 10^6 elements.
    package static func eachElement(_ z: [Double], _ t: [Double], _ f: (Double, Double) -> (loss: Double, derivative: Double)) -> ([Double], [Double]) {
        precondition(z.count == t.count)
        var losses = [Double](repeating: 0, count: z.count)
        var derivatives = [Double](repeating: 0, count: z.count)
        z.withUnsafeBufferPointer { z in
            t.withUnsafeBufferPointer { t in
                losses.withUnsafeMutableBufferPointer { losses in
                    derivatives.withUnsafeMutableBufferPointer { derivatives in
                        for i in 0..<z.count { (losses[i], derivatives[i]) = f(z[i], t[i]) }
                    }
                }
            }
        }
        return (losses, derivatives)
    }

    package static func reduceElementwise(_ losses: [Double], _ derivatives: [Double], _ reduction: LossReduction, _ gradOutput: [Double]?) -> Result {
        var total = 0.0
        losses.withUnsafeBufferPointer { for l in $0 { total += l } }
        var gradient = derivatives
        switch reduction {
        case .mean:
            let n = Double(losses.count)
            gradient.withUnsafeMutableBufferPointer { for i in 0..<$0.count { $0[i] /= n } }
            return Result(loss: [total / n], gradient: gradient)
        case .sum:
            return Result(loss: [total], gradient: gradient)
        case .none:
            guard let gradOutput else { return Result(loss: losses, gradient: gradient) }
            precondition(gradOutput.count == derivatives.count)
            gradient.withUnsafeMutableBufferPointer { d in gradOutput.withUnsafeBufferPointer { g in for i in 0..<d.count { d[i] *= g[i] } } }
            return Result(loss: losses, gradient: gradient)
        }
    }

    /// Row `n` of `rowGradients` times `factor(n)`; rows in `skip` stay exactly 0.
    package static func scaleRows(_ rowGradients: [Double], columns: Int, skip: [Bool], factor: (Int) -> Double) -> [Double] {
        var out = [Double](repeating: 0, count: rowGradients.count)
        for n in skip.indices where !skip[n] {
            let f = factor(n)
            for j in 0..<columns { out[n * columns + j] = rowGradients[n * columns + j] * f }
        }
        return out
    }

    package static func widen(_ x: [Float]) -> [Double] {
        var out = [Double](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { for i in 0..<x.count { $0[i] = Double(x[i]) } } }
        return out
    }

    // MARK: Float32 inputs (what a backend sees)

    package static func crossEntropy(
        logits: [Float], rows: Int, columns: Int, labels: [Int], classWeights: [Float]? = nil, ignoreIndex: Int = -100,
        labelSmoothing: Float = 0, reduction: LossReduction = .mean, gradOutput: [Float]? = nil
    ) -> Result {
        crossEntropy(
            logits: widen(logits), rows: rows, columns: columns, labels: labels, classWeights: classWeights.map(widen),
            ignoreIndex: ignoreIndex, labelSmoothing: Double(labelSmoothing), reduction: reduction, gradOutput: gradOutput.map(widen))
    }

    package static func focal(
        logits: [Float], rows: Int, columns: Int, labels: [Int], gamma: Float, alpha: FocalAlpha,
        reduction: LossReduction = .mean, gradOutput: [Float]? = nil
    ) -> Result {
        let a: [Double]
        switch alpha {
        case .scalar(let v): a = [Double(v)]
        case .perClass(let v): a = widen(v)
        }
        return focal(
            logits: widen(logits), rows: rows, columns: columns, labels: labels, gamma: Double(gamma), alpha: a,
            reduction: reduction, gradOutput: gradOutput.map(widen))
    }

    package static func binaryCrossEntropyWithLogits(logits: [Float], targets: [Float], reduction: LossReduction = .mean, gradOutput: [Float]? = nil) -> Result
    {
        binaryCrossEntropyWithLogits(logits: widen(logits), targets: widen(targets), reduction: reduction, gradOutput: gradOutput.map(widen))
    }

    package static func sigmoidFocal(
        logits: [Float], targets: [Float], gamma: Float, alpha: Float, reduction: LossReduction = .mean,
        gradOutput: [Float]? = nil
    ) -> Result {
        sigmoidFocal(
            logits: widen(logits), targets: widen(targets), gamma: Double(gamma), alpha: Double(alpha), reduction: reduction,
            gradOutput: gradOutput.map(widen))
    }
}
