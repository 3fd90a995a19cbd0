import Foundation

/// The online-softmax state of one row, merged from block statistics in block order:
/// running max and Σ exp(x − max), in double, plus whether a NaN or +∞ was seen.
/// `(m_a, d_a) ⊕ (m_b, d_b) = (M, d_a·e^{m_a−M} + d_b·e^{m_b−M})`.
struct SoftmaxRowState {
    var max: Float = -.infinity
    var sum: Double = 0
    var sawNaN = false
    var sawPositiveInfinity = false

    /// Folds in one block's (max, Σ exp(x − max)).
    mutating func merge(blockMax: Float, blockSum: Float) {
        if blockMax.isNaN { sawNaN = true; return }
        if blockMax == .infinity { sawPositiveInfinity = true; return }
        if blockMax == -.infinity { return }
        if blockMax > max {
            sum = sum * Foundation.exp(Double(max) - Double(blockMax)) + Double(blockSum)
            max = blockMax
        } else {
            sum += Double(blockSum) * Foundation.exp(Double(blockMax) - Double(max))
        }
    }

    /// Whether the row has a finite maximum and no NaN/+∞: only then are probabilities defined.
    var isRegular: Bool { !sawNaN && !sawPositiveInfinity && max != -.infinity }

    /// log Σ exp x: NaN if a NaN occurs, else +∞ if +∞ occurs, −∞ for an all-(−∞) row.
    var logSumExp: Float {
        if sawNaN { return .nan }
        if sawPositiveInfinity { return .infinity }
        if max == -.infinity { return -.infinity }
        return Float(Double(max) + Foundation.log(sum))
    }
}
