/// Reductions over all elements, each row or each column (shared/spec/LOSSES.md, "Reductions").
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
    public func reduce(_ operation: ReductionOperation, input: UnsafeBufferPointer<Float>, rows: Int, columns: Int, over axis: ReductionAxis) throws -> (result: ReductionResult, backend: Backend) {
        try Validation.requireCount("input", input.count, rows: rows, columns: columns)
        if checkFinite { try Validation.requireFinite("input", input) }
        let groups = Self.groupCount(axis, rows: rows, columns: columns)
        let groupSize = Self.groupSize(axis, rows: rows, columns: columns)
        if groupSize == 0 {
            switch operation {
            case .max, .min, .argmax:
                if groups > 0 {
                    throw LossKernelsError.shapeMismatch(tensor: "input", expected: "at least one element in each group reduced by \(operation.rawValue) over \(axis.rawValue)", actual: Validation.shape(rows, columns))
                }
                return (ReductionResult(values: [], indices: []), .cpu)
            case .sum, .l2Norm: return (ReductionResult(values: [Float](repeating: 0, count: groups)), .cpu)
            case .mean: return (ReductionResult(values: [Float](repeating: .nan, count: groups)), .cpu)
            case .logSumExp: return (ReductionResult(values: [Float](repeating: -.infinity, count: groups)), .cpu)
            }
        }
        guard groups > 0 else { return (ReductionResult(values: [], indices: [.max, .min, .argmax].contains(operation) ? [] : []), .cpu) }
        return try scheduler.run(elements: input.count, cpu: {
            CPUReductions.reduce(operation, axis, input.baseAddress!, rows: rows, columns: columns, threads: scheduler.threads)
        }, opencl: { device in
            let x = try device.upload(input)
            return try OpenCLReductions.reduce(device, operation, axis, x, rows: rows, columns: columns)
        })
    }

    /// Backward of `reduce`: the gradient with respect to `input` given the forward `result` and
    /// one upstream value per group. sum: `g`; mean: `g/n`; l2Norm: `g·x/‖x‖` (0 where the norm is
    /// 0); max/min: `g` at the winning index (the first on ties), 0 elsewhere; logSumExp:
    /// `g·exp(x − lse)`.
    /// - Throws: `.invalidOption` for argmax (it has no gradient), `.shapeMismatch` when
    ///   `gradOutput` or `result` do not have one value per group.
    public func reduceBackward(_ operation: ReductionOperation, _ input: Matrix, over axis: ReductionAxis, result: ReductionResult, gradOutput: [Float]) throws -> Matrix {
        guard operation != .argmax else {
            throw LossKernelsError.invalidOption(name: "operation", value: "argmax", allowed: "sum, mean, max, min, logSumExp, l2Norm (argmax has no gradient)")
        }
        let groups = Self.groupCount(axis, rows: input.rows, columns: input.columns)
        try Validation.requireRowVector("gradOutput", gradOutput.count, rows: groups)
        try Validation.requireRowVector("result.values", result.values.count, rows: groups)
        if operation == .max || operation == .min { try Validation.requireRowVector("result.indices", result.indices.count, rows: groups) }
        if checkFinite {
            try Validation.requireFinite("input", input.values)
            try Validation.requireFinite("gradOutput", gradOutput)
        }
        var output = Matrix(rows: input.rows, columns: input.columns, repeating: 0)
        guard input.count > 0 else { return output }
        let code: Int32
        switch operation {
        case .sum: code = 0
        case .mean: code = 1
        case .l2Norm: code = 2
        case .max, .min, .argmax: code = 3
        case .logSumExp: code = 4
        }
        let axisCode: Int32 = axis == .all ? 0 : (axis == .rows ? 1 : 2)
        try input.values.withUnsafeBufferPointer { x in
            try gradOutput.withUnsafeBufferPointer { g in
                try output.values.withUnsafeMutableBufferPointer { dz in
                    _ = try scheduler.run(elements: 2 * input.count, cpu: {
                        CPUReductions.backward(operation, axis, x.baseAddress!, rows: input.rows, columns: input.columns, result: result, gradOutput: g.baseAddress!, dz.baseAddress!, threads: scheduler.threads)
                    }, opencl: { device in
                        let xb = try device.upload(x), gb = try device.upload(g)
                        let values = try result.values.withUnsafeBufferPointer { try device.upload($0) }
                        let indices = try (result.indices.isEmpty ? [UInt64](repeating: 0, count: groups) : result.indices.map { UInt64($0) }).withUnsafeBufferPointer { try device.upload($0) }
                        let out = try device.makeBuffer(count: input.count)
                        try device.launch("lk_reduce_backward", try device.kernel("lk_reduce_backward"), global: [min(input.count, 1 << 20)], local: nil,
                                          [.buffer(xb), .uint64(input.rows), .uint64(input.columns), .int32(axisCode), .int32(code), .buffer(values), .buffer(indices), .buffer(gb), .buffer(out)])
                        try device.read(out, into: UnsafeMutableRawBufferPointer(dz))
                    })
                }
            }
        }
        return output
    }

    static func groupCount(_ axis: ReductionAxis, rows: Int, columns: Int) -> Int {
        switch axis {
        case .all: return 1
        case .rows: return rows
        case .columns: return columns
        }
    }

    static func groupSize(_ axis: ReductionAxis, rows: Int, columns: Int) -> Int {
        switch axis {
        case .all: return rows * columns
        case .rows: return columns
        case .columns: return rows
        }
    }
}
