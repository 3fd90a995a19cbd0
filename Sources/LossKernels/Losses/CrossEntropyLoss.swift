import Foundation

/// Softmax cross-entropy with class-index targets (docs/OPERATIONS.md, "Cross-entropy"):
///
///     loss_n = (1−ε)·w_y·(−log p_y) + (ε/C)·Σ_c w_c·(−log p_c)        (0 for ignored rows)
///     mean   = Σ_n loss_n / Σ_{n not ignored} w_{y_n}                  (NaN if that sum is 0)
///     ∂loss_n/∂z_nj = (1−ε)·w_y·(p_j − [j=y]) + (ε/C)·(p_j·Σ_c w_c − w_j)
struct CrossEntropyLoss: RowSoftmaxLoss {
    let labels: [Int]
    let classes: Int
    let classWeights: [Float]?
    let ignoreIndex: Int
    let labelSmoothing: Float
    let reduction: LossReduction
    let gradOutput: [Float]?
    /// What mean divides by: Σ w_y over the rows not ignored.
    let meanDenominator: Double
    /// Per-row scale of the gradient (`LossReduction.gradientScales`).
    let rowScale: [Double]
    let weightTotal: Double

    init(labels: [Int], classes: Int, classWeights: [Float]?, ignoreIndex: Int, labelSmoothing: Float, reduction: LossReduction, gradOutput: [Float]?) {
        self.labels = labels
        self.classes = classes
        self.classWeights = classWeights
        self.ignoreIndex = ignoreIndex
        self.labelSmoothing = labelSmoothing
        self.reduction = reduction
        self.gradOutput = gradOutput
        self.weightTotal = classWeights.map { $0.reduce(0.0) { $0 + Double($1) } } ?? Double(classes)
        meanDenominator = TargetWeights.total(labels: labels, classWeights: classWeights, ignoreIndex: ignoreIndex)
        rowScale = reduction.gradientScales(count: labels.count, meanDenominator: meanDenominator, gradOutput: gradOutput)
    }

    func validate(rows: Int, columns: Int) throws {
        try Validation.requireLabels(labels, rows: rows, classes: columns, ignoreIndex: ignoreIndex)
        if let classWeights { try Validation.requirePerClass("classWeights", classWeights, classes: columns) }
        try Validation.requireOption("labelSmoothing", labelSmoothing, in: 0...1)
        try Validation.requireGradOutput(gradOutput, count: rows, reduction: reduction, per: "row")
    }

    var needsWeightedLogitSum: Bool { labelSmoothing > 0 }
    var columnWeights: [Float]? { classWeights }
    var perClassValues: Int { classWeights?.count ?? 0 }

    func target(_ n: Int) -> Int? { labels[n] == ignoreIndex ? nil : labels[n] }

    func row(_ n: Int, _ s: RowLossStatistics) -> (loss: Double, gradient: SoftmaxGradientRow) {
        guard let y = target(n) else { return (0, .zeroRow) }
        let wy = classWeights.map { Double($0[y]) } ?? 1
        let eps = Double(labelSmoothing), c = Double(classes)
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

    func reduce(_ losses: [Double]) -> [Float] { reduction.reduce(losses, meanDenominator: meanDenominator) }
}
