/// Margin-softmax heads on an OpenCL device: the CPU path's class-tiled algorithm
/// (CPUMarginSoftmax) with CLBlast GEMMs and the epilogues of Kernels/margin_head.cl.
///
/// Everything a step needs stays on the device: the feature norms and amplitudes, the running
/// softmax states, the target logits and derivatives, and the S2 sums of sphereFace and
/// largeMargin. The host waits once, when it reads the per-row results (with ∂L/∂X in the
/// training step). Scratch buffers come from the device's pool, so a warm call allocates
/// nothing. Callers hold the device's exclusive access.
enum OpenCLMarginSoftmax {
    /// Floats per row of the row results: the row's softmax state (m, s), then its target logit.
    /// The results of `rows` rows are laid out as the `2·rows` state values, then the `rows`
    /// target logits.
    static let rowResultFloats = 3

    /// Runs the head on device buffers, reads the row results back, and returns the per-row losses.
    static func run(
        _ device: OpenCLDevice, _ p: MarginSoftmaxProblem, features x: OpenCLBuffer, classWeights w: OpenCLBuffer,
        gradFeatures dX: OpenCLBuffer, gradWeights dW: OpenCLBuffer
    ) throws -> [Double] {
        let results = try device.scratch("head.rowResults", count: p.rows * rowResultFloats)
        try enqueue(device, p, features: x, classWeights: w, gradFeatures: dX, gradWeights: dW, rowResults: results, at: 0)
        var host = [Float](repeating: 0, count: p.rows * rowResultFloats)
        try host.withUnsafeMutableBytes { try device.read(results, into: $0) }
        return host.withUnsafeBufferPointer { losses(p, rowResults: $0) }
    }

    /// The per-row losses from the row results: logSumExp − target logit, NaN where the row's
    /// softmax is undefined (as the CPU path).
    static func losses(_ p: MarginSoftmaxProblem, rowResults r: UnsafeBufferPointer<Float>) -> [Double] {
        let b = p.rows
        return (0..<b).map { i -> Double in
            let state = SoftmaxRowState(deviceMax: r[2 * i], sum: r[2 * i + 1])
            return state.isRegular ? Double(state.logSumExp) - Double(r[2 * b + i]) : .nan
        }
    }

