/// Negative log-likelihood of log-probabilities with class-index labels (docs/OPERATIONS.md,
/// "Negative log-likelihood"), PyTorch's `nll_loss`. For `B×C` log-probabilities `x`, labels `y`,
/// class weights `w` (default 1):
///
///     loss_n        = −w_{y_n}·x_{n,y_n}                  (0 for a row whose label is ignoreIndex)
///     mean          = Σ_n loss_n / Σ_{n not ignored} w_{y_n}  (NaN when that sum is 0)
///     ∂loss_n/∂x_nj = −w_{y_n}·[j = y_n]·r_n              (exactly 0 elsewhere and on ignored rows)
///
/// with `r_n` the row's reduction scale. Only `x_{n,y_n}` of a counted row is read.
struct NLLLoss: Sendable {
    let labels: [Int]
    let classWeights: [Float]?
    let ignoreIndex: Int
    let reduction: LossReduction
    let gradOutput: [Float]?
    /// What mean divides by: Σ w_y over the rows not ignored.
    let meanDenominator: Double
    /// Per-row scale of the gradient (`LossReduction.gradientScales`).
    let rowScale: [Double]

    init(labels: [Int], classWeights: [Float]?, ignoreIndex: Int, reduction: LossReduction, gradOutput: [Float]?) {
        self.labels = labels
        self.classWeights = classWeights
        self.ignoreIndex = ignoreIndex
        self.reduction = reduction
        self.gradOutput = gradOutput
        meanDenominator = TargetWeights.total(labels: labels, classWeights: classWeights, ignoreIndex: ignoreIndex)
        rowScale = reduction.gradientScales(count: labels.count, meanDenominator: meanDenominator, gradOutput: gradOutput)
    }

    /// Labels one per row in `0..<columns` or `ignoreIndex`, class weights one per class and finite,
    /// `gradOutput` one per row and only with none.
    func validate(rows: Int, columns: Int) throws {
        try Validation.requireLabels(labels, rows: rows, classes: columns, ignoreIndex: ignoreIndex)
        if let classWeights { try Validation.requirePerClass("classWeights", classWeights, classes: columns) }
        try Validation.requireGradOutput(gradOutput, count: rows, reduction: reduction, per: "row")
    }

    /// The target column of row `n`, or nil when the row is ignored.
    func target(_ n: Int) -> Int? { labels[n] == ignoreIndex ? nil : labels[n] }

    /// `w_y` of row `n` (a counted row).
    private func weight(_ y: Int) -> Double { classWeights.map { Double($0[y]) } ?? 1 }

    /// Row `n`'s loss from `x_{n,y_n}` (0 for an ignored row, whatever `x` holds).
    func rowLoss(_ n: Int, targetValue: Float) -> Double {
        guard let y = target(n) else { return 0 }
        return -weight(y) * Double(targetValue)
    }

    /// The gradient at row `n`'s target column, `−w_y·r_n` (unused for an ignored row).
    func gradientValue(_ n: Int) -> Float {
        guard let y = target(n) else { return 0 }
        return Float(-weight(y) * rowScale[n])
    }

    /// Each row's target column as the kernels read it: the class, or −1 for an ignored row.
    var targetColumns: [Int64] { labels.indices.map { Int64(target($0) ?? -1) } }

    /// The per-row losses from the target values `x_{n,y_n}` (0 for ignored rows), in row order.
    func losses(_ targetValue: (Int, Int) -> Float) -> [Double] {
        labels.indices.map { n in target(n).map { rowLoss(n, targetValue: targetValue(n, $0)) } ?? 0 }
    }

    func reduce(_ losses: [Double]) -> [Float] { reduction.reduce(losses, meanDenominator: meanDenominator) }
}
