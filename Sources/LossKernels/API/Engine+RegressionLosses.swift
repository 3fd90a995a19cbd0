/// Regression losses, elementwise over predictions and targets of the same shape, mean over
/// elements by default (docs/OPERATIONS.md, "Regression losses"). The "L2 loss" and "L1 loss"
/// of the literature are `mse` and `l1` with `.sum`.
public enum RegressionLoss: Sendable, Equatable {
    /// `(p − t)²`; derivative `2(p − t)`.
    case mse
    /// `|p − t|`; derivative `sign(p − t)`, 0 at 0.
    case l1
    /// `0.5(p−t)²/β` if `|p−t| < β`, else `|p−t| − 0.5β` (β ≥ 0, default 1; β = 0 is l1).
    case smoothL1(beta: Float = 1)
    /// `0.5(p−t)²` if `|p−t| < δ`, else `δ(|p−t| − 0.5δ)` (δ > 0, default 1).
    case huber(delta: Float = 1)
    /// `(log(max(p,ε)+1) − log(max(t,ε)+1))²`, ε = 1e-7; derivative 0 where p ≤ ε.
    case msle
    /// `100·|t − p| / max(|t|, ε)`, ε = 1e-7.
    case mape

    /// Throws `.invalidOption` for β < 0 or δ ≤ 0 (or not finite).
    public func validate() throws {
        try elementwiseLoss(reduction: .mean).validate()
    }

    /// The elementwise description of this loss.
    func elementwiseLoss(reduction: LossReduction) -> ElementwiseLoss {
        let (kind, parameter) = elementwise
        return ElementwiseLoss(kind: kind, parameter: parameter, reduction: reduction)
    }

    var elementwise: (ElementwiseLoss.Kind, Float) {
        switch self {
        case .mse: return (.mse, 0)
        case .l1: return (.l1, 0)
        case .smoothL1(let beta): return (.smoothL1, beta)
        case .huber(let delta): return (.huber, delta)
        case .msle: return (.msle, 0)
        case .mape: return (.mape, 0)
        }
    }
}

extension Engine {
    /// A regression loss of `predictions` against `targets` (same shape).
    /// - Parameters:
    ///   - loss: which loss, with its threshold (β, δ).
    ///   - predictions: `p`, any `rows × columns`.
    ///   - targets: `t`, the shape of `predictions`.
    ///   - reduction: mean over elements (default), sum, or none (one loss per element).
    ///   - gradOutput: with `.none`, one upstream value per element.
    /// - Returns: the loss and ∂loss/∂predictions.
    /// - Throws: `.shapeMismatch` for shapes that disagree or no elements, `.invalidOption` for
    ///   β < 0 or δ ≤ 0 (or not finite).
    public func regressionLoss(_ loss: RegressionLoss, predictions: Matrix, targets: Matrix, reduction: LossReduction = .mean, gradOutput: Matrix? = nil) throws
        -> LossOutput
    {
        try runElementwise(
            loss.elementwiseLoss(reduction: reduction), input: predictions, inputName: "predictions", targets: targets, gradOutput: gradOutput, targetRule: nil)
    }

    /// Mean squared error (L2): `(p − t)²`. See `regressionLoss(_:predictions:targets:reduction:gradOutput:)`.
    public func mseLoss(predictions: Matrix, targets: Matrix, reduction: LossReduction = .mean, gradOutput: Matrix? = nil) throws -> LossOutput {
        try regressionLoss(.mse, predictions: predictions, targets: targets, reduction: reduction, gradOutput: gradOutput)
    }

    /// Mean absolute error (L1): `|p − t|`.
    public func l1Loss(predictions: Matrix, targets: Matrix, reduction: LossReduction = .mean, gradOutput: Matrix? = nil) throws -> LossOutput {
        try regressionLoss(.l1, predictions: predictions, targets: targets, reduction: reduction, gradOutput: gradOutput)
    }

    /// Smooth L1 with threshold β (default 1).
    public func smoothL1Loss(predictions: Matrix, targets: Matrix, beta: Float = 1, reduction: LossReduction = .mean, gradOutput: Matrix? = nil) throws
        -> LossOutput
    {
        try regressionLoss(.smoothL1(beta: beta), predictions: predictions, targets: targets, reduction: reduction, gradOutput: gradOutput)
    }

    /// Huber loss with threshold δ (default 1).
    public func huberLoss(predictions: Matrix, targets: Matrix, delta: Float = 1, reduction: LossReduction = .mean, gradOutput: Matrix? = nil) throws
        -> LossOutput
    {
        try regressionLoss(.huber(delta: delta), predictions: predictions, targets: targets, reduction: reduction, gradOutput: gradOutput)
    }

    /// Mean squared logarithmic error.
    public func msleLoss(predictions: Matrix, targets: Matrix, reduction: LossReduction = .mean, gradOutput: Matrix? = nil) throws -> LossOutput {
        try regressionLoss(.msle, predictions: predictions, targets: targets, reduction: reduction, gradOutput: gradOutput)
    }

    /// Mean absolute percentage error.
    public func mapeLoss(predictions: Matrix, targets: Matrix, reduction: LossReduction = .mean, gradOutput: Matrix? = nil) throws -> LossOutput {
        try regressionLoss(.mape, predictions: predictions, targets: targets, reduction: reduction, gradOutput: gradOutput)
    }
}

extension Engine {
    /// The buffer form of `regressionLoss(_:predictions:targets:reduction:gradOutput:)` for
    /// `.mean` and `.sum`: `predictions` and `targets` hold the same number of values, `gradient`
    /// receives ∂loss/∂predictions (reuse it across calls). Returns the loss and the backend.
    /// - Throws: as the matrix form, and `.invalidOption` for `.none` (use the matrix form).
    public func regressionLoss(
        _ loss: RegressionLoss, predictions: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Float>,
        reduction: LossReduction = .mean, gradient: UnsafeMutableBufferPointer<Float>
    ) throws -> (loss: [Float], backend: Backend) {
        let outcome = try run(
            ElementwiseLossOperation(
                loss: loss.elementwiseLoss(reduction: reduction), form: .buffer, inputName: "predictions", input: predictions,
                targets: targets, gradOutput: nil, gradient: gradient, perElement: nil))
        return (outcome.result, outcome.backend)
    }
}
