import Foundation

/// Statistics of one row of logits that a softmax loss needs: the online-softmax state, the target
/// logit and, for label smoothing, Σ_c w_c·z_c.
struct RowLossStatistics: Sendable {
    var state: SoftmaxRowState
    var targetLogit: Float
    var weightedLogitSum: Double
}

/// How one row of a softmax loss's gradient is written:
/// `dz_j = exp(z_j − shift)·scale − offset·w_j + [j = target]·targetAdjust` (w_j = class weight, or
/// 1), all zeros when `zero`, all NaN when `nan` (a row whose probabilities are undefined).
struct SoftmaxGradientRow: Sendable {
    var shift: Float = 0
    var scale: Float = 0
    var offset: Float = 0
    var target: Int = -1
    var targetAdjust: Float = 0
    var zero = false
    var nan = false

    static let zeroRow = SoftmaxGradientRow(zero: true)
    static let nanRow = SoftmaxGradientRow(nan: true)
}

/// A loss over rows of logits whose gradient has the form of `SoftmaxGradientRow`: cross-entropy
/// (weights, ignore index, label smoothing) and softmax focal loss. The loss turns each row's
/// statistics into its loss and gradient coefficients; the backends compute the statistics and
/// write the gradient (`SoftmaxLossOperation`), so the maths of docs/OPERATIONS.md lives here once.
protocol RowSoftmaxLoss: Sendable {
    /// Checks the labels and options against `rows × columns` logits; runs before anything else
    /// of the loss is used (its stored values may be meaningless until it passes).
    func validate(rows: Int, columns: Int) throws
    /// How the per-row losses are combined.
    var reduction: LossReduction { get }
    /// The upstream gradient of reduction none (one value per row), if given.
    var gradOutput: [Float]? { get }
    /// Whether the statistics need Σ_c w_c·z_c.
    var needsWeightedLogitSum: Bool { get }
    /// Per-column weights the gradient's offset is multiplied by (nil: all 1).
    var columnWeights: [Float]? { get }
    /// How many per-class values the loss reads besides the logits (class weights, per-class α).
    var perClassValues: Int { get }
    /// The target column of row `n`, or nil when the row is ignored.
    func target(_ n: Int) -> Int?
    /// Row `n`'s loss (before reduction) and gradient coefficients.
    func row(_ n: Int, _ statistics: RowLossStatistics) -> (loss: Double, gradient: SoftmaxGradientRow)
    /// The reduced loss from the per-row losses.
    func reduce(_ losses: [Double]) -> [Float]
}
