/// Reductions over all elements, each row or each column (docs/OPERATIONS.md, "Reductions").
/// Deterministic: the same input on the same backend gives the same bits, whatever the thread count.
extension Engine {
    /// Reduces `input` (`rows × columns`) with `operation` over `axis`.
    /// - Returns: one value per group (`1`, `rows` or `columns` values) and, for max/min/argmax,
    ///   the winning index per group.
    /// - Throws: `.shapeMismatch` when max, min or argmax would reduce an empty group.
    public func reduce(_ operation: ReductionOperation, _ input: Matrix, over axis: ReductionAxis) throws -> ReductionResult {
        try input.values.withUnsafeBufferPointer { try reduce(operation, input: $0, rows: input.rows, columns: input.columns, over: axis).result }
    }

    /// Reduces a `rows × columns` buffer; also returns the backend that ran.
    public func reduce(_ operation: ReductionOperation, input: UnsafeBufferPointer<Float>, rows: Int, columns: Int, over axis: ReductionAxis) throws -> (
        result: ReductionResult, backend: Backend
    ) {
        let outcome = try run(ReduceOperation(operation: operation, axis: axis, input: input, rows: rows, columns: columns))
        return (outcome.result, outcome.backend)
    }

    /// Backward of `reduce`: the gradient with respect to `input` given the forward `result` and
    /// one upstream value per group. sum: `g`; mean: `g/n`; l2Norm: `g·x/‖x‖` (0 where the norm is
    /// 0); max/min: `g` at the winning index (the first on ties), 0 elsewhere; logSumExp:
    /// `g·exp(x − lse)`.
    /// - Throws: `.invalidOption` for argmax (it has no gradient), `.shapeMismatch` when
    ///   `gradOutput` or `result` do not have one value per group.
    public func reduceBackward(_ operation: ReductionOperation, _ input: Matrix, over axis: ReductionAxis, result: ReductionResult, gradOutput: [Float]) throws
        -> Matrix
    {
        let gradient = OutputArray(count: input.count)
        try withHostBuffers([input.values, gradOutput], [gradient]) { x, dz in
            _ = try run(
                ReduceBackwardOperation(
                    operation: operation, axis: axis, input: x[0], rows: input.rows, columns: input.columns, result: result,
                    gradOutput: x[1], gradInput: dz[0]))
        }
        return gradient.matrix(rows: input.rows, columns: input.columns)
    }
}
