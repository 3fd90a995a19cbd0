/// Margin-softmax heads on an OpenCL device: the CPU path's class-tiled algorithm
/// (CPUMarginSoftmax) with CLBlast GEMMs and the epilogues of Kernels/margin_head.cl.
/// Callers hold the device's exclusive access. Returns the per-row losses.
enum OpenCLMarginSoftmax {
    static func run(
        _ device: OpenCLDevice, _ p: MarginSoftmaxProblem, features x: OpenCLBuffer, classWeights w: OpenCLBuffer,
        gradFeatures dX: OpenCLBuffer, gradWeights dW: OpenCLBuffer
    ) throws -> [Double] {
        _ = try CLBlast.shared.get()
        let (b, d, c) = (p.rows, p.dimension, p.classes)
        let kindCode = p.head.kind.code
        let h = p.head
        let params = SIMD8<Float>(h.scale, h.margin, h.m1, h.m2, h.m3, h.lambda, h.easyMargin ? 1 : 0, h.gradient == .detached ? 1 : 0)
        let useWeightNorm: Int32 = p.amplitudeUsesWeightNorm ? 1 : 0

        let xhat = try device.makeBuffer(count: b * d), featureNorms = try device.makeBuffer(count: b)
        try device.launch(
            "lk_head_normalize_rows", try device.kernel("lk_head_normalize_rows"), global: [b], local: nil,
            [.buffer(x), .uint64(b), .uint64(d), .buffer(xhat), .buffer(featureNorms)])
        let weightNorms = try device.makeBuffer(count: c), inverse = try device.makeBuffer(count: c), columnScale = try device.makeBuffer(count: c)
        try device.launch(
            "lk_head_class_norms", try device.kernel("lk_head_class_norms"), global: [c], local: nil,
            [.buffer(w), .uint64(c), .uint64(d), .int32(useWeightNorm), .buffer(weightNorms), .buffer(inverse), .buffer(columnScale)])
        var hostFeatureNorms = [Float](repeating: 0, count: b)
        try hostFeatureNorms.withUnsafeMutableBytes { try device.read(featureNorms, into: $0) }
        let amplitudes = hostFeatureNorms.map { p.amplitude(rowNorm: $0) }
        let amplitude = try amplitudes.withUnsafeBufferPointer { try device.upload($0) }
        let labels = try p.labels.map { Int64($0) }.withUnsafeBufferPointer { try device.upload($0) }
        let rowScale = try p.rowScale.withUnsafeBufferPointer { try device.upload($0) }
        let targetLogit = try device.makeBuffer(count: b), targetDerivative = try device.makeBuffer(count: b)
        let running = try device.makeBuffer(count: b, elementSize: 8)
        let tile = try device.makeBuffer(count: b * p.tileColumns)
        let gradNormalized = try device.makeBuffer(count: b * d)
        let logitsKernel = try device.kernel("lk_head_logits")

        func logits(_ start: Int, _ n: Int, record: Bool) throws {
            try CLBlast.gemm(
                device, transposeA: false, transposeB: true, m: b, n: n, k: d, a: xhat, lda: d, b: w, bOffset: start * d, ldb: d, beta: 0, c: tile, ldc: n)
            try device.launch(
                "lk_head_logits", logitsKernel, global: [min(n, 1024), b], local: nil,
                [
                    .buffer(tile), .uint64(n), .uint64(start), .buffer(inverse), .buffer(weightNorms), .buffer(amplitude), .int32(useWeightNorm),
                    .buffer(labels), .int32(kindCode), .float8(params), .int32(record ? 1 : 0), .buffer(targetLogit), .buffer(targetDerivative),
                ])
        }

        // Pass 1: statistics.
        for t in 0..<p.tiles {
            let start = t * p.tileColumns, n = min(c, start + p.tileColumns) - start
            try logits(start, n, record: true)
            let (tileStates, _) = try OpenCLSoftmax.statistics(device, tile, rows: b, columns: n, lse: nil)
            try device.launch(
                "lk_head_merge_states", try device.kernel("lk_head_merge_states"), global: [b], local: nil,
                [.buffer(running), .buffer(tileStates), .uint64(b), .int32(t == 0 ? 1 : 0)])
        }
        var states = [SIMD2<Float>](repeating: .zero, count: b), targets = [Float](repeating: 0, count: b)
        try states.withUnsafeMutableBytes { try device.read(running, into: $0) }
        try targets.withUnsafeMutableBytes { try device.read(targetLogit, into: $0) }
        let losses = (0..<b).map { i -> Double in
            let state = SoftmaxRowState(deviceMax: states[i].x, sum: states[i].y)
            return state.isRegular ? Double(state.logSumExp) - Double(targets[i]) : .nan
        }

        // Pass 2: gradients.
        var rowGz = [Double](repeating: 0, count: b)
        for t in 0..<p.tiles {
            let start = t * p.tileColumns, n = min(c, start + p.tileColumns) - start
            if p.tiles > 1 { try logits(start, n, record: false) }
            if p.amplitudeUsesFeatureNorm {
                let kernel = try device.kernel("lk_head_row_gz_partial")
                let wg = device.workGroupSize(kernel, localBytesPerItem: 4)
                let plan = OpenCLSoftmax.RowPlan(device: device, rows: b, columns: n, workGroupSize: wg)
                let partials = try device.makeBuffer(count: b * plan.chunks), sums = try device.makeBuffer(count: b)
                try device.launch(
                    "lk_head_row_gz_partial", kernel, global: [plan.chunks * wg, b], local: [wg, 1],
                    [
                        .buffer(tile), .uint64(n), .uint64(plan.chunkLength), .uint64(start), .buffer(running), .buffer(labels), .buffer(partials),
                        .local(4 * wg),
                    ])
                try device.launch(
                    "lk_row_partials_sum", try device.kernel("lk_row_partials_sum"), global: [b], local: nil,
                    [.buffer(partials), .uint64(plan.chunks), .uint64(b), .buffer(sums)])
                var tileSums = [Float](repeating: 0, count: b)
                try tileSums.withUnsafeMutableBytes { try device.read(sums, into: $0) }
                for i in 0..<b { rowGz[i] += Double(p.rowScale[i]) * Double(tileSums[i]) }
            }
            var columnGz: OpenCLBuffer? = nil
            if p.amplitudeUsesWeightNorm {
                let sums = try device.makeBuffer(count: n)
                try device.launch(
                    "lk_head_column_gz", try device.kernel("lk_head_column_gz"), global: [n], local: nil,
                    [.buffer(tile), .uint64(b), .uint64(n), .uint64(start), .buffer(running), .buffer(labels), .buffer(rowScale), .buffer(sums)])
                columnGz = sums
            }
            try device.launch(
                "lk_head_gradient", try device.kernel("lk_head_gradient"), global: [min(n, 1024), b], local: nil,
                [
                    .buffer(tile), .uint64(n), .uint64(start), .buffer(running), .buffer(rowScale), .buffer(amplitude), .buffer(columnScale),
                    .buffer(labels), .buffer(targetDerivative),
                ])
            try CLBlast.gemm(
                device, transposeA: false, transposeB: false, m: b, n: d, k: n, a: tile, lda: n, b: w, bOffset: start * d, ldb: d,
                beta: t == 0 ? 0 : 1, c: gradNormalized, ldc: d)
            try CLBlast.gemm(
                device, transposeA: true, transposeB: false, m: n, n: d, k: b, a: tile, lda: n, b: xhat, ldb: d,
                beta: 0, c: dW, cOffset: start * d, ldc: d)
            try device.launch(
                "lk_head_fix_weight_gradient", try device.kernel("lk_head_fix_weight_gradient"), global: [n], local: nil,
                [
                    .buffer(dW), .buffer(w), .uint64(start), .uint64(n), .uint64(d), .buffer(weightNorms), .buffer(inverse),
                    .buffer(columnGz ?? weightNorms), .int32(columnGz == nil ? 0 : 1),
                ])
        }
        let s2 = (0..<b).map { i -> Float in
            p.amplitudeUsesFeatureNorm && hostFeatureNorms[i] > 0 ? Float(rowGz[i] / Double(hostFeatureNorms[i])) : 0
        }
        let s2Buffer = try s2.withUnsafeBufferPointer { try device.upload($0) }
        try device.launch(
            "lk_head_finish_feature_gradient", try device.kernel("lk_head_finish_feature_gradient"), global: [b], local: nil,
            [.buffer(gradNormalized), .buffer(xhat), .buffer(featureNorms), .buffer(s2Buffer), .buffer(running), .uint64(b), .uint64(d), .buffer(dX)])
        return losses
    }
}
