/// Losses of logits against binary (or soft, in [0, 1]) targets of the same shape, elementwise:
/// BCE with logits and torchvision's sigmoid focal loss (docs/OPERATIONS.md, "Focal loss").
extension Engine {
    /// Binary cross-entropy with logits, PyTorch's `binary_cross_entropy_with_logits` with `weight`
    /// and `pos_weight`. Per element, with `ew` the element's weight, `pw` its column's positive
    /// weight (both 1 when not given) and `lw = 1 + (pw − 1)·t`:
    ///
    ///     ℓ     = −ew·[pw·t·log σ(z) + (1 − t)·log(1 − σ(z))]
    ///           = ew·[(1 − t)·z + lw·(log1p(exp(−|z|)) + max(−z, 0))]
    ///     ∂ℓ/∂z = ew·[(pw·t + 1 − t)·σ(z) − pw·t]
    ///     mean  = Σ ℓ / N       (N elements, whatever the weights)
    ///
    /// Without weights this is `max(z,0) − z·t + log(1 + exp(−|z|))` with derivative `σ(z) − t`,
    /// computed exactly as before weights existed.
    /// - Parameters:
    ///   - logits: `z`, `B×C`.
    ///   - targets: `t`, the same shape, in [0, 1].
    ///   - weight: `ew`, the logits' shape `B×C`, or `1×C` (one row applied to every row); finite, ≥ 0.
    ///   - posWeight: `pw`, `C` values (one per column); finite, ≥ 0.
    ///   - reduction: mean (default), sum or none (one loss per element).
    ///   - gradOutput: with `.none`, one upstream value per element (the logits' shape).
    /// - Returns: the loss (1 value, or `B·C` for `.none`) and ∂loss/∂logits (`B×C`).
    /// - Throws: `.shapeMismatch` for shapes that disagree (naming "targets", "weight", "posWeight"
    ///   or "gradOutput") or an empty input, `.invalidValue` for a target outside [0, 1] or a weight
    ///   that is negative or not finite, `.invalidOption` for `gradOutput` without `.none`.
    public func binaryCrossEntropyWithLogits(
        logits: Matrix, targets: Matrix, weight: Matrix? = nil, posWeight: [Float]? = nil,
        reduction: LossReduction = .mean, gradOutput: Matrix? = nil
    ) throws -> LossOutput {
        guard weight != nil || posWeight != nil else {
            return try runElementwise(
                ElementwiseLoss(kind: .binaryCrossEntropyWithLogits, reduction: reduction), input: logits, inputName: "logits", targets: targets,
                gradOutput: gradOutput)
        }
        return try runElementwise(
            ElementwiseLoss(kind: .weightedBinaryCrossEntropyWithLogits, reduction: reduction), input: logits, inputName: "logits",
            targets: targets, gradOutput: gradOutput, weight: weight, posWeight: posWeight)
    }

    /// Sigmoid focal loss (torchvision `sigmoid_focal_loss`): with `p = σ(z)`,
    /// `p_t = p·t + (1−p)(1−t)`, `loss = BCEWithLogits(z, t)·(1−p_t)^γ·α_t`,
    /// `α_t = α·t + (1−α)(1−t)` when `α ≥ 0` (no weighting when α < 0). Mean over elements.
    /// - Throws: as `binaryCrossEntropyWithLogits`, and `.invalidOption` for a negative γ.
    public func sigmoidFocalLoss(
        logits: Matrix, targets: Matrix, gamma: Float = 2, alpha: Float = 0.25, reduction: LossReduction = .mean, gradOutput: Matrix? = nil
    ) throws -> LossOutput {
        try runElementwise(
            ElementwiseLoss(kind: .sigmoidFocal, gamma: gamma, alpha: alpha, reduction: reduction), input: logits, inputName: "logits", targets: targets,
            gradOutput: gradOutput)
    }

    /// Runs an elementwise loss of matrices (`ElementwiseLossOperation`, matrix form): the loss
    /// (reduced, or one per element for none) and the input's gradient. `weight` and `posWeight`
    /// are the weighted BCE's (`ElementWeights`); `inputFinite` and `targetsFinite` are how
    /// `checkFinite` checks those tensors.
    func runElementwise(
        _ loss: ElementwiseLoss, input: Matrix, inputName: String, targets: Matrix, gradOutput: Matrix?,
        targetRule: ElementwiseLossOperation.TargetRule? = .range(0...1), weight: Matrix? = nil, posWeight: [Float]? = nil,
        inputFinite: FinitePolicy = .finite, targetsFinite: FinitePolicy = .finite
    ) throws -> LossOutput {
        let gradient = OutputArray(count: input.count)
        let perElement = OutputArray(count: loss.reduction == .none ? input.count : 0)
        let form = ElementwiseLossOperation.Form.matrix(
            rows: input.rows, columns: input.columns, targets: (targets.rows, targets.columns),
            gradOutput: gradOutput.map { ($0.rows, $0.columns) }, targetRule: targetRule)
        let arrays = [input.values, targets.values, gradOutput?.values ?? [], weight?.values ?? [], posWeight ?? []]
        let outcome = try withHostBuffers(arrays, [gradient, perElement]) { x, y in
            let weights =
                weight == nil && posWeight == nil
                ? nil
                : ElementWeights(
                    weight: weight.map { (x[3], $0.rows, $0.columns) }, posWeight: posWeight == nil ? nil : x[4], rows: input.rows, columns: input.columns)
            return try run(
                ElementwiseLossOperation(
                    loss: loss, form: form, inputName: inputName, input: x[0], targets: x[1], gradOutput: gradOutput == nil ? nil : x[2],
                    gradient: y[0], perElement: loss.reduction == .none ? y[1] : nil, weights: weights,
                    inputFinite: inputFinite, targetsFinite: targetsFinite))
        }
        let reduced = loss.reduction == .none ? perElement.values : outcome.result
        return LossOutput(loss: reduced, gradient: gradient.matrix(rows: input.rows, columns: input.columns), backend: outcome.backend)
    }
}
