import _CMicrokernels

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

    /// Whether it selects one element per group (and returns its index).
    var selects: Bool { self == .max || self == .min || self == .argmax }

    /// The forward kernels' code (`lk_reduce_op`, lk_codes.h): mean sums, l2Norm sums squares.
    var forwardCode: Int32 {
        let op: lk_reduce_op
        switch self {
        case .sum, .mean: op = LK_REDUCE_SUM
        case .l2Norm: op = LK_REDUCE_SUM_OF_SQUARES
        case .max: op = LK_REDUCE_MAX
        case .min: op = LK_REDUCE_MIN
        case .argmax: op = LK_REDUCE_ARGMAX
        case .logSumExp: op = LK_REDUCE_LOG_SUM_EXP
        }
        return Int32(op.rawValue)
    }

    /// The backward kernel's code (`lk_reduce_backward_op`).
    var backwardCode: Int32 {
        let op: lk_reduce_backward_op
        switch self {
        case .sum: op = LK_REDUCE_BACKWARD_SUM
        case .mean: op = LK_REDUCE_BACKWARD_MEAN
        case .l2Norm: op = LK_REDUCE_BACKWARD_L2_NORM
        case .max, .min, .argmax: op = LK_REDUCE_BACKWARD_SELECT
        case .logSumExp: op = LK_REDUCE_BACKWARD_LOG_SUM_EXP
        }
        return Int32(op.rawValue)
    }
}

/// What a reduction runs over.
public enum ReductionAxis: String, Sendable, CaseIterable, Equatable {
    /// Every element: one result.
    case all
    /// Each row: `rows` results.
    case rows
    /// Each column: `columns` results.
    case columns

    /// The kernels' code (`lk_reduce_axis`).
    var code: Int32 {
        let axis: lk_reduce_axis
        switch self {
        case .all: axis = LK_AXIS_ALL
        case .rows: axis = LK_AXIS_ROWS
        case .columns: axis = LK_AXIS_COLUMNS
        }
        return Int32(axis.rawValue)
    }

    /// The number of groups of a `rows × columns` input: 1, `rows` or `columns`.
    func groups(rows: Int, columns: Int) -> Int {
        switch self {
        case .all: return 1
        case .rows: return rows
        case .columns: return columns
        }
    }

    /// The number of elements in each group.
    func groupSize(rows: Int, columns: Int) -> Int {
        switch self {
        case .all: return rows * columns
        case .rows: return columns
        case .columns: return rows
        }
    }
}

/// The result of a reduction: one value per reduced group (1 for `.all`), and for `max`, `min`
/// and `argmax` the index of the winner in each group (a flat index for `.all`, a column for
/// `.rows`, a row for `.columns`); the first one on ties.
public struct ReductionResult: Sendable, Equatable {
    /// The reduced values; for `argmax`, the maximum itself.
    public var values: [Float]
    /// For `max`, `min`, `argmax`: the winning index per group; empty for the other operations.
    public var indices: [Int]

    /// A result from its values and, for the selecting operations, indices.
    public init(values: [Float], indices: [Int] = []) {
        self.values = values
        self.indices = indices
    }
}
