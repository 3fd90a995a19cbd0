/// Softmax losses (cross-entropy, focal) on an OpenCL device: the device computes the per-row
/// statistics, the host turns them into losses and gradient coefficients with the same plan as
/// the CPU path, and the device writes the gradient. The per-row values come back in one read
/// (the statistics, target logits and weighted sums copied side by side on the device). Callers
/// hold the device's exclusive access.
enum OpenCLSoftmaxLoss {
    static func run(_ device: OpenCLDevice, _ loss: some RowSoftmaxLoss, _ z: OpenCLBuffer, rows: Int, columns: Int, into dz: OpenCLBuffer) throws -> [Double] {
        let (stats, _) = try OpenCLSoftmax.statistics(device, z, rows: rows, columns: columns, lse: nil)
        let labels = (0..<rows).map { Int64(loss.target($0) ?? -1) }
        let labelBuffer = try device.staged(labels, role: "softmaxLoss.labelBuffer")
        let targets = try device.scratch("softmaxLoss.targets", count: rows)
        try device.launch(
            "lk_gather_targets", global: [rows],
            [.buffer(z), .uint64(rows), .uint64(columns), .buffer(labelBuffer), .buffer(targets)])
        let weights = try loss.columnWeights.map { try device.staged($0, role: "softmaxLoss.weights") }
        // Per row, read back at once: (m, s), the target logit, the weighted logit sum.
        var pieces = [(buffer: stats, bytes: 8 * rows), (buffer: targets, bytes: 4 * rows)]
        if loss.needsWeightedLogitSum {
            let kernel = try device.kernel("lk_row_weighted_sum_partial")
            let widest = device.workGroupSize(kernel, localBytesPerItem: 4)
            let plan = OpenCLSoftmax.RowPlan(device: device, rows: rows, columns: columns, workGroupSize: widest)
            let wg = plan.workGroupSize
            let partials = try device.scratch("softmaxLoss.partials", count: rows * plan.chunks)
            let sums = try device.scratch("softmaxLoss.sums", count: rows)
            try device.launch(
                "lk_row_weighted_sum_partial", kernel, global: [plan.chunks * wg, rows], local: [wg, 1],
                [
                    .buffer(z), .buffer(weights ?? z), .int32(weights == nil ? 0 : 1), .uint64(rows), .uint64(columns), .uint64(plan.chunkLength),
                    .uint64(plan.chunks), .buffer(partials), .local(4 * wg),
                ])
            try device.launch(
                "lk_row_partials_sum", global: [rows],
                [.buffer(partials), .uint64(plan.chunks), .uint64(rows), .buffer(sums)])
            pieces.append((sums, 4 * rows))
        }
        let host = try device.readTogether(pieces, role: "softmaxLoss.rowValues", as: Float.self)

        var losses = [Double](repeating: 0, count: rows)
        var coefficients = [SIMD4<Float>](repeating: .zero, count: rows)
        var rowTargets = [Int64](repeating: -1, count: rows)
        var flags = [Int32](repeating: 0, count: rows)
        for r in 0..<rows {
            let state = SoftmaxRowState(deviceMax: host[2 * r], sum: host[2 * r + 1])
            let weightedSum = loss.needsWeightedLogitSum ? Double(host[3 * rows + r]) : 0
            let (value, plan) = loss.row(r, RowLossStatistics(state: state, targetLogit: host[2 * rows + r], weightedLogitSum: weightedSum))
            losses[r] = value
            coefficients[r] = SIMD4(plan.shift, plan.scale, plan.offset, plan.targetAdjust)
            rowTargets[r] = Int64(plan.target)
            flags[r] = plan.zero ? 1 : (plan.nan ? 2 : 0)
        }
        let coefficientBuffer = try device.staged(coefficients, role: "softmaxLoss.coefficientBuffer")
        let targetBuffer = try device.staged(rowTargets, role: "softmaxLoss.targetBuffer")
        let flagBuffer = try device.staged(flags, role: "softmaxLoss.flagBuffer")
        try device.launch(
            "lk_softmax_loss_gradient", global: [columns, rows],
            [
                .buffer(z), .uint64(rows), .uint64(columns), .buffer(coefficientBuffer), .buffer(targetBuffer), .buffer(flagBuffer),
                .buffer(weights ?? z), .int32(weights == nil ? 0 : 1), .buffer(dz),
            ])
        return losses
    }
}

extension SoftmaxRowState {
    /// The state from a device's (m, s) pair (m is NaN after a NaN, +∞ after +∞).
    init(deviceMax m: Float, sum s: Float) {
        self.init()
        if m.isNaN { sawNaN = true } else if m == .infinity { sawPositiveInfinity = true } else { max = m; sum = Double(s) }
    }
}
