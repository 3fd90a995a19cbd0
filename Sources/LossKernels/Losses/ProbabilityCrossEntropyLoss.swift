import Foundation

/// Softmax cross-entropy with probability targets (docs/OPERATIONS.md, "Cross-entropy with
/// probability targets"), PyTorch's `cross_entropy(input, probs)`. For `B×C` logits `z` and targets
/// `T` (finite, ≥ 0), smoothed `T' = (1−ε)·T + ε/C`, class weights `w` (default 1), `p = softmax(z_n)`:
///
///     loss_n        = −Σ_c w_c·T'_nc·log p_nc          (a class with T'_nc = 0 adds nothing)
///     mean          = Σ_n loss_n / B
///     ∂loss_n/∂z_nj = p_nj·S_n − w_j·T'_nj,   S_n = Σ_c w_c·T'_nc
///
/// The backends reduce a row to its softmax state `(m, Σ exp(z − m))` and two sums,
/// `A_n = Σ_{T'≠0} w_c·T'_nc·(z_nc − m)` and `S_n`; then `loss_n = S_n·log Σ exp(z − m) − A_n` (no
/// cancellation against `m`), and the gradient is written as
/// `exp(z_j − m)·(r·S/Σ) − w_j·(r·(1−ε)·T_j + r·ε/C)` with `r` the row's reduction scale.
struct ProbabilityCrossEntropyLoss: Sendable {
    let classes: Int
    let classWeights: [Float]?
    let labelSmoothing: Float
    let reduction: LossReduction
    let gradOutput: [Float]?
    /// Per-row scale of the gradient (`LossReduction.gradientScales`, mean over `B` rows).
    let rowScale: [Double]

    init(rows: Int, classes: Int, classWeights: [Float]?, labelSmoothing: Float, reduction: LossReduction, gradOutput: [Float]?) {
        self.classes = classes
        self.classWeights = classWeights
        self.labelSmoothing = labelSmoothing
        self.reduction = reduction
        self.gradOutput = gradOutput
        rowScale = reduction.gradientScales(count: rows, meanDenominator: Double(rows), gradOutput: gradOutput)
    }

    /// `T' = keep·T + add`, in float: `keep = 1 − ε`, `add = ε/C` (exactly 1 and 0 without smoothing).
    var keep: Float { Float(1 - Double(labelSmoothing)) }
    var add: Float { Float(Double(labelSmoothing) / Double(max(classes, 1))) }

    /// Checks the options against `rows × columns` logits and the targets' values: every target
    /// finite and ≥ 0 (`.invalidValue` naming its flat index, row and column), class weights one per
    /// class and finite, ε in [0, 1], `gradOutput` one per row and only with none.
    func validate(rows: Int, columns: Int, targets: UnsafeBufferPointer<Float>) throws {
        if let classWeights { try Validation.requirePerClass("classWeights", classWeights, classes: columns) }
        try Validation.requireOption("labelSmoothing", labelSmoothing, in: 0...1)
        try Validation.requireGradOutput(gradOutput, count: rows, reduction: reduction, per: "row")
        for (i, t) in targets.enumerated() where !(t.isFinite && t >= 0) {
            let (r, c) = i.quotientAndRemainder(dividingBy: columns)
            throw LossKernelsError.invalidValue(tensor: "targetProbabilities", index: i, value: "\(t)", allowed: "finite and >= 0 (row \(r), column \(c))")
        }
    }

    /// Row `n`'s loss (before reduction) and gradient coefficients from its statistics. A row whose
    /// softmax is undefined (NaN, +∞, all −∞) has a NaN loss and an all-NaN gradient row.
    func row(_ n: Int, _ s: ProbabilityRowStatistics) -> (loss: Double, gradient: ProbabilityGradientRow) {
        guard s.state.isRegular else { return (.nan, .nanRow) }
        let loss = s.targetMass * Foundation.log(s.state.sum) - s.shiftedTargetLogits
        let r = rowScale[n]
        let gradient = ProbabilityGradientRow(
            shift: s.state.max, scale: Float(r * s.targetMass / s.state.sum),
            targetScale: Float(r * Double(keep)), targetOffset: Float(r * Double(add)))
        return (loss, gradient)
    }

    /// The reduced loss from the per-row losses (mean divides by the rows).
    func reduce(_ losses: [Double]) -> [Float] { reduction.reduce(losses, meanDenominator: Double(losses.count)) }
}

/// What a row of cross-entropy with probability targets is reduced to: the online-softmax state
/// (max m, Σ exp(z − m)), `A = Σ_{T'≠0} w_c·T'_c·(z_c − m)` and `S = Σ_c w_c·T'_c`.
struct ProbabilityRowStatistics: Sendable {
    var state: SoftmaxRowState
    var shiftedTargetLogits: Double
    var targetMass: Double
}

/// How one gradient row is written: `dz_j = exp(z_j − shift)·scale − w_j·(targetScale·T_j +
/// targetOffset)` (w_j = class weight, or 1), or all NaN when `nan`.
struct ProbabilityGradientRow: Sendable {
    var shift: Float = 0
    var scale: Float = 0
    var targetScale: Float = 0
    var targetOffset: Float = 0
    var nan = false

    static let nanRow = ProbabilityGradientRow(nan: true)
}
