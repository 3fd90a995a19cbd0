import Foundation

/// The class weighting α of the softmax focal loss: one scalar, or one value per class.
public enum FocalAlpha: Sendable, Equatable {
    case scalar(Float)
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
/// (the γ-term is 0 when γ = 0 or p = 1, its limit).
struct FocalLoss: RowSoftmaxLoss {
    let labels: [Int]
    let gamma: Double
    let alpha: FocalAlpha
    let reduction: LossReduction
    let rowScale: [Double]

    init(labels: [Int], gamma: Float, alpha: FocalAlpha, reduction: LossReduction, gradOutput: [Float]?) {
        self.labels = labels
        self.gamma = Double(gamma)
        self.alpha = alpha
        self.reduction = reduction
        switch reduction {
        case .mean: rowScale = [Double](repeating: 1 / Double(labels.count), count: labels.count)
        case .sum: rowScale = [Double](repeating: 1, count: labels.count)
        case .none: rowScale = gradOutput.map { $0.map(Double.init) } ?? [Double](repeating: 1, count: labels.count)
        }
    }

    var needsWeightedLogitSum: Bool { false }
    var columnWeights: [Float]? { nil }
    func target(_ n: Int) -> Int? { labels[n] }

    func row(_ n: Int, _ s: RowLossStatistics) -> (loss: Double, gradient: SoftmaxGradientRow) {
        let y = labels[n]
        let a = alpha.value(y)
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

    func reduce(_ losses: [Double]) -> [Float] {
        switch reduction {
        case .none: return losses.map { Float($0) }
        case .sum: return [Float(losses.reduce(0, +))]
        case .mean: return [Float(losses.reduce(0, +) / Double(losses.count))]
        }
    }
}
