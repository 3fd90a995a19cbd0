/// Reductions on an OpenCL device (Kernels/reduce.cl; logSumExp through the softmax statistics),
/// forward and backward. Callers hold the device's exclusive access.
enum OpenCLReductions {
    /// Returns the reduced values (and winning indices) on the host.
    static func reduce(_ device: OpenCLDevice, _ op: ReductionOperation, _ axis: ReductionAxis, _ x: OpenCLBuffer, rows: Int, columns: Int) throws
        -> ReductionResult
    {
        let (groups, length) = axis == .columns ? (columns, rows) : (axis == .all ? (1, rows * columns) : (rows, columns))
        let values = try device.scratch("reduce.values", count: groups)
        let indices = try device.scratch("reduce.indices", count: groups, elementSize: 8)
        let code = op.forwardCode
        if axis == .columns {
            try device.launch(
                "lk_reduce_columns", global: [columns],
                [.buffer(x), .uint64(rows), .uint64(columns), .int32(code), .buffer(values), .buffer(indices)])
        } else if op == .logSumExp {
            try OpenCLSoftmax.logSumExp(device, x, rows: groups, columns: length, into: values)
        } else {
            let partialKernel = try device.kernel("lk_reduce_rows_partial")
            let widest = device.workGroupSize(partialKernel, localBytesPerItem: 12)
            let plan = OpenCLSoftmax.RowPlan(device: device, rows: groups, columns: length, workGroupSize: widest)
            let wg = plan.workGroupSize
            let partialValues = try device.scratch("reduce.partialValues", count: groups * plan.chunks)
            let partialIndices = try device.scratch("reduce.partialIndices", count: groups * plan.chunks, elementSize: 8)
            try device.launch(
                "lk_reduce_rows_partial", partialKernel, global: [plan.chunks * wg, groups], local: [wg, 1],
                [
                    .buffer(x), .uint64(groups), .uint64(length), .uint64(plan.chunkLength), .uint64(plan.chunks), .int32(code), .buffer(partialValues),
                    .buffer(partialIndices), .local(4 * wg), .local(8 * wg),
                ])
            try device.launch(
                "lk_reduce_rows_merge", global: [groups],
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

    /// The gradient with respect to `x` of a reduction given its forward result and one upstream
    /// value per group (`gradOutput`), into `dz` (`rows × columns`). One work-item per element,
    /// columns in dimension 0 and rows in dimension 1.
    static func backward(
        _ device: OpenCLDevice, _ op: ReductionOperation, _ axis: ReductionAxis, _ x: OpenCLBuffer, rows: Int, columns: Int,
        result: ReductionResult, gradOutput: OpenCLBuffer, into dz: OpenCLBuffer
    ) throws {
        let groups = result.values.count
        let values = try device.staged(result.values, role: "reduceBackward.values")
        let indices = try device.staged(
            result.indices.isEmpty ? [UInt64](repeating: 0, count: groups) : result.indices.map { UInt64($0) }, role: "reduceBackward.indices")
        try device.launch(
            "lk_reduce_backward", global: [columns, rows],
            [
                .buffer(x), .uint64(rows), .uint64(columns), .int32(axis.code), .int32(op.backwardCode), .buffer(values), .buffer(indices),
                .buffer(gradOutput), .buffer(dz),
            ])
    }
}
