import Foundation
import LossKernels

extension LossReference {
    // MARK: Cross-entropy from logits with probability targets

    /// Cross-entropy with probability (soft) targets, as PyTorch's `cross_entropy` when the target
    /// is a B×C tensor of probabilities. With `p = softmax(z_n)`, `T' = (1−ε)·T + ε/C` (ε the
    /// label smoothing; `T' = T` exactly for ε = 0) and `S_n = Σ_c w_c·T'_nc`:
    ///
    ///     loss_n        = −Σ_c w_c·T'_nc·log p_nc          (a term with T'_nc = 0 is 0, whatever log p_nc)
    ///     mean          = Σ_n loss_n / B                   (B, never Σ w: PyTorch's rule for probability targets)
    ///     sum           = Σ_n loss_n
    ///     none          = loss_n
    ///     dloss_n/dz_nj = p_nj·S_n − w_j·T'_nj
    ///
    /// times the row's scale: `1/B` (mean), 1 (sum), `gradOutput[n]` or 1 (none). Targets need not
    /// sum to 1 (the formulas hold for any T); class weights default to 1.
    ///
    /// Non-finite logits (the conventions the engine must reproduce):
    /// - `z_nc = −∞` (a mask) gives `p_nc = 0` and `log p_nc = −∞`. The term of class c is 0 when
    ///   `T'_nc = 0`; when `T'_nc > 0` it is `+∞` (`w_c > 0`), so the row's loss is `+∞` while its
    ///   gradient stays finite (`−w_c·T'_nc` at the masked entry), as the class-index reference does
    ///   for a masked target. PyTorch gives inf or NaN there; this reference returns `+∞`. Any ε > 0
    ///   makes every `T'_nc > 0`, so any mask gives `+∞`. The term is the plain IEEE product
    ///   otherwise: `w_c = 0` with `T'_nc > 0` on a masked class gives NaN (as the class-index
    ///   reference with `w_y = 0` on a masked target, and PyTorch).
    /// - A row holding a NaN or a `+∞`, or whose entries are all `−∞`, has loss NaN and an all-NaN
    ///   gradient row (its softmax is undefined); other rows are unaffected under none, and mean and
    ///   sum are NaN.
    package static func crossEntropy(
        logits z: [Double], rows: Int, columns: Int, probabilityTargets t: [Double], classWeights: [Double]? = nil,
        labelSmoothing eps: Double = 0, reduction: LossReduction = .mean, gradOutput: [Double]? = nil
    ) -> Result {
        precondition(z.count == rows * columns && t.count == z.count, "reference: logits and targets must both be \(rows)×\(columns)")
        let C = columns
        let w = classWeights ?? [Double](repeating: 1, count: C)
        precondition(w.count == C, "reference: \(w.count) class weights for \(C) classes")
        if reduction == .none, let gradOutput { precondition(gradOutput.count == rows, "reference: gradOutput needs one value per row") }
        var losses = [Double](repeating: 0, count: rows)
        var rowGradients = [Double](repeating: 0, count: z.count)   // dloss_n/dz_n, unscaled
        var smoothed = [Double](repeating: 0, count: C)
        for n in 0..<rows {
            let row = z[(n * C)..<((n + 1) * C)]
            if row.contains(where: { $0.isNaN || $0 == .infinity }) || !row.contains(where: { $0 > -.infinity }) {
                losses[n] = .nan
                for j in 0..<C { rowGradients[n * C + j] = .nan }
                continue
            }
            let logP = logSoftmaxRow(row).logP
            var loss = 0.0
            var s = 0.0
            for c in 0..<C {
                let target = eps == 0 ? t[n * C + c] : (1 - eps) * t[n * C + c] + eps / Double(C)
                smoothed[c] = target
                s += w[c] * target
                if target != 0 { loss -= w[c] * target * logP[c] }
            }
            losses[n] = loss
            for j in 0..<C {
                rowGradients[n * C + j] = Foundation.exp(logP[j]) * s - w[j] * smoothed[j]
            }
        }
        let noneSkipped = [Bool](repeating: false, count: rows)
        var total = 0.0
        for l in losses { total += l }
        switch reduction {
        case .mean:
            let b = Double(rows)
            return Result(loss: [total / b], gradient: scaleRows(rowGradients, columns: C, skip: noneSkipped) { _ in 1 / b })
        case .sum:
            return Result(loss: [total], gradient: rowGradients)
        case .none:
            return Result(loss: losses, gradient: scaleRows(rowGradients, columns: C, skip: noneSkipped) { gradOutput?[$0] ?? 1 })
        }
    }

    /// Float32 inputs (what a backend sees), widened exactly; see the Double form.
    package static func crossEntropy(
        logits: [Float], rows: Int, columns: Int, probabilityTargets: [Float], classWeights: [Float]? = nil,
        labelSmoothing: Float = 0, reduction: LossReduction = .mean, gradOutput: [Float]? = nil
    ) -> Result {
        crossEntropy(
            logits: widen(logits), rows: rows, columns: columns, probabilityTargets: widen(probabilityTargets),
            classWeights: classWeights.map(widen), labelSmoothing: Double(labelSmoothing), reduction: reduction,
            gradOutput: gradOutput.map(widen))
    }
}
