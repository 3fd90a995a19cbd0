/// Losses of logits against binary (or soft, in [0, 1]) targets of the same shape, elementwise:
/// BCE with logits and torchvision's sigmoid focal loss (docs/OPERATIONS.md, "Focal loss").
extension Engine {
    /// Binary cross-entropy with logits, per element `max(z,0) − z·t + log(1 + exp(−|z|))`, mean
    /// over elements by default; gradient `σ(z) − t` (scaled by the reduction).
    /// - Parameters:
    ///   - logits, targets: the same shape; targets in [0, 1].
    ///   - gradOutput: with `.none`, one upstream value per element.
    /// - Throws: `.shapeMismatch` for shapes that disagree or an empty input, `.invalidValue` for a
    ///   target outside [0, 1].
    public func binaryCrossEntropyWithLogits(logits: Matrix, targets: Matrix, reduction: LossReduction = .mean, gradOutput: Matrix? = nil) throws -> LossOutput {
        try runElementwise(ElementwiseLoss(kind: .binaryCrossEntropyWithLogits, reduction: reduction), input: logits, inputName: "logits", targets: targets, gradOutput: gradOutput)
    }

    /// Sigmoid focal loss (torchvision `sigmoid_focal_loss`): with `p = σ(z)`,
    /// `p_t = p·t + (1−p)(1−t)`, `loss = BCEWithLogits(z, t)·(1−p_t)^γ·α_t`,
    /// `α_t = α·t + (1−α)(1−t)` when `α ≥ 0` (no weighting when α < 0). Mean over elements.
    /// - Throws: as `binaryCrossEntropyWithLogits`, and `.invalidOption` for a negative γ.
    public func sigmoidFocalLoss(logits: Matrix, targets: Matrix, gamma: Float = 2, alpha: Float = 0.25, reduction: LossReduction = .mean, gradOutput: Matrix? = nil) throws -> LossOutput {
        try runElementwise(ElementwiseLoss(kind: .sigmoidFocal, gamma: gamma, alpha: alpha, reduction: reduction), input: logits, inputName: "logits", targets: targets, gradOutput: gradOutput)
    }

    /// Runs an elementwise loss of matrices (`ElementwiseLossOperation`, matrix form): the loss
    /// (reduced, or one per element for none) and the input's gradient. `targetRule` is what the
    /// targets' values must be; `inputFinite` and `targetsFinite` are how `checkFinite` checks
    /// those tensors.
    func runElementwise(_ loss: ElementwiseLoss, input: Matrix, inputName: String, targets: Matrix, gradOutput: Matrix?,
                        targetRule: ElementwiseLossOperation.TargetRule? = .range(0...1), inputFinite: FinitePolicy = .finite,
                        targetsFinite: FinitePolicy = .finite) throws -> LossOutput {
        let gradient = OutputArray(count: input.count)
        let perElement = OutputArray(count: loss.reduction == .none ? input.count : 0)
        let form = ElementwiseLossOperation.Form.matrix(rows: input.rows, columns: input.columns, targets: (targets.rows, targets.columns),
                                                        gradOutput: gradOutput.map { ($0.rows, $0.columns) }, targetRule: targetRule)
        let outcome = try withHostBuffers([input.values, targets.values, gradOutput?.values ?? []], [gradient, perElement]) { x, y in
            try run(ElementwiseLossOperation(loss: loss, form: form, inputName: inputName, input: x[0], targets: x[1], gradOutput: gradOutput == nil ? nil : x[2],
                                             gradient: y[0], perElement: loss.reduction == .none ? y[1] : nil, inputFinite: inputFinite, targetsFinite: targetsFinite))
        }
        let reduced = loss.reduction == .none ? perElement.values : outcome.result
        return LossOutput(loss: reduced, gradient: gradient.matrix(rows: input.rows, columns: input.columns), backend: outcome.backend)
    }
}
