/// Losses of log-probabilities (typically a `logSoftmax` output): PyTorch's `kl_div` and `nll_loss`
/// (docs/OPERATIONS.md, "KL divergence", "Negative log-likelihood").
extension Engine {
    /// KL divergence of log-probabilities `x` against targets `t` of the same shape `B×C`, PyTorch's
    /// `kl_div(input, target, reduction:, log_target:)`. Per element:
    ///
    ///     ℓ     = t·(log t − x)            (ℓ = 0 where t = 0, whatever x)
    ///     ℓ     = exp(lt)·(lt − x)         (logTarget: targets hold lt = log t; lt = −∞ gives 0)
    ///     ∂ℓ/∂x = −t  (−exp(lt))           (0 where ℓ is taken as 0), times the reduction's factor
    ///
    /// Reductions (`KLDivReduction`): `.batchMean` `Σ ℓ / B` (factor `1/B`), `.sum`, `.mean` (default,
    /// as PyTorch) `Σ ℓ / (B·C)`, `.none` one `ℓ` per element (factor: the `gradOutput` element, or 1).
    /// Where `t > 0`, `x = −∞` gives `+∞`; NaN propagates. Unlike PyTorch, `t = 0` with `x = −∞`
    /// gives 0, not NaN.
    /// - Parameters:
    ///   - logProbabilities: `x`, `B×C`; `−∞` allowed (log 0).
    ///   - targets: the same shape: probabilities, finite and ≥ 0; with `logTarget`, log-probabilities
    ///     that are finite or `−∞`.
    ///   - logTarget: whether `targets` hold `log t` (PyTorch's `log_target`).
    ///   - reduction: batchMean, sum, mean (default) or none (`KLDivReduction`).
    ///   - gradOutput: with `.none` only, one upstream value per element (the input's shape).
    /// - Returns: the loss (1 value, or `B·C` for `.none`) and ∂loss/∂logProbabilities (`B×C`).
    /// - Throws: `.shapeMismatch` for shapes that disagree or an empty input, `.invalidValue` for a
    ///   target that breaks the rule above (its flat index; the message names row and column),
    ///   `.invalidOption` for `gradOutput` without `.none`. With `checkFinite`, `.invalidValue` for
    ///   an input that is NaN or `+∞` or a non-finite `gradOutput`.
    public func klDivLoss(
        logProbabilities: Matrix, targets: Matrix, logTarget: Bool = false, reduction: KLDivReduction = .mean,
        gradOutput: Matrix? = nil
    ) throws -> LossOutput {
        let loss = ElementwiseLoss.klDivergence(logTarget: logTarget, reduction: reduction, rows: logProbabilities.rows)
        return try runElementwise(
            loss, input: logProbabilities, inputName: "logProbabilities", targets: targets, gradOutput: gradOutput,
            targetRule: logTarget ? .logProbability : .finiteNonNegative, inputFinite: .finiteOrNegativeInfinity,
            targetsFinite: logTarget ? .finiteOrNegativeInfinity : .finite)
    }

    /// Negative log-likelihood of log-probabilities `x` (`B×C`) with `labels` (`B` class indices),
    /// PyTorch's `nll_loss`:
    ///
    ///     loss_n        = −w_{y_n}·x_{n,y_n}                     (0 for a row whose label is ignoreIndex)
    ///     mean          = Σ_n loss_n / Σ_{n not ignored} w_{y_n}   (NaN when that sum is 0, as PyTorch)
    ///     ∂loss_n/∂x_nj = −w_{y_n}·[j = y_n]                      (times 1/Σw for mean, gradOutput[n] for none)
    ///
    /// Only the target column of a counted row gets a gradient; every other entry, and every entry of
    /// an ignored row, is exactly 0. Nothing checks that rows normalise; `x_{n,y_n} = −∞` gives `+∞`.
    /// - Parameters:
    ///   - logProbabilities: `x`, `B×C` (typically a `logSoftmax` output); `−∞` allowed.
    ///   - labels: `y`, `B` class indices in `0..<C` (or `ignoreIndex`).
    ///   - classWeights: `w`, one per class, finite (default all 1).
    ///   - ignoreIndex: rows with this label (even a valid class) contribute no loss and a zero
    ///     gradient, and do not count in the mean.
    ///   - reduction: mean (default), sum or none (one loss per row).
    ///   - gradOutput: with `.none` only, one upstream value per row.
    /// - Returns: the loss (1 value, or `B` for `.none`) and ∂loss/∂logProbabilities (`B×C`).
    /// - Throws: `.invalidValue` for a label outside `0..<C` other than `ignoreIndex` or a class
    ///   weight that is not finite, `.shapeMismatch` for counts that disagree or an empty batch,
    ///   `.invalidOption` for `gradOutput` without `.none`. With `checkFinite`, `.invalidValue` for
    ///   an input that is NaN or `+∞` or a non-finite `gradOutput`.
    public func nllLoss(
        logProbabilities: Matrix, labels: [Int], classWeights: [Float]? = nil, ignoreIndex: Int = -100,
        reduction: LossReduction = .mean, gradOutput: [Float]? = nil
    ) throws -> LossOutput {
        let loss = NLLLoss(labels: labels, classWeights: classWeights, ignoreIndex: ignoreIndex, reduction: reduction, gradOutput: gradOutput)
        let gradient = OutputArray(count: logProbabilities.count)
        let outcome = try withHostBuffers([logProbabilities.values], [gradient]) { x, y in
            try run(NLLLossOperation(loss: loss, logProbabilities: x[0], gradient: y[0], rows: logProbabilities.rows, columns: logProbabilities.columns))
        }
        return LossOutput(
            loss: outcome.result, gradient: gradient.matrix(rows: logProbabilities.rows, columns: logProbabilities.columns), backend: outcome.backend)
    }
}
