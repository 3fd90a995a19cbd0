import Foundation
import LossKernels

extension LossReference {
    // MARK: KL divergence (PyTorch kl_div)

    /// PyTorch's `kl_div(input, target)`: `input` `x` holds log-probabilities (B×C, row-major),
    /// `target` holds probabilities `t`, or log-probabilities `lt` when `logTarget`:
    ///
    ///     ℓ     = t·(log t − x)            ℓ = 0 wherever t = 0, whatever x (also ±∞ or NaN)
    ///     ℓ     = exp(lt)·(lt − x)         (logTarget) ℓ = 0 wherever lt = −∞, whatever x
    ///     dℓ/dx = −t   (−exp(lt))          0 where ℓ is taken as 0
    ///
    /// Reductions (`KLDivReduction`): batchMean `Σℓ / B`, sum `Σℓ`, mean `Σℓ / (B·C)`, none one ℓ
    /// per element; the gradient is `dℓ/dx` times `1/B`, 1, `1/(B·C)`, or `gradOutput` per element
    /// (1 without it). PyTorch's pointwise `0·(−∞)` at t = 0 (or lt = −∞) gives NaN; this
    /// reference takes the limit 0 there, as the formula's `0·log 0 = 0` convention. Otherwise IEEE
    /// arithmetic applies: t > 0 with x = −∞ gives `+∞`, a NaN x or t gives NaN, t < 0 gives NaN.
    package static func klDivergence(
        input x: [Double], targets t: [Double], rows: Int, columns: Int, logTarget: Bool = false,
        reduction: KLDivReduction = .mean, gradOutput: [Double]? = nil
    ) -> Result {
        precondition(x.count == rows * columns && t.count == x.count, "reference: input and target must both be \(rows)×\(columns)")
        var losses = [Double](repeating: 0, count: x.count)
        var derivatives = [Double](repeating: 0, count: x.count)
        for i in 0..<x.count {
            if logTarget {
                let lt = t[i]
                if lt == -.infinity { continue }
                let target = Foundation.exp(lt)
                losses[i] = target * (lt - x[i])
                derivatives[i] = -target
            } else {
                let target = t[i]
                if target == 0 { continue }
                losses[i] = target * (Foundation.log(target) - x[i])
                derivatives[i] = -target
            }
        }
        var total = 0.0
        for l in losses { total += l }
        switch reduction {
        case .batchMean:
            let b = Double(rows)
            return Result(loss: [total / b], gradient: derivatives.map { $0 / b })
        case .sum:
            return Result(loss: [total], gradient: derivatives)
        case .mean:
            let count = Double(rows * columns)
            return Result(loss: [total / count], gradient: derivatives.map { $0 / count })
        case .none:
            guard let gradOutput else { return Result(loss: losses, gradient: derivatives) }
            precondition(gradOutput.count == x.count, "reference: gradOutput needs one value per element")
            return Result(loss: losses, gradient: (0..<x.count).map { derivatives[$0] * gradOutput[$0] })
        }
    }

    /// Float32 inputs (what a backend sees), widened exactly; see the Double form.
    package static func klDivergence(
        input: [Float], targets: [Float], rows: Int, columns: Int, logTarget: Bool = false,
        reduction: KLDivReduction = .mean, gradOutput: [Float]? = nil
    ) -> Result {
        klDivergence(
            input: widen(input), targets: widen(targets), rows: rows, columns: columns, logTarget: logTarget,
            reduction: reduction, gradOutput: gradOutput.map(widen))
    }
}
