import Foundation
import LossKernels

extension LossReference {
    // MARK: BCE with logits, element weights and pos_weight

    /// Binary cross-entropy with logits with PyTorch's `weight` (element weights `ew`) and
    /// `pos_weight` (`pw`, one per column), on row-major logits with `columns` columns, targets
    /// `t ∈ [0, 1]`. With `lw = 1 + (pw_c − 1)·t` and `log(1 + e^{−z}) = log1p(e^{−|z|}) + max(−z, 0)`:
    ///
    ///     ℓ     = ew·[(1 − t)·z + lw·(log1p(exp(−|z|)) + max(−z, 0))]
    ///     dℓ/dz = ew·[lw·σ(z) − pw_c·t]            (lw = pw_c·t + 1 − t)
    ///
    /// `weights` holds one value per element (`rows·columns`) or one row of `columns` values
    /// broadcast over the rows; nil means 1. `posWeight` holds `columns` values; nil means 1.
    /// Reductions: mean over all elements (the element count, not a weight sum — as PyTorch), sum,
    /// none (`gradOutput` per element scales the gradient). With `ew = pw = 1` this is
    /// `binaryCrossEntropyWithLogits(logits:targets:)` up to rounding.
    package static func binaryCrossEntropyWithLogits(
        logits z: [Double], targets t: [Double], columns: Int, weights ew: [Double]? = nil,
        posWeight pw: [Double]? = nil, reduction: LossReduction = .mean,
        gradOutput: [Double]? = nil
    ) -> Result {
        precondition(z.count == t.count, "reference: logits and targets differ in size")
        precondition(columns > 0 && z.count % columns == 0, "reference: \(z.count) elements are not rows of \(columns)")
        if let ew { precondition(ew.count == z.count || ew.count == columns, "reference: \(ew.count) weights for \(z.count) elements of \(columns) columns") }
        if let pw { precondition(pw.count == columns, "reference: \(pw.count) pos_weight values for \(columns) columns") }
        var losses = [Double](repeating: 0, count: z.count)
        var derivatives = [Double](repeating: 0, count: z.count)
        for i in 0..<z.count {
            let c = i % columns
            let e = ew.map { $0.count == z.count ? $0[i] : $0[c] } ?? 1
            let p = pw?[c] ?? 1
            let x = z[i], target = t[i]
            let lw = 1 + (p - 1) * target
            let softplusOfMinusZ = Foundation.log1p(Foundation.exp(-Swift.abs(x))) + Swift.max(-x, 0)
            losses[i] = e * ((1 - target) * x + lw * softplusOfMinusZ)
            derivatives[i] = e * (lw * sigmoid(x) - p * target)
        }
        return reduceElementwise(losses, derivatives, reduction, gradOutput)
    }

    /// Float32 inputs (what a backend sees), widened exactly; see the Double form.
    package static func binaryCrossEntropyWithLogits(
        logits: [Float], targets: [Float], columns: Int, weights: [Float]? = nil,
        posWeight: [Float]? = nil, reduction: LossReduction = .mean,
        gradOutput: [Float]? = nil
    ) -> Result {
        binaryCrossEntropyWithLogits(
            logits: widen(logits), targets: widen(targets), columns: columns, weights: weights.map(widen),
            posWeight: posWeight.map(widen), reduction: reduction, gradOutput: gradOutput.map(widen))
    }
}
