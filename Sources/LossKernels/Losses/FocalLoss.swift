import Foundation

/// The class weighting α of the softmax focal loss: one scalar, or one value per class.
public enum FocalAlpha: Sendable, Equatable {
    /// The same α for every class.
    case scalar(Float)
    /// One α per class (`C` values).
    case perClass([Float])

    func value(_ y: Int) -> Double {
        switch self {
        case .scalar(let a): return Double(a)
        case .perClass(let a): return Double(a[y])
        }
    }
}

/// Softmax (multi-class) focal loss: `loss_n = −α_y·(1 − p_y)^γ·log p_y`; γ = 0, α = 1 is
/// cross-entropy. With p = p_y:
///
///     ∂loss/∂z_j = κ·(p_j − [j=y]),   κ = −α·[γ(1−p)^{γ−1}·p·log p − (1−p)^γ]
///
/// (the γ-term is 0 when γ = 0 or p = 1, its limit). Mean over rows.
struct FocalLoss: RowSoftmaxLoss {
    let labels: [Int]
    let gamma: Float
    let alpha: FocalAlpha
    let reduction: LossReduction
    let gradOutput: [Float]?
    let rowScale: [Double]

    init(labels: [Int], gamma: Float, alpha: FocalAlpha, reduction: LossReduction, gradOutput: [Float]?) {
        self.labels = labels
        self.gamma = gamma
        self.alpha = alpha
        self.reduction = reduction
        self.gradOutput = gradOutput
        rowScale = reduction.gradientScales(count: labels.count, meanDenominator: Double(labels.count), gradOutput: gradOutput)
    }

    func validate(rows: Int, columns: Int) throws {
        try Validation.requireLabels(labels, rows: rows, classes: columns)
        guard gamma.isFinite, gamma >= 0 else { throw LossKernelsError.invalidOption(name: "gamma", value: "\(gamma)", allowed: ">= 0 and finite") }
        switch alpha {
        case .scalar(let a):
            guard a.isFinite else { throw LossKernelsError.invalidOption(name: "alpha", value: "\(a)", allowed: "finite") }
        case .perClass(let a):
            try Validation.requirePerClass("alpha", a, classes: columns)
        }
        try Validation.requireGradOutput(gradOutput, count: rows, reduction: reduction, per: "row")
    }

    var needsWeightedLogitSum: Bool { false }
    var columnWeights: [Float]? { nil }
    var perClassValues: Int {
        if case .perClass(let a) = alpha { return a.count }
        return 0
    }
    func target(_ n: Int) -> Int? { labels[n] }

    func row(_ n: Int, _ s: RowLossStatistics) -> (loss: Double, gradient: SoftmaxGradientRow) {
        let y = labels[n]
        let a = alpha.value(y), gamma = Double(self.gamma)
        let logP = Double(s.targetLogit) - Double(s.state.logSumExp)
        let p = Foundation.exp(logP)
        let q = 1 - p
        let loss = -a * Foundation.pow(q, gamma) * logP
        guard s.state.isRegular else { return (loss, .nanRow) }
        let gammaTerm = (gamma == 0 || q <= 0) ? 0 : gamma * Foundation.pow(q, gamma - 1) * p * logP
        let kappa = -a * (gammaTerm - Foundation.pow(q, gamma)) * rowScale[n]
        let gradient = SoftmaxGradientRow(shift: s.state.max, scale: Float(kappa / s.state.sum), offset: 0, target: y, targetAdjust: Float(-kappa))
        return (loss, gradient)
    }

    func reduce(_ losses: [Double]) -> [Float] { reduction.reduce(losses, meanDenominator: Double(losses.count)) }
}
