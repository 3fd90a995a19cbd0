import Foundation

/// Softmax cross-entropy with class-index targets (LOSSES.md "Cross-entropy from logits"):
///
///     loss_n = (1−ε)·w_y·(−log p_y) + (ε/C)·Σ_c w_c·(−log p_c)        (0 for ignored rows)
///     mean   = Σ_n loss_n / Σ_{n not ignored} w_{y_n}                  (NaN if that sum is 0)
///     ∂loss_n/∂z_nj = (1−ε)·w_y·(p_j − [j=y]) + (ε/C)·(p_j·Σ_c w_c − w_j)
struct CrossEntropyLoss: RowSoftmaxLoss {
    let labels: [Int]
    let classes: Int
    let classWeights: [Float]?
    let ignoreIndex: Int
    let labelSmoothing: Double
    let reduction: LossReduction
    /// Per-row scale of the gradient (1/Σw for mean, 1 for sum, the upstream value for none).
    let rowScale: [Double]
    let weightTotal: Double

    init(labels: [Int], classes: Int, classWeights: [Float]?, ignoreIndex: Int, labelSmoothing: Float, reduction: LossReduction, gradOutput: [Float]?) {
        self.labels = labels
        self.classes = classes
        self.classWeights = classWeights
        self.ignoreIndex = ignoreIndex
        self.labelSmoothing = Double(labelSmoothing)
        self.reduction = reduction
        self.weightTotal = classWeights.map { $0.reduce(0.0) { $0 + Double($1) } } ?? Double(classes)
        switch reduction {
        case .mean:
            var denominator = 0.0
            for label in labels where label != ignoreIndex { denominator += classWeights.map { Double($0[label]) } ?? 1 }
            rowScale = [Double](repeating: 1 / denominator, count: labels.count)
        case .sum:
            rowScale = [Double](repeating: 1, count: labels.count)
        case .none:
            rowScale = gradOutput.map { $0.map(Double.init) } ?? [Double](repeating: 1, count: labels.count)
        }
    }

    var needsWeightedLogitSum: Bool { labelSmoothing > 0 }
    var columnWeights: [Float]? { classWeights }

    func target(_ n: Int) -> Int? { labels[n] == ignoreIndex ? nil : labels[n] }

    func row(_ n: Int, _ s: RowLossStatistics) -> (loss: Double, gradient: SoftmaxGradientRow) {
        guard let y = target(n) else { return (0, .zeroRow) }
        let wy = classWeights.map { Double($0[y]) } ?? 1
        let eps = labelSmoothing, c = Double(classes)
        let lse = Double(s.state.logSumExp)
        var loss = (1 - eps) * wy * (lse - Double(s.targetLogit))
        if eps > 0 { loss += eps / c * (lse * weightTotal - s.weightedLogitSum) }
        guard s.state.isRegular else { return (loss, .nanRow) }
        let r = rowScale[n]
        let a = (1 - eps) * wy + eps / c * weightTotal
        let gradient = SoftmaxGradientRow(
            shift: s.state.max, scale: Float(r * a / s.state.sum), offset: Float(r * eps / c),
            target: y, targetAdjust: Float(-r * (1 - eps) * wy))
        return (loss, gradient)
    }

    func reduce(_ losses: [Double]) -> [Float] {
        switch reduction {
        case .none: return losses.map { Float($0) }
        case .sum: return [Float(losses.reduce(0, +))]
        case .mean: return [Float(losses.reduce(0, +) * (rowScale.first ?? .nan))]
        }
    }
}
