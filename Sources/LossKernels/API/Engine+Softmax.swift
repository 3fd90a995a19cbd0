/// Softmax, logSoftmax and logSumExp, forward and backward (docs/OPERATIONS.md, "Softmax family").
///
/// Rows are independent: `softmax(z)_j = exp(z_j − max z) / Σ_k exp(z_k − max z)`. `−∞` entries are
/// masks (probability 0); a row that is all `−∞`, or holds NaN or `+∞`, gives NaN (as PyTorch).
extension Engine {
    // MARK: Matrices

    /// Row-wise softmax of `logits` (`B×C`); returns the probabilities (`B×C`).
    public func softmax(_ logits: Matrix) throws -> Matrix {
        try mapRows(logits) { try softmax(logits: $0, rows: logits.rows, columns: logits.columns, into: $1) }
    }

    /// Row-wise log-softmax of `logits` (`B×C`): `z_j − max − log Σ_k exp(z_k − max)`.
    public func logSoftmax(_ logits: Matrix) throws -> Matrix {
        try mapRows(logits) { try logSoftmax(logits: $0, rows: logits.rows, columns: logits.columns, into: $1) }
    }

    /// log Σ_j exp(logits[r, j]) for each row (`B` values); −∞ for an all-(−∞) row, +∞ when a row
    /// holds +∞, NaN when it holds NaN.
    public func logSumExp(_ logits: Matrix) throws -> [Float] {
        let out = OutputArray(count: logits.rows)
        try withHostBuffers([logits.values], [out]) { x, y in
            _ = try logSumExp(logits: x[0], rows: logits.rows, columns: logits.columns, into: y[0])
        }
        return out.values
    }

    /// Backward of softmax: `dz = p ⊙ (g − Σ_j g_j p_j)` from the probabilities `p` and upstream `g`
    /// (both `B×C`).
    public func softmaxBackward(probabilities: Matrix, gradOutput: Matrix) throws -> Matrix {
        try Validation.requireSameShape(
            "gradOutput", rows: gradOutput.rows, columns: gradOutput.columns, as: "probabilities", probabilities.rows, probabilities.columns)
        return try mapRows(probabilities, gradOutput) { p, g, dz in
            try softmaxBackward(probabilities: p, gradOutput: g, rows: probabilities.rows, columns: probabilities.columns, into: dz)
        }
    }

    /// Backward of logSoftmax: `dz = g − exp(y)·Σ_j g_j` from the log-probabilities `y` and upstream
    /// `g` (both `B×C`).
    public func logSoftmaxBackward(logProbabilities: Matrix, gradOutput: Matrix) throws -> Matrix {
        try Validation.requireSameShape(
            "gradOutput", rows: gradOutput.rows, columns: gradOutput.columns, as: "logProbabilities", logProbabilities.rows, logProbabilities.columns)
        return try mapRows(logProbabilities, gradOutput) { y, g, dz in
            try logSoftmaxBackward(logProbabilities: y, gradOutput: g, rows: logProbabilities.rows, columns: logProbabilities.columns, into: dz)
        }
    }

    /// Backward of logSumExp: `dz[r, j] = g[r]·exp(z[r, j] − lse[r])` (= `g[r]·softmax(z)[r, j]`).
    /// `logSumExp` and `gradOutput` hold one value per row.
    public func logSumExpBackward(logits: Matrix, logSumExp lse: [Float], gradOutput: [Float]) throws -> Matrix {
        try Validation.requireRowVector("logSumExp", lse.count, rows: logits.rows)
        try Validation.requireRowVector("gradOutput", gradOutput.count, rows: logits.rows)
        let out = OutputArray(count: logits.count)
        try withHostBuffers([logits.values, lse, gradOutput], [out]) { x, dz in
            _ = try logSumExpBackward(logits: x[0], logSumExp: x[1], gradOutput: x[2], rows: logits.rows, columns: logits.columns, into: dz[0])
        }
        return out.matrix(rows: logits.rows, columns: logits.columns)
    }

    // MARK: Buffers

