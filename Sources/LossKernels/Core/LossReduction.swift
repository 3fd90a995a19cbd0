/// How per-row (or per-element) losses are combined, as PyTorch's `reduction`.
///
/// Gradients are those of the reduced loss. With `.none` the gradient is that of `Σ loss_i`, or,
/// when an upstream gradient (one value per row or element) is given, row `i` is scaled by it.
public enum LossReduction: String, Sendable, CaseIterable, Equatable {
    /// The average, with each loss's own denominator (e.g. Σ of the target weights).
    case mean
    /// The sum.
    case sum
    /// One loss per row (or element).
    case none
}

/// A loss and its gradient with respect to the input (`logits` or `predictions`).
public struct LossOutput: Sendable, Equatable {
    /// One value for `.mean`/`.sum`; one per row (or element) for `.none`.
    public var loss: [Float]
    /// ∂loss/∂input, the shape of the input.
    public var gradient: Matrix
    /// The backend that computed it.
    public var backend: Backend

    public init(loss: [Float], gradient: Matrix, backend: Backend) {
        self.loss = loss
        self.gradient = gradient
        self.backend = backend
    }
}
