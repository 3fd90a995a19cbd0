/// A whole-tensor or per-row/per-column reduction.
public enum ReductionOperation: String, Sendable, CaseIterable, Equatable {
    /// Σ x.
    case sum
    /// Σ x / n.
    case mean
    /// max x (NaN if any NaN, as PyTorch).
    case max
    /// min x (NaN if any NaN).
    case min
    /// Index of the first maximum (of the first NaN if there is one, as PyTorch).
    case argmax
    /// log Σ exp x, stabilised by the maximum; −∞ for all-(−∞) input, +∞ when +∞ occurs.
    case logSumExp
    /// sqrt(Σ x²).
    case l2Norm
}

/// What a reduction runs over.
public enum ReductionAxis: String, Sendable, CaseIterable, Equatable {
    /// Every element: one result.
    case all
    /// Each row: `rows` results.
    case rows
    /// Each column: `columns` results.
    case columns
}

/// The result of a reduction: one value per reduced group (1 for `.all`), and for `max`, `min`
/// and `argmax` the index of the winner in each group (a flat index for `.all`, a column for
/// `.rows`, a row for `.columns`); the first one on ties.
public struct ReductionResult: Sendable, Equatable {
    /// The reduced values; for `argmax`, the maximum itself.
    public var values: [Float]
    /// For `max`, `min`, `argmax`: the winning index per group; empty for the other operations.
    public var indices: [Int]

    public init(values: [Float], indices: [Int] = []) {
        self.values = values
        self.indices = indices
    }
}
