/// How per-row (or per-element) losses are combined, as PyTorch's `reduction`.
///
/// Gradients are those of the reduced loss. With `.none` the gradient is that of `Σ loss_i`, or,
/// when an upstream gradient (one value per row or element) is given, row `i` is scaled by it.
/// Every loss reduces and scales its gradient through the methods here; each loss only says what
/// its mean divides by (`B`, the element count, `Σ w_y`…).
public enum LossReduction: String, Sendable, CaseIterable, Equatable {
    /// The average, with each loss's own denominator (e.g. Σ of the target weights).
    case mean
    /// The sum.
    case sum
    /// One loss per row (or element).
    case none

    /// `∂(reduced loss)/∂loss_i` for each of `count` rows or elements: `1/meanDenominator` for
    /// mean, 1 for sum, the upstream value (1 without one) for none.
    func gradientScales(count: Int, meanDenominator: Double, gradOutput: [Float]?) -> [Double] {
        switch self {
        case .mean: return [Double](repeating: 1 / meanDenominator, count: count)
        case .sum: return [Double](repeating: 1, count: count)
        case .none: return gradOutput.map { $0.map(Double.init) } ?? [Double](repeating: 1, count: count)
        }
    }

    /// The factor every element's gradient shares: `1/meanDenominator` for mean, 1 otherwise (with
    /// none, each element is then multiplied by its upstream value, if any).
    func gradientScale(meanDenominator: Double) -> Double {
        self == .mean ? 1 / meanDenominator : 1
    }

    /// The reduced loss: the sum of `losses` in index order in double, divided by
    /// `meanDenominator` for mean; the losses themselves for none. Deterministic for any thread
    /// count, since the order is fixed.
    func reduce(_ losses: [Double], meanDenominator: Double) -> [Float] {
        if self == .none { return losses.map { Float($0) } }
        return reduce(sum: losses.reduce(0, +), meanDenominator: meanDenominator)
    }

    /// The reduced loss of mean or sum from the losses' sum.
    func reduce(sum: Double, meanDenominator: Double) -> [Float] {
        [Float(self == .mean ? sum / meanDenominator : sum)]
    }
}

/// A loss and its gradient with respect to the input (`logits` or `predictions`).
public struct LossOutput: Sendable, Equatable {
    /// One value for `.mean`/`.sum`; one per row (or element) for `.none`.
    public var loss: [Float]
    /// ∂loss/∂input, the shape of the input.
    public var gradient: Matrix
    /// The backend that computed it.
    public var backend: Backend

    /// A loss, its gradient and the backend that computed them.
    public init(loss: [Float], gradient: Matrix, backend: Backend) {
        self.loss = loss
        self.gradient = gradient
        self.backend = backend
    }
}
