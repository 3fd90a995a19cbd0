/// Reductions on an OpenCL device (Kernels/reduce.cl; logSumExp through the softmax statistics).
/// Returns host values; callers hold the device's exclusive access.
enum OpenCLReductions {
    static func reduce(_ device: OpenCLDevice, _ op: ReductionOperation, _ axis: ReductionAxis, _ x: OpenCLBuffer, rows: Int, columns: Int) throws -> ReductionResult {
        let (groups, length) = axis == .columns ? (columns, rows) : (axis == .all ? (1, rows * columns) : (rows, columns))
        let values = try device.makeBuffer(count: groups)
        let indices = try device.makeBuffer(count: groups, elementSize: 8)
        let code: Int32
        switch op {
        case .sum, .mean: code = 0
        case .l2Norm: code = 1
        case .max: code = 2
        case .min: code = 3
        case .argmax: code = 4
        case .logSumExp: code = 5
        }
        if axis == .columns {
            try device.launch("lk_reduce_columns", try device.kernel("lk_reduce_columns"), global: [columns], local: nil,
                              [.buffer(x), .uint64(rows), .uint64(columns), .int32(code), .buffer(values), .buffer(indices)])
        } else if op == .logSumExp {
            try OpenCLSoftmax.logSumExp(device, x, rows: groups, columns: length, into: values)
        } else {
            let partialKernel = try device.kernel("lk_reduce_rows_partial")
            let wg = device.workGroupSize(partialKernel, localBytesPerItem: 12)
            let plan = OpenCLSoftmax.RowPlan(device: device, rows: groups, columns: length, workGroupSize: wg)
            let partialValues = try device.makeBuffer(count: groups * plan.chunks)
            let partialIndices = try device.makeBuffer(count: groups * plan.chunks, elementSize: 8)
            try device.launch("lk_reduce_rows_partial", partialKernel, global: [plan.chunks * wg, groups], local: [wg, 1],
                              [.buffer(x), .uint64(length), .uint64(plan.chunkLength), .int32(code), .buffer(partialValues), .buffer(partialIndices), .local(4 * wg), .local(8 * wg)])
            try device.launch("lk_reduce_rows_merge", try device.kernel("lk_reduce_rows_merge"), global: [groups], local: nil,
                              [.buffer(partialValues), .buffer(partialIndices), .uint64(plan.chunks), .uint64(groups), .int32(code), .buffer(values), .buffer(indices)])
        }
        var hostValues = [Float](repeating: 0, count: groups)
        try hostValues.withUnsafeMutableBytes { try device.read(values, into: $0) }
        switch op {
        case .mean: hostValues = hostValues.map { $0 / Float(length) }
        case .l2Norm: hostValues = hostValues.map { $0.squareRoot() }
        default: break
        }
        guard op == .max || op == .min || op == .argmax else { return ReductionResult(values: hostValues) }
        var hostIndices = [UInt64](repeating: 0, count: groups)
        try hostIndices.withUnsafeMutableBytes { try device.read(indices, into: $0) }
        return ReductionResult(values: hostValues, indices: hostIndices.map { Int($0) })
    }
}