    /// Enqueues the whole head without waiting: ∂L/∂X into `dX` (B×D, from its start), ∂L/∂W into
    /// `dW` (C×D), and the row results (`rowResultFloats` per row) into `rowResults` from float
    /// `offset` on. The labels and row scales are staged uploads.
    static func enqueue(
        _ device: OpenCLDevice, _ p: MarginSoftmaxProblem, features x: OpenCLBuffer, classWeights w: OpenCLBuffer,
        gradFeatures dX: OpenCLBuffer, gradWeights dW: OpenCLBuffer, rowResults: OpenCLBuffer, at offset: Int
    ) throws {
        _ = try CLBlast.shared.get()
        let (b, d, c) = (p.rows, p.dimension, p.classes)
        let kindCode = p.head.kind.code
        let h = p.head
        let params = SIMD8<Float>(h.scale, h.margin, h.m1, h.m2, h.m3, h.lambda, h.easyMargin ? 1 : 0, h.gradient == .detached ? 1 : 0)
        let useWeightNorm: Int32 = p.amplitudeUsesWeightNorm ? 1 : 0

        let labels = try device.scratch("head.labels", count: b, elementSize: 8)
        try p.labels.map { Int64($0) }.withUnsafeBufferPointer { try device.stage($0, into: labels, role: "head.labels") }
        let rowScale = try device.scratch("head.rowScale", count: b)
        try p.rowScale.withUnsafeBufferPointer { try device.stage($0, into: rowScale, role: "head.rowScale") }

        let xhat = try device.scratch("head.xhat", count: b * d)
        let featureNorms = try device.scratch("head.featureNorms", count: b), amplitude = try device.scratch("head.amplitude", count: b)
        let rowGroup = try groupSize(device, "lk_head_normalize_rows", dimension: d)
        try device.launch(
            "lk_head_normalize_rows", global: [b * rowGroup], local: [rowGroup],
            [
                .buffer(x), .uint64(b), .uint64(d), .int32(kindCode), .float(h.scale), .buffer(xhat), .buffer(featureNorms), .buffer(amplitude),
                .local(4 * rowGroup),
            ])
        let weightNorms = try device.scratch("head.weightNorms", count: c), inverse = try device.scratch("head.inverse", count: c)
        let columnScale = try device.scratch("head.columnScale", count: c)
        let classGroup = try groupSize(device, "lk_head_class_norms", dimension: d)
        try device.launch(
            "lk_head_class_norms", global: [c * classGroup], local: [classGroup],
            [
                .buffer(w), .uint64(c), .uint64(d), .int32(useWeightNorm), .buffer(weightNorms), .buffer(inverse), .buffer(columnScale),
                .local(4 * classGroup),
            ])
        let targetLogit = try device.scratch("head.targetLogit", count: b), targetDerivative = try device.scratch("head.targetDerivative", count: b)
        let running = try device.scratch("head.running", count: b, elementSize: 8)
        let tile = try device.scratch("head.tile", count: b * p.tileColumns)
        let gradNormalized = try device.scratch("head.gradNormalized", count: b * d)
        let rowGz = try device.scratch("head.rowGz", count: b, elementSize: 8)

        func logits(_ start: Int, _ n: Int, record: Bool) throws {
            try CLBlast.gemm(
                device, transposeA: false, transposeB: true, m: b, n: n, k: d, a: xhat, lda: d, b: w, bOffset: start * d, ldb: d, beta: 0, c: tile, ldc: n)
            try device.launch(
                "lk_head_logits", global: [n, b],
                [
                    .buffer(tile), .uint64(b), .uint64(n), .uint64(start), .buffer(inverse), .buffer(weightNorms), .buffer(amplitude),
                    .int32(useWeightNorm), .buffer(labels), .int32(kindCode), .float8(params), .int32(record ? 1 : 0), .buffer(targetLogit),
                    .buffer(targetDerivative),
                ])
        }

        // Pass 1: statistics.
        for t in 0..<p.tiles {
            let start = t * p.tileColumns, n = min(c, start + p.tileColumns) - start
            try logits(start, n, record: true)
            let (tileStates, _) = try OpenCLSoftmax.statistics(device, tile, rows: b, columns: n, lse: nil)
            try device.launch(
                "lk_head_merge_states", global: [b], [.buffer(running), .buffer(tileStates), .uint64(b), .int32(t == 0 ? 1 : 0)])
        }

        // Pass 2: gradients.
        for t in 0..<p.tiles {
            let start = t * p.tileColumns, n = min(c, start + p.tileColumns) - start
            if p.tiles > 1 { try logits(start, n, record: false) }
            if p.amplitudeUsesFeatureNorm {
                let kernel = try device.kernel("lk_head_row_gz_partial")
                let widest = device.workGroupSize(kernel, localBytesPerItem: 4)
                let plan = OpenCLSoftmax.RowPlan(device: device, rows: b, columns: n, workGroupSize: widest)
                let wg = plan.workGroupSize
                let partials = try device.scratch("head.rowGzPartials", count: b * plan.chunks)
                try device.launch(
                    "lk_head_row_gz_partial", kernel, global: [plan.chunks * wg, b], local: [wg, 1],
                    [
                        .buffer(tile), .uint64(b), .uint64(n), .uint64(plan.chunkLength), .uint64(plan.chunks), .uint64(start), .buffer(running),
                        .buffer(labels), .buffer(partials), .local(4 * wg),
                    ])
                try device.launch(
                    "lk_head_row_gz_merge", global: [b],
                    [.buffer(partials), .uint64(plan.chunks), .uint64(b), .buffer(rowScale), .int32(t == 0 ? 1 : 0), .buffer(rowGz)])
            }
            var columnGz: OpenCLBuffer? = nil
            if p.amplitudeUsesWeightNorm {
                let sums = try device.scratch("head.columnGz", count: n)
                try device.launch(
                    "lk_head_column_gz", global: [n],
                    [.buffer(tile), .uint64(b), .uint64(n), .uint64(start), .buffer(running), .buffer(labels), .buffer(rowScale), .buffer(sums)])
                columnGz = sums
            }
            try device.launch(
                "lk_head_gradient", global: [n, b],
                [
                    .buffer(tile), .uint64(b), .uint64(n), .uint64(start), .buffer(running), .buffer(rowScale), .buffer(amplitude), .buffer(columnScale),
                    .buffer(labels), .buffer(targetDerivative),
                ])
            try CLBlast.gemm(
                device, transposeA: false, transposeB: false, m: b, n: d, k: n, a: tile, lda: n, b: w, bOffset: start * d, ldb: d,
                beta: t == 0 ? 0 : 1, c: gradNormalized, ldc: d)
            try CLBlast.gemm(
                device, transposeA: true, transposeB: false, m: n, n: d, k: b, a: tile, lda: n, b: xhat, ldb: d,
                beta: 0, c: dW, cOffset: start * d, ldc: d)
            try device.launch(
                "lk_head_fix_weight_gradient", global: [n * classGroup], local: [classGroup],
                [
                    .buffer(dW), .buffer(w), .uint64(start), .uint64(n), .uint64(d), .buffer(weightNorms), .buffer(inverse),
                    .buffer(columnGz ?? weightNorms), .int32(columnGz == nil ? 0 : 1), .local(4 * classGroup),
                ])
        }
        try device.launch(
            "lk_head_finish_feature_gradient", global: [b * rowGroup], local: [rowGroup],
            [
                .buffer(gradNormalized), .buffer(xhat), .buffer(featureNorms), .buffer(rowGz), .int32(p.amplitudeUsesFeatureNorm ? 1 : 0),
                .buffer(running), .uint64(b), .uint64(d), .buffer(dX), .local(4 * rowGroup),
            ])
        try device.enqueueCopy(from: running, to: rowResults, destinationOffset: 4 * offset, bytes: 8 * b)
        try device.enqueueCopy(from: targetLogit, to: rowResults, destinationOffset: 4 * (offset + 2 * b), bytes: 4 * b)
    }

    /// The work-group size of a per-row or per-class kernel over `dimension` values: a power of two
    /// up to 64, no wider than the row (but at least 32, a warp). Wider groups measured slower on
    /// the H200 for D = 512 (a 256-wide tree per class for two values per work-item).
    private static func groupSize(_ device: OpenCLDevice, _ name: String, dimension: Int) throws -> Int {
        let limit = min(64, max(32, OpenCLDevice.powerOfTwo(atLeast: dimension)))
        return device.workGroupSize(try device.kernel(name), limit: limit, localBytesPerItem: 4)
    }
}