    /// Softmax of `rows × columns` logits into `probabilities` (same size). Returns the backend that ran.
    @discardableResult
    public func softmax(logits: UnsafeBufferPointer<Float>, rows: Int, columns: Int, into probabilities: UnsafeMutableBufferPointer<Float>) throws -> Backend {
        try run(SoftmaxForwardOperation(kind: .softmax, logits: .host(logits), output: .host(probabilities), rows: rows, columns: columns)).backend
    }

    /// Log-softmax of `rows × columns` logits into `logProbabilities`. Returns the backend that ran.
    @discardableResult
    public func logSoftmax(logits: UnsafeBufferPointer<Float>, rows: Int, columns: Int, into logProbabilities: UnsafeMutableBufferPointer<Float>) throws
        -> Backend
    {
        try run(SoftmaxForwardOperation(kind: .logSoftmax, logits: .host(logits), output: .host(logProbabilities), rows: rows, columns: columns)).backend
    }

    /// logSumExp of each row of `rows × columns` logits into `out` (`rows` values).
    @discardableResult
    public func logSumExp(logits: UnsafeBufferPointer<Float>, rows: Int, columns: Int, into out: UnsafeMutableBufferPointer<Float>) throws -> Backend {
        try run(LogSumExpOperation(logits: .host(logits), output: .host(out), rows: rows, columns: columns)).backend
    }

    /// Softmax backward over buffers (see `softmaxBackward(probabilities:gradOutput:)`).
    @discardableResult
    public func softmaxBackward(
        probabilities: UnsafeBufferPointer<Float>, gradOutput: UnsafeBufferPointer<Float>, rows: Int, columns: Int,
        into gradLogits: UnsafeMutableBufferPointer<Float>
    ) throws -> Backend {
        try run(
            SoftmaxBackwardOperation(
                kind: .softmax, forwardOutput: .host(probabilities), gradOutput: .host(gradOutput), gradLogits: .host(gradLogits), rows: rows, columns: columns)
        ).backend
    }

    /// Log-softmax backward over buffers (see `logSoftmaxBackward(logProbabilities:gradOutput:)`).
    @discardableResult
    public func logSoftmaxBackward(
        logProbabilities: UnsafeBufferPointer<Float>, gradOutput: UnsafeBufferPointer<Float>, rows: Int, columns: Int,
        into gradLogits: UnsafeMutableBufferPointer<Float>
    ) throws -> Backend {
        try run(
            SoftmaxBackwardOperation(
                kind: .logSoftmax, forwardOutput: .host(logProbabilities), gradOutput: .host(gradOutput), gradLogits: .host(gradLogits), rows: rows,
                columns: columns)
        ).backend
    }

    /// logSumExp backward over buffers (see `logSumExpBackward(logits:logSumExp:gradOutput:)`).
    @discardableResult
    public func logSumExpBackward(
        logits: UnsafeBufferPointer<Float>, logSumExp lse: UnsafeBufferPointer<Float>, gradOutput: UnsafeBufferPointer<Float>, rows: Int, columns: Int,
        into gradLogits: UnsafeMutableBufferPointer<Float>
    ) throws -> Backend {
        try run(LogSumExpBackwardOperation(logits: logits, logSumExp: lse, gradOutput: gradOutput, gradLogits: gradLogits, rows: rows, columns: columns))
            .backend
    }

    // MARK: Shared paths

    /// A matrix shaped like `input`, written by `body` from `input`'s values (and `other`'s).
    private func mapRows(
        _ input: Matrix, _ other: Matrix? = nil,
        _ body: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) throws -> Backend
    ) throws -> Matrix {
        let out = OutputArray(count: input.count)
        try withHostBuffers([input.values, other?.values ?? []], [out]) { x, y in _ = try body(x[0], x[1], y[0]) }
        return out.matrix(rows: input.rows, columns: input.columns)
    }

    private func mapRows(_ input: Matrix, _ body: (UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) throws -> Backend) throws -> Matrix {
        try mapRows(input, nil) { x, _, y in try body(x, y) }
    }
}
