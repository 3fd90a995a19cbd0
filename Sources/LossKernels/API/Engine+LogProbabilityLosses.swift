/// Losses of log-probabilities (typically a `logSoftmax` output): PyTorch's `kl_div`
/// (docs/OPERATIONS.md, "KL divergence").
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
    ///   - gradOutput: with `.none` only, one upstream value per element (the input's shape).
    /// - Returns: the loss (1 value, or `B·C` for `.none`) and ∂loss/∂logProbabilities (`B×C`).
    /// - Throws: `.shapeMismatch` for shapes that disagree or an empty input, `.invalidValue` for a
    ///   target that breaks the rule above (its flat index; the message names row and column),
    ///   `.invalidOption` for `gradOutput` without `.none`. With `checkFinite`, `.invalidValue` for
    ///   an input that is NaN or `+∞` or a non-finite `gradOutput`.
    public func klDivLoss(logProbabilities: Matrix, targets: Matrix, logTarget: Bool = false, reduction: KLDivReduction = .mean,
                          gradOutput: Matrix? = nil) throws -> LossOutput {
        let loss = ElementwiseLoss.klDivergence(logTarget: logTarget, reduction: reduction, rows: logProbabilities.rows)
        return try runElementwise(loss, input: logProbabilities, inputName: "logProbabilities", targets: targets, gradOutput: gradOutput,
                                  targetRule: logTarget ? .logProbability : .finiteNonNegative, inputFinite: .finiteOrNegativeInfinity,
                                  targetsFinite: logTarget ? .finiteOrNegativeInfinity : .finite)
    }
}
