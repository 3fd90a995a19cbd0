/// Softmax cross-entropy from logits with probability (soft) targets, loss and gradient in one call
/// (docs/OPERATIONS.md, "Cross-entropy with probability targets"): PyTorch's
/// `cross_entropy(input, probs)` when the target is a `B×C` tensor of class probabilities.
extension Engine {
    /// Cross-entropy of `logits` (`B×C`) against `targetProbabilities` (`B×C`). With
    /// `p = softmax(z_n)`, smoothed targets `T' = (1−ε)·T + ε/C` and `S_n = Σ_c w_c·T'_nc`:
    ///
    ///     loss_n        = −Σ_c w_c·T'_nc·log p_nc       (a class with T'_nc = 0 adds nothing, even at a −∞ mask)
    ///     mean          = Σ_n loss_n / B                (B, not a sum of weights, as PyTorch)
    ///     ∂loss_n/∂z_nj = p_nj·S_n − w_j·T'_nj          (times 1/B for mean, gradOutput[n] for none)
    ///
    /// Rows need not sum to 1. A `−∞` logit is a mask (a masked class with `T' > 0` makes the loss
    /// `+∞`, the gradient stays finite); a row that holds NaN or `+∞`, or is all `−∞`, has a NaN loss
    /// and an all-NaN gradient row.
    /// - Parameters:
    ///   - logits: `z`, `B×C`; `−∞` entries are masks.
    ///   - targetProbabilities: `T`, the logits' shape; every value finite and ≥ 0.
    ///   - classWeights: `w`, one per class, finite (default all 1).
    ///   - labelSmoothing: `ε` in [0, 1].
    ///   - reduction: mean (default), sum or none (one loss per row).
    ///   - gradOutput: with `.none` only, one upstream value per row scaling that row's gradient.
    /// - Returns: the loss (1 value, or `B` for `.none`) and ∂loss/∂logits (`B×C`).
    /// - Throws: `.shapeMismatch` for an empty batch or shapes and counts that disagree,
    ///   `.invalidValue` for a target that is negative or not finite (its flat index; the message
    ///   names its row and column) or a class weight that is not finite, `.invalidOption` for ε
    ///   outside [0, 1] or `gradOutput` without `.none`. With `checkFinite`, `.invalidValue` for a
    ///   logit that is NaN or `+∞` or a non-finite `gradOutput`.
    public func crossEntropy(
        logits: Matrix, targetProbabilities: Matrix, classWeights: [Float]? = nil, labelSmoothing: Float = 0,
        reduction: LossReduction = .mean, gradOutput: [Float]? = nil
    ) throws -> LossOutput {
        let gradient = OutputArray(count: logits.count)
        let outcome = try withHostBuffers([logits.values, targetProbabilities.values], [gradient]) { x, y in
            try runProbabilityCrossEntropy(
                logits: x[0], rows: logits.rows, columns: logits.columns, targets: x[1],
                targetShape: (targetProbabilities.rows, targetProbabilities.columns), classWeights: classWeights,
                labelSmoothing: labelSmoothing, reduction: reduction, gradOutput: gradOutput, gradient: y[0])
        }
        return LossOutput(loss: outcome.loss, gradient: gradient.matrix(rows: logits.rows, columns: logits.columns), backend: outcome.backend)
    }

    /// Cross-entropy with probability targets over buffers: `logits` and `targetProbabilities` hold
    /// `rows × columns` values, `gradient` receives ∂loss/∂logits (same size; reuse it across calls
    /// to avoid allocating). Returns the loss and the backend that ran. See
    /// `crossEntropy(logits:targetProbabilities:…)`.
    public func crossEntropy(
        logits: UnsafeBufferPointer<Float>, rows: Int, columns: Int, targetProbabilities: UnsafeBufferPointer<Float>,
        classWeights: [Float]? = nil, labelSmoothing: Float = 0, reduction: LossReduction = .mean, gradOutput: [Float]? = nil,
        gradient: UnsafeMutableBufferPointer<Float>
    ) throws -> (loss: [Float], backend: Backend) {
        try runProbabilityCrossEntropy(
            logits: logits, rows: rows, columns: columns, targets: targetProbabilities, targetShape: nil, classWeights: classWeights,
            labelSmoothing: labelSmoothing, reduction: reduction, gradOutput: gradOutput, gradient: gradient)
    }

    /// Builds and runs the `ProbabilityCrossEntropyOperation`.
    private func runProbabilityCrossEntropy(
        logits: UnsafeBufferPointer<Float>, rows: Int, columns: Int, targets: UnsafeBufferPointer<Float>,
        targetShape: (rows: Int, columns: Int)?, classWeights: [Float]?, labelSmoothing: Float,
        reduction: LossReduction, gradOutput: [Float]?,
        gradient: UnsafeMutableBufferPointer<Float>
    ) throws -> (loss: [Float], backend: Backend) {
        let loss = ProbabilityCrossEntropyLoss(
            rows: max(rows, 0), classes: columns, classWeights: classWeights, labelSmoothing: labelSmoothing,
            reduction: reduction, gradOutput: gradOutput)
        let outcome = try run(
            ProbabilityCrossEntropyOperation(
                loss: loss, logits: logits, targets: targets, targetShape: targetShape, gradient: gradient,
                rows: rows, columns: columns))
        return (outcome.result, outcome.backend)
    }
}
