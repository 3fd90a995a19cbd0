/// Cross-entropy with probability targets on an OpenCL device (Kernels/probability_cross_entropy.cl):
/// the device computes each row's softmax statistics (`OpenCLSoftmax.statistics`) and its sums
/// `A = Σ_{T'≠0} w·T'·(z − m)`, `S = Σ w·T'`; the host turns them into the losses and gradient
/// coefficients (`ProbabilityCrossEntropyLoss.row`, as the CPU path), and the device writes the
/// gradient. Callers hold the device's exclusive access.
enum OpenCLProbabilityCrossEntropy {
    static func run(
        _ device: OpenCLDevice, _ loss: ProbabilityCrossEntropyLoss, _ z: OpenCLBuffer, _ t: OpenCLBuffer, rows: Int, columns: Int,
        into dz: OpenCLBuffer
    ) throws -> [Double] {
        let (stats, _) = try OpenCLSoftmax.statistics(device, z, rows: rows, columns: columns, lse: nil)
        let weights = try loss.classWeights.map { try device.staged($0, role: "probabilityCE.weights") }
        let hasWeights: Int32 = weights == nil ? 0 : 1

        let partialKernel = try device.kernel("lk_probability_ce_partial")
        let widest = device.workGroupSize(partialKernel, localBytesPerItem: 4)
        let plan = OpenCLSoftmax.RowPlan(device: device, rows: rows, columns: columns, workGroupSize: widest)
        let wg = plan.workGroupSize
        let partials = try device.scratch("probabilityCE.partials", count: rows * plan.chunks, elementSize: 8)
        let sums = try device.scratch("probabilityCE.sums", count: rows, elementSize: 8)
        try device.launch(
            "lk_probability_ce_partial", partialKernel, global: [plan.chunks * wg, rows], local: [wg, 1],
            [
                .buffer(z), .buffer(t), .buffer(weights ?? z), .int32(hasWeights), .float(loss.keep), .float(loss.add), .buffer(stats),
                .uint64(rows), .uint64(columns), .uint64(plan.chunkLength), .uint64(plan.chunks), .buffer(partials), .local(4 * wg),
            ])
        try device.launch(
            "lk_row_pair_partials_sum", global: [rows],
            [.buffer(partials), .uint64(plan.chunks), .uint64(rows), .buffer(sums)])

        // Per row, read back at once: (m, s), then (A, S).
        let host = try device.readTogether([(stats, 8 * rows), (sums, 8 * rows)], role: "probabilityCE.rowValues", as: SIMD2<Float>.self)

        var losses = [Double](repeating: 0, count: rows)
        var coefficients = [SIMD4<Float>](repeating: .zero, count: rows)
        var nanRows = [Int32](repeating: 0, count: rows)
        for r in 0..<rows {
            let statistics = ProbabilityRowStatistics(
                state: SoftmaxRowState(deviceMax: host[r].x, sum: host[r].y),
                shiftedTargetLogits: Double(host[rows + r].x), targetMass: Double(host[rows + r].y))
            let (value, row) = loss.row(r, statistics)
            losses[r] = value
            coefficients[r] = SIMD4(row.shift, row.scale, row.targetScale, row.targetOffset)
            nanRows[r] = row.nan ? 1 : 0
        }
        let coefficientBuffer = try device.staged(coefficients, role: "probabilityCE.coefficientBuffer")
        let nanBuffer = try device.staged(nanRows, role: "probabilityCE.nanBuffer")
        try device.launch(
            "lk_probability_ce_gradient", global: [columns, rows],
            [
                .buffer(z), .buffer(t), .uint64(rows), .uint64(columns), .buffer(coefficientBuffer), .buffer(nanBuffer),
                .buffer(weights ?? z), .int32(hasWeights), .buffer(dz),
            ])
        return losses
    }
}
