/// Softmax cross-entropy and softmax focal loss from logits with class-index labels, loss and
/// gradient in one call (docs/OPERATIONS.md). Semantics follow PyTorch's `cross_entropy`.
extension Engine {
    /// Cross-entropy of `logits` (`B×C`) against `labels` (`B` class indices).
    ///
    ///     loss_n = (1−ε)·w_y·(−log p_y) + (ε/C)·Σ_c w_c·(−log p_c)     (0 for ignored rows)
    ///     mean   = Σ_n loss_n / Σ_{n not ignored} w_{y_n}               (NaN if that sum is 0)
    ///
    /// - Parameters:
    ///   - logits: `z`, `B×C`; `−∞` entries are masks.
    ///   - labels: `y`, `B` class indices in `0..<C` (or `ignoreIndex`).
    ///   - classWeights: `w`, one per class (default all 1).
    ///   - ignoreIndex: rows with this label contribute no loss and a zero gradient.
    ///   - labelSmoothing: `ε` in [0, 1].
    ///   - reduction: mean (default), sum or none.
    ///   - gradOutput: with `.none`, one upstream value per row scaling that row's gradient.
    /// - Returns: the loss (1 value, or `B` for `.none`) and ∂loss/∂logits (`B×C`).
    /// - Throws: `.invalidValue` for a label outside `0..<C` (other than `ignoreIndex`),
    ///   `.shapeMismatch` for counts that disagree or an empty batch, `.invalidOption` for ε
    ///   outside [0, 1].
    public func crossEntropy(
        logits: Matrix, labels: [Int], classWeights: [Float]? = nil, ignoreIndex: Int = -100,
        labelSmoothing: Float = 0, reduction: LossReduction = .mean, gradOutput: [Float]? = nil
    ) throws -> LossOutput {
        try withGradientMatrix(like: logits) { z, dz in
            try crossEntropy(
                logits: z, rows: logits.rows, columns: logits.columns, labels: labels, classWeights: classWeights, ignoreIndex: ignoreIndex,
                labelSmoothing: labelSmoothing, reduction: reduction, gradOutput: gradOutput, gradient: dz)
        }
    }

    /// Cross-entropy over buffers: `logits` holds `rows × columns` values, `gradient` receives
    /// ∂loss/∂logits (same size; reuse it across calls to avoid allocating). Returns the loss and
    /// the backend that ran. See `crossEntropy(logits:labels:…)`.
    public func crossEntropy(
        logits: UnsafeBufferPointer<Float>, rows: Int, columns: Int, labels: [Int], classWeights: [Float]? = nil,
        ignoreIndex: Int = -100, labelSmoothing: Float = 0, reduction: LossReduction = .mean, gradOutput: [Float]? = nil,
        gradient: UnsafeMutableBufferPointer<Float>
    ) throws -> (loss: [Float], backend: Backend) {
        let loss = CrossEntropyLoss(
            labels: labels, classes: columns, classWeights: classWeights, ignoreIndex: ignoreIndex,
            labelSmoothing: labelSmoothing, reduction: reduction, gradOutput: gradOutput)
        let outcome = try run(SoftmaxLossOperation(loss: loss, logits: .host(logits), gradient: .host(gradient), rows: rows, columns: columns))
        return (outcome.result, outcome.backend)
    }

    /// Softmax focal loss: `loss_n = −α_y·(1 − p_y)^γ·log p_y`, mean over rows by default.
    /// `γ = 0, α = 1` is cross-entropy.
    /// - Parameters:
    ///   - logits: `z`, `B×C`; `−∞` entries are masks.
    ///   - labels: `y`, `B` class indices in `0..<C`.
    ///   - gamma: `γ ≥ 0` (default 2).
    ///   - alpha: a scalar (default 1) or one value per class.
    ///   - reduction: mean over rows (default), sum or none.
    ///   - gradOutput: with `.none`, one upstream value per row scaling that row's gradient.
    /// - Throws: as `crossEntropy`, and `.invalidOption` for a negative or non-finite γ.
    public func focalLoss(
        logits: Matrix, labels: [Int], gamma: Float = 2, alpha: FocalAlpha = .scalar(1),
        reduction: LossReduction = .mean, gradOutput: [Float]? = nil
    ) throws -> LossOutput {
        try withGradientMatrix(like: logits) { z, dz in
            try focalLoss(
                logits: z, rows: logits.rows, columns: logits.columns, labels: labels, gamma: gamma, alpha: alpha,
                reduction: reduction, gradOutput: gradOutput, gradient: dz)
        }
    }

    /// Softmax focal loss over buffers (see `focalLoss(logits:labels:…)` and the buffer form of
    /// `crossEntropy`).
    public func focalLoss(
        logits: UnsafeBufferPointer<Float>, rows: Int, columns: Int, labels: [Int], gamma: Float = 2, alpha: FocalAlpha = .scalar(1),
        reduction: LossReduction = .mean, gradOutput: [Float]? = nil,
        gradient: UnsafeMutableBufferPointer<Float>
    ) throws -> (loss: [Float], backend: Backend) {
        let loss = FocalLoss(labels: labels, gamma: gamma, alpha: alpha, reduction: reduction, gradOutput: gradOutput)
        let outcome = try run(SoftmaxLossOperation(loss: loss, logits: .host(logits), gradient: .host(gradient), rows: rows, columns: columns))
        return (outcome.result, outcome.backend)
    }

    /// Runs a loss that fills a gradient shaped like `input`, through its buffer form.
    func withGradientMatrix(
        like input: Matrix, _ body: (UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) throws -> (loss: [Float], backend: Backend)
    ) throws -> LossOutput {
        let gradient = OutputArray(count: input.count)
        let (loss, backend) = try withHostBuffers([input.values], [gradient]) { z, dz in try body(z[0], dz[0]) }
        return LossOutput(loss: loss, gradient: gradient.matrix(rows: input.rows, columns: input.columns), backend: backend)
    }
}
