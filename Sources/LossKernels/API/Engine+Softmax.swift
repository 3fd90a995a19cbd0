/// Softmax, logSoftmax and logSumExp, forward and backward (shared/spec/LOSSES.md, "Softmax family").
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
        var out = [Float](repeating: 0, count: logits.rows)
        try logits.values.withUnsafeBufferPointer { x in
            _ = try out.withUnsafeMutableBufferPointer { try logSumExp(logits: x, rows: logits.rows, columns: logits.columns, into: $0) }
        }
        return out
    }

    /// Backward of softmax: `dz = p ⊙ (g − Σ_j g_j p_j)` from the probabilities `p` and upstream `g`
    /// (both `B×C`).
    public func softmaxBackward(probabilities: Matrix, gradOutput: Matrix) throws -> Matrix {
        try Validation.requireSameShape("gradOutput", rows: gradOutput.rows, columns: gradOutput.columns, as: "probabilities", probabilities.rows, probabilities.columns)
        return try mapRows(probabilities) { p, dz in
            try gradOutput.values.withUnsafeBufferPointer { g in
                try softmaxBackward(probabilities: p, gradOutput: g, rows: probabilities.rows, columns: probabilities.columns, into: dz)
            }
        }
    }

    /// Backward of logSoftmax: `dz = g − exp(y)·Σ_j g_j` from the log-probabilities `y` and upstream
    /// `g` (both `B×C`).
    public func logSoftmaxBackward(logProbabilities: Matrix, gradOutput: Matrix) throws -> Matrix {
        try Validation.requireSameShape("gradOutput", rows: gradOutput.rows, columns: gradOutput.columns, as: "logProbabilities", logProbabilities.rows, logProbabilities.columns)
        return try mapRows(logProbabilities) { y, dz in
            try gradOutput.values.withUnsafeBufferPointer { g in
                try logSoftmaxBackward(logProbabilities: y, gradOutput: g, rows: logProbabilities.rows, columns: logProbabilities.columns, into: dz)
            }
        }
    }

    /// Backward of logSumExp: `dz[r, j] = g[r]·exp(z[r, j] − lse[r])` (= `g[r]·softmax(z)[r, j]`).
    /// `logSumExp` and `gradOutput` hold one value per row.
    public func logSumExpBackward(logits: Matrix, logSumExp lse: [Float], gradOutput: [Float]) throws -> Matrix {
        try Validation.requireRowVector("logSumExp", lse.count, rows: logits.rows)
        try Validation.requireRowVector("gradOutput", gradOutput.count, rows: logits.rows)
        return try mapRows(logits) { x, dz in
            try lse.withUnsafeBufferPointer { l in
                try gradOutput.withUnsafeBufferPointer { g in
                    try logSumExpBackward(logits: x, logSumExp: l, gradOutput: g, rows: logits.rows, columns: logits.columns, into: dz)
                }
            }
        }
    }

    // MARK: Buffers

    /// Softmax of `rows × columns` logits into `probabilities` (same size). Returns the backend that ran.
    @discardableResult
    public func softmax(logits: UnsafeBufferPointer<Float>, rows: Int, columns: Int, into probabilities: UnsafeMutableBufferPointer<Float>) throws -> Backend {
        try rowwiseForward(logits, rows, columns, probabilities, logarithm: false)
    }

    /// Log-softmax of `rows × columns` logits into `logProbabilities`. Returns the backend that ran.
    @discardableResult
    public func logSoftmax(logits: UnsafeBufferPointer<Float>, rows: Int, columns: Int, into logProbabilities: UnsafeMutableBufferPointer<Float>) throws -> Backend {
        try rowwiseForward(logits, rows, columns, logProbabilities, logarithm: true)
    }

    /// logSumExp of each row of `rows × columns` logits into `out` (`rows` values).
    @discardableResult
    public func logSumExp(logits: UnsafeBufferPointer<Float>, rows: Int, columns: Int, into out: UnsafeMutableBufferPointer<Float>) throws -> Backend {
        try Validation.requireCount("logits", logits.count, rows: rows, columns: columns)
        try Validation.requireRowVector("logSumExp output", out.count, rows: rows)
        if checkFinite { try Validation.requireFinite("logits", logits, allowNegativeInfinity: true) }
        guard rows > 0 else { return .cpu }
        guard columns > 0 else {
            out.update(repeating: -.infinity)
            return .cpu
        }
        return try scheduler.run(elements: logits.count, cpu: {
            CPUSoftmax.logSumExp(logits.baseAddress!, rows: rows, columns: columns, out.baseAddress!, threads: scheduler.threads)
        }, opencl: { device in
            let x = try device.upload(logits)
            let result = try device.makeBuffer(count: rows)
            try OpenCLSoftmax.logSumExp(device, x, rows: rows, columns: columns, into: result)
            try device.read(result, into: UnsafeMutableRawBufferPointer(out))
        }).1
    }

    /// Softmax backward over buffers (see `softmaxBackward(probabilities:gradOutput:)`).
    @discardableResult
    public func softmaxBackward(probabilities: UnsafeBufferPointer<Float>, gradOutput: UnsafeBufferPointer<Float>, rows: Int, columns: Int, into gradLogits: UnsafeMutableBufferPointer<Float>) throws -> Backend {
        try rowwiseBackward(probabilities, gradOutput, rows, columns, gradLogits, logarithm: false)
    }

    /// Log-softmax backward over buffers (see `logSoftmaxBackward(logProbabilities:gradOutput:)`).
    @discardableResult
    public func logSoftmaxBackward(logProbabilities: UnsafeBufferPointer<Float>, gradOutput: UnsafeBufferPointer<Float>, rows: Int, columns: Int, into gradLogits: UnsafeMutableBufferPointer<Float>) throws -> Backend {
        try rowwiseBackward(logProbabilities, gradOutput, rows, columns, gradLogits, logarithm: true)
    }

    /// logSumExp backward over buffers (see `logSumExpBackward(logits:logSumExp:gradOutput:)`).
    @discardableResult
    public func logSumExpBackward(logits: UnsafeBufferPointer<Float>, logSumExp lse: UnsafeBufferPointer<Float>, gradOutput: UnsafeBufferPointer<Float>, rows: Int, columns: Int, into gradLogits: UnsafeMutableBufferPointer<Float>) throws -> Backend {
        try Validation.requireCount("logits", logits.count, rows: rows, columns: columns)
        try Validation.requireCount("gradLogits", gradLogits.count, rows: rows, columns: columns)
        try Validation.requireRowVector("logSumExp", lse.count, rows: rows)
        try Validation.requireRowVector("gradOutput", gradOutput.count, rows: rows)
        if checkFinite {
            try Validation.requireFinite("logits", logits, allowNegativeInfinity: true)
            try Validation.requireFinite("gradOutput", gradOutput)
        }
        guard logits.count > 0 else { return .cpu }
        return try scheduler.run(elements: 2 * logits.count, cpu: {
            CPUSoftmax.logSumExpBackward(logits.baseAddress!, logSumExp: lse.baseAddress!, gradOutput: gradOutput.baseAddress!, rows: rows, columns: columns, gradLogits.baseAddress!, threads: scheduler.threads)
        }, opencl: { device in
            let x = try device.upload(logits), l = try device.upload(lse), g = try device.upload(gradOutput)
            let dz = try device.makeBuffer(count: logits.count)
            try OpenCLSoftmax.logSumExpBackward(device, x, logSumExp: l, gradOutput: g, rows: rows, columns: columns, into: dz)
            try device.read(dz, into: UnsafeMutableRawBufferPointer(gradLogits))
        }).1
    }

    // MARK: Shared paths

    private func mapRows(_ input: Matrix, _ body: (UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) throws -> Backend) throws -> Matrix {
        var output = Matrix(rows: input.rows, columns: input.columns, repeating: 0)
        try input.values.withUnsafeBufferPointer { x in
            try output.values.withUnsafeMutableBufferPointer { _ = try body(x, $0) }
        }
        return output
    }

    private func rowwiseForward(_ x: UnsafeBufferPointer<Float>, _ rows: Int, _ columns: Int, _ y: UnsafeMutableBufferPointer<Float>, logarithm: Bool) throws -> Backend {
        try Validation.requireCount("logits", x.count, rows: rows, columns: columns)
        try Validation.requireCount(logarithm ? "logProbabilities" : "probabilities", y.count, rows: rows, columns: columns)
        if checkFinite { try Validation.requireFinite("logits", x, allowNegativeInfinity: true) }
        guard x.count > 0 else { return .cpu }
        return try scheduler.run(elements: 2 * x.count, cpu: {
            CPUSoftmax.forward(logarithm ? .logSoftmax : .softmax, x.baseAddress!, rows: rows, columns: columns, y.baseAddress!, threads: scheduler.threads)
        }, opencl: { device in
            let input = try device.upload(x)
            let output = try device.makeBuffer(count: x.count)
            try OpenCLSoftmax.forward(device, input, rows: rows, columns: columns, logarithm: logarithm, into: output)
            try device.read(output, into: UnsafeMutableRawBufferPointer(y))
        }).1
    }

    private func rowwiseBackward(_ y: UnsafeBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>, _ rows: Int, _ columns: Int, _ dz: UnsafeMutableBufferPointer<Float>, logarithm: Bool) throws -> Backend {
        try Validation.requireCount(logarithm ? "logProbabilities" : "probabilities", y.count, rows: rows, columns: columns)
        try Validation.requireCount("gradOutput", g.count, rows: rows, columns: columns)
        try Validation.requireCount("gradLogits", dz.count, rows: rows, columns: columns)
        if checkFinite {
            try Validation.requireFinite(logarithm ? "logProbabilities" : "probabilities", y, allowNegativeInfinity: logarithm)
            try Validation.requireFinite("gradOutput", g)
        }
        guard y.count > 0 else { return .cpu }
        return try scheduler.run(elements: 3 * y.count, cpu: {
            CPUSoftmax.backward(logarithm ? .logSoftmax : .softmax, output: y.baseAddress!, gradOutput: g.baseAddress!, rows: rows, columns: columns, dz.baseAddress!, threads: scheduler.threads)
        }, opencl: { device in
            let output = try device.upload(y), upstream = try device.upload(g)
            let result = try device.makeBuffer(count: y.count)
            try OpenCLSoftmax.backward(device, output: output, gradOutput: upstream, rows: rows, columns: columns, logarithm: logarithm, into: result)
            try device.read(result, into: UnsafeMutableRawBufferPointer(dz))
        }).1
    }
}
