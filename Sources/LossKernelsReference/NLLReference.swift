import Foundation
import LossKernels

extension LossReference {
    // MARK: Negative log-likelihood from log-probabilities

    /// PyTorch's `nll_loss(input, target)`: `x` holds log-probabilities (B×C, row-major), `y` one
    /// class index per row, `w` optional class weights (default 1):
    ///
    ///     loss_n         = −w_{y_n}·x_{n,y_n}                        (0 for ignored rows)
    ///     mean           = Σ_n loss_n / Σ_{n not ignored} w_{y_n}      (NaN if that sum is 0)
    ///     sum            = Σ_n loss_n
    ///     none           = loss_n
    ///     dloss_n/dx_nj  = −w_{y_n}·[j = y_n]
    ///
    /// times the row's scale: `1/Σw` (mean), 1 (sum), `gradOutput[n]` or 1 (none). A row is ignored
    /// when its label equals `ignoreIndex` (even a valid class); its loss and gradient are exactly 0
    /// whatever its inputs hold. Only `x_{n,y_n}` is read from a counted row, so non-finite entries
    /// elsewhere do not matter; `x_{n,y_n} = −∞` gives `+∞`, and `w_{y_n} = 0` with it gives NaN
    /// (the plain product, as PyTorch). With mean and a zero denominator the loss is NaN and the
    /// gradient is 0 when every row is ignored; a counted row of weight 0 then has NaN (`−0/0`) at
    /// `x_{n,y_n}` and 0 elsewhere, as PyTorch's backward (which writes only the target entries).
    package static func nllLoss(
        logProbabilities x: [Double], rows: Int, columns: Int, labels y: [Int], classWeights: [Double]? = nil,
        ignoreIndex: Int = -100, reduction: LossReduction = .mean, gradOutput: [Double]? = nil
    ) -> Result {
        precondition(x.count == rows * columns && y.count == rows, "reference: input must be \(rows)×\(columns) with \(rows) labels")
        let C = columns
        let w = classWeights ?? [Double](repeating: 1, count: C)
        precondition(w.count == C, "reference: \(w.count) class weights for \(C) classes")
        if reduction == .none, let gradOutput { precondition(gradOutput.count == rows, "reference: gradOutput needs one value per row") }
        var losses = [Double](repeating: 0, count: rows)
        var targetIndex = [Int?](repeating: nil, count: rows)   // the flat index of x_{n,y_n}; nil for ignored rows
        var denominator = 0.0
        for n in 0..<rows {
            let label = y[n]
            if label == ignoreIndex { continue }
            precondition((0..<C).contains(label), "reference: label \(label) of row \(n) outside 0..<\(C)")
            denominator += w[label]
            losses[n] = -w[label] * x[n * C + label]
            targetIndex[n] = n * C + label
        }
        var total = 0.0
        for l in losses { total += l }
        // The gradient is sparse: only x_{n,y_n} of a counted row moves the loss; every other entry is exactly 0.
        func gradient(_ scale: (Int) -> Double) -> [Double] {
            var g = [Double](repeating: 0, count: x.count)
            for n in 0..<rows { if let i = targetIndex[n] { g[i] = -w[y[n]] * scale(n) } }
            return g
        }
        switch reduction {
        case .mean:
            return Result(loss: [total / denominator], gradient: gradient { _ in 1 / denominator })
        case .sum:
            return Result(loss: [total], gradient: gradient { _ in 1 })
        case .none:
            return Result(loss: losses, gradient: gradient { gradOutput?[$0] ?? 1 })
        }
    }

    /// Float32 inputs (what a backend sees), widened exactly; see the Double form.
    package static func nllLoss(
        logProbabilities: [Float], rows: Int, columns: Int, labels: [Int], classWeights: [Float]? = nil,
        ignoreIndex: Int = -100, reduction: LossReduction = .mean, gradOutput: [Float]? = nil
    ) -> Result {
        nllLoss(
            logProbabilities: widen(logProbabilities), rows: rows, columns: columns, labels: labels, classWeights: classWeights.map(widen),
            ignoreIndex: ignoreIndex, reduction: reduction, gradOutput: gradOutput.map(widen))
    }
}
