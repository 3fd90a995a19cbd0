import Foundation

/// Margin-softmax heads on the CPU, class-tiled (NOTES.md has the derivation):
///
/// Pass 1, per tile of classes: `raw = X̂·W_tᵀ` (BLAS), then per row the cosine logits
/// `z = α_i·β_j·clamp(raw·(1/‖w_j‖), −1, 1)` with the target's margin, and the row's online-softmax
/// state merged block by block. Pass 2, per tile (the logits recomputed when there are several
/// tiles): `E_ij = r_i·α_i·β_j·F'_ij·(p_ij − [j=y_i])/‖w_j‖` in place, then `dX̂ += E·W_t` and
/// `dW_t = Eᵀ·X̂` (BLAS), and each `dW_j` projected orthogonally to `w_j` (its component along
/// `w_j` is `(w_j·dW_j)/‖w_j‖²`, which is the normalisation's backward). Finally
/// `dX_i = (dX̂_i − (x̂_i·dX̂_i)·x̂_i)/‖x_i‖ + S2_i·x̂_i` (S2 for the heads whose amplitude is ‖x‖).
/// The `B×C` logits are never held beyond one tile.
enum CPUMarginSoftmax {
    /// Runs one call: returns the per-row losses, writes ∂L/∂X (`B×D`) and ∂L/∂W (`C×D`);
    /// `tile` holds `B × p.tileColumns` floats.
    static func run(
        _ p: MarginSoftmaxProblem, features x: UnsafePointer<Float>, classWeights w: UnsafePointer<Float>,
        gradFeatures dX: UnsafeMutablePointer<Float>, gradWeights dW: UnsafeMutablePointer<Float>,
        tile: UnsafeMutablePointer<Float>, threads: CPUThreads
    ) -> [Double] {
        let step = CPUMarginSoftmaxStep(p, features: x, classWeights: w, threads: threads)
        for t in 0..<p.tiles {
            let (start, end) = step.tileRange(t)
            step.logits(start, end, into: tile, recordTargets: true)
            step.mergeStatistics(of: tile, columns: end - start)
        }
        let losses = step.finishStatistics()
        for t in 0..<p.tiles {
            let (start, end) = step.tileRange(t)
            if p.tiles > 1 { step.logits(start, end, into: tile, recordTargets: false) }
            step.gradients(tile, start, end, firstTile: t == 0, gradWeights: dW)
        }
        step.finishFeatureGradient(into: dX)
        return losses
    }
}

/// The state of one CPU margin-softmax call between its passes: norms and amplitudes, the rows'
/// online-softmax states and target terms, and the accumulated ∂L/∂X̂.
final class CPUMarginSoftmaxStep {
    let p: MarginSoftmaxProblem
    let x: UnsafePointer<Float>
    let w: UnsafePointer<Float>
    let threads: CPUThreads
    var featureNorm: [Float], amplitude: [Float]
    /// x̂, `B×D`.
    var normalized: [Float]
    /// 1/max(‖w_j‖, 1e-12), and ‖w_j‖ itself for largeMargin's amplitude.
    var inverseNorm: [Float], weightNorm: [Float]
    /// The per-column factor of E: β_j/‖w_j‖ (β_j = ‖w_j‖ for largeMargin, else 1).
    let gradientColumnScale: [Float]
    var states: [SoftmaxRowState]
    var targetCosine: [Float], targetLogit: [Float], targetDerivative: [Float]
    var logSumExp: [Float]
    var gradNormalized: [Float]
    /// Σ_j G_ij·z_ij per row, for S2.
    var rowGz: [Double]

    init(_ p: MarginSoftmaxProblem, features x: UnsafePointer<Float>, classWeights w: UnsafePointer<Float>, threads: CPUThreads) {
        let (b, d, c) = (p.rows, p.dimension, p.classes)
        (self.p, self.x, self.w, self.threads) = (p, x, w, threads)
        // Feature norms, x̂, amplitudes.
        featureNorm = [Float](repeating: 0, count: b)
        amplitude = [Float](repeating: 0, count: b)
        normalized = [Float](repeating: 0, count: b * d)
        for i in 0..<b {
            let u = Float(RowLoops.sumOfSquares(x + i * d, d).squareRoot())
            featureNorm[i] = u
            amplitude[i] = p.amplitude(rowNorm: u)
            let inverse = 1 / max(u, 1e-12)
            for k in 0..<d { normalized[i * d + k] = x[i * d + k] * inverse }
        }
        // Class norms.
        var inverseNorm = [Float](repeating: 0, count: c), weightNorm = [Float](repeating: 0, count: c)
        inverseNorm.withUnsafeMutableBufferPointer { inv in
            weightNorm.withUnsafeMutableBufferPointer { nrm in
                let invP = SendablePointer(base: inv.baseAddress!), nrmP = SendablePointer(base: nrm.baseAddress!)
                threads.forEachRange(c) { range in
                    for j in range {
                        let v = Float(RowLoops.sumOfSquares(w + j * d, d).squareRoot())
                        nrmP.base[j] = v
                        invP.base[j] = 1 / max(v, 1e-12)
                    }
                }
            }
        }
        (self.inverseNorm, self.weightNorm) = (inverseNorm, weightNorm)
        gradientColumnScale = p.amplitudeUsesWeightNorm ? zip(weightNorm, inverseNorm).map { $0 * $1 } : inverseNorm
        states = [SoftmaxRowState](repeating: SoftmaxRowState(), count: b)
        targetCosine = [Float](repeating: 0, count: b)
        targetLogit = [Float](repeating: 0, count: b)
        targetDerivative = [Float](repeating: 0, count: b)
        logSumExp = [Float](repeating: 0, count: b)
        gradNormalized = [Float](repeating: 0, count: b * d)
        rowGz = [Double](repeating: 0, count: b)
    }

    /// The classes of tile `t`.
    func tileRange(_ t: Int) -> (start: Int, end: Int) {
        let start = t * p.tileColumns
        return (start, min(p.classes, start + p.tileColumns))
    }

    /// Fills `tile` with the logits of classes `start..<end` for every row; records the targets'
    /// cosine, logit and margin derivative when `recordTargets`.
    func logits(_ start: Int, _ end: Int, into tile: UnsafeMutablePointer<Float>, recordTargets: Bool) {
        let (b, d, n) = (p.rows, p.dimension, end - start)
        let p = self.p, head = p.head, amplitude = self.amplitude
        normalized.withUnsafeBufferPointer { xh in
            BLAS.gemm(transposeA: false, transposeB: true, m: b, n: n, k: d, a: xh.baseAddress!, lda: d, b: w + start * d, ldb: d, beta: 0, c: tile, ldc: n)
        }
        let t = SendablePointer(base: tile)
        inverseNorm.withUnsafeBufferPointer { inv in
            weightNorm.withUnsafeBufferPointer { nrm in
                targetCosine.withUnsafeMutableBufferPointer { tc in
                    targetLogit.withUnsafeMutableBufferPointer { tl in
                        targetDerivative.withUnsafeMutableBufferPointer { td in
                            let tcP = SendablePointer(base: tc.baseAddress!), tlP = SendablePointer(base: tl.baseAddress!),
                                tdP = SendablePointer(base: td.baseAddress!)
                            threads.forEachRange(b) { range in
                                for i in range {
                                    let row = t.base + i * n
                                    let y = p.labels[i]
                                    var rawTarget: Float = 0
                                    if (start..<end).contains(y) { rawTarget = row[y - start] }
                                    RowKernels.cosineLogits(
                                        row, n, inverseNorms: inv.baseAddress! + start, amplitude: amplitude[i],
                                        columnScales: p.amplitudeUsesWeightNorm ? nrm.baseAddress! + start : nil, row)
                                    if (start..<end).contains(y) {
                                        let cosine = Double(min(max(rawTarget * inv[y], -1), 1))
                                        let (f, df) = head.target(cosine)
                                        let beta = p.amplitudeUsesWeightNorm ? Double(nrm[y]) : 1
                                        let z = Float(Double(amplitude[i]) * beta * f)
                                        row[y - start] = z
                                        if recordTargets {
                                            tcP.base[i] = Float(cosine)
                                            tlP.base[i] = z
                                            tdP.base[i] = Float(df)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Pass 1: merges each row's block statistics of the tile into its online-softmax state.
    func mergeStatistics(of tile: UnsafeMutablePointer<Float>, columns n: Int) {
        let t = SendablePointer(base: tile)
        states.withUnsafeMutableBufferPointer { st in
            let s = SendablePointer(base: st.baseAddress!)
            threads.forEachRange(p.rows) { range in
                for i in range {
                    var offset = 0
                    while offset < n {
                        let len = min(CPUSoftmax.blockLength, n - offset)
                        let (m, sum) = RowKernels.blockStats(t.base + i * n + offset, len)
                        s.base[i].merge(blockMax: m, blockSum: sum)
                        offset += len
                    }
                }
            }
        }
    }

    /// After pass 1: each row's logSumExp and loss `lse − z_y` (NaN for an irregular row).
    func finishStatistics() -> [Double] {
        var losses = [Double](repeating: 0, count: p.rows)
        for i in 0..<p.rows {
            logSumExp[i] = states[i].logSumExp
            losses[i] = Double(logSumExp[i]) - Double(targetLogit[i])
            if !states[i].isRegular { losses[i] = .nan }
        }
        return losses
    }

    /// Pass 2 on one tile of logits: E in place, `dX̂ += E·W_t`, `dW_t = Eᵀ·X̂`, then each `dW_j`'s
    /// normalisation backward (and largeMargin's amplitude term).
    func gradients(_ tile: UnsafeMutablePointer<Float>, _ start: Int, _ end: Int, firstTile: Bool, gradWeights dW: UnsafeMutablePointer<Float>) {
        let (b, d, n) = (p.rows, p.dimension, end - start)
        var columnGz = p.amplitudeUsesWeightNorm ? columnSums(tile, columns: n, start: start) : []
        writeE(tile, start, end)
        normalized.withUnsafeBufferPointer { xh in
            gradNormalized.withUnsafeMutableBufferPointer { g in
                BLAS.gemm(
                    transposeA: false, transposeB: false, m: b, n: d, k: n, a: tile, lda: n, b: w + start * d, ldb: d, beta: firstTile ? 0 : 1,
                    c: g.baseAddress!, ldc: d)
            }
            BLAS.gemm(transposeA: true, transposeB: false, m: n, n: d, k: b, a: tile, lda: n, b: xh.baseAddress!, ldb: d, beta: 0, c: dW + start * d, ldc: d)
        }
        projectWeightGradient(dW, start, n, columnGz: &columnGz)
    }

    /// `E_ij = r_i·α_i·β_j·F'_ij·(p_ij − [j=y_i])/‖w_j‖` over the tile, in place; accumulates
    /// `Σ_j G_ij·z_ij` for the heads whose amplitude is ‖x‖.
    private func writeE(_ tile: UnsafeMutablePointer<Float>, _ start: Int, _ end: Int) {
        let (b, n) = (p.rows, end - start)
        let p = self.p, states = self.states, logSumExp = self.logSumExp, amplitude = self.amplitude, targetDerivative = self.targetDerivative
        let t = SendablePointer(base: tile)
        rowGz.withUnsafeMutableBufferPointer { rg in
            gradientColumnScale.withUnsafeBufferPointer { scales in
                let rgP = SendablePointer(base: rg.baseAddress!)
                threads.forEachRange(b) { range in
                    for i in range {
                        let row = t.base + i * n
                        let y = p.labels[i], r = p.rowScale[i]
                        guard states[i].isRegular else {
                            row.update(repeating: .nan, count: n)
                            continue
                        }
                        let lse = logSumExp[i]
                        if p.amplitudeUsesFeatureNorm {
                            var sum = 0.0
                            for j in 0..<n { sum += Foundation.exp(Double(row[j]) - Double(lse)) * Double(row[j]) }
                            if (start..<end).contains(y) { sum -= Double(row[y - start]) }
                            rgP.base[i] += Double(r) * sum
                        }
                        var pTarget = 0.0
                        if (start..<end).contains(y) { pTarget = Foundation.exp(Double(row[y - start]) - Double(lse)) }
                        RowKernels.expScaleColumns(row, n, max: lse, scale: r * amplitude[i], columnScales: scales.baseAddress! + start, row)
                        if (start..<end).contains(y) {
                            let e = Double(r) * Double(amplitude[i]) * Double(scales[y]) * Double(targetDerivative[i]) * (pTarget - 1)
                            row[y - start] = Float(e)
                        }
                    }
                }
            }
        }
    }

    /// dW_j: removes the component along w_j; largeMargin adds its amplitude term.
    private func projectWeightGradient(_ dW: UnsafeMutablePointer<Float>, _ start: Int, _ n: Int, columnGz: inout [Float]) {
        let d = p.dimension, w = self.w, usesWeightNorm = p.amplitudeUsesWeightNorm
        let out = SendablePointer(base: dW)
        weightNorm.withUnsafeBufferPointer { nrm in
            inverseNorm.withUnsafeBufferPointer { inv in
                columnGz.withUnsafeMutableBufferPointer { cg in
                    let cgP = usesWeightNorm ? cg.baseAddress.map { SendablePointer(base: $0) } : nil
                    threads.forEachRange(n) { range in
                        for jj in range {
                            let j = start + jj
                            let g = out.base + j * d, wj = w + j * d
                            var kappa = 0.0
                            if nrm[j] > 1e-12 {
                                kappa = -RowLoops.dot(wj, UnsafePointer(g), d) * Double(inv[j]) * Double(inv[j])
                            }
                            if let cgP, nrm[j] > 0 {
                                // T2_j·ŵ_j with T2_j = Σ_i G_ij·z_ij/‖w_j‖.
                                kappa += Double(cgP.base[jj]) / Double(nrm[j]) * Double(inv[j])
                            }
                            if kappa != 0 {
                                let k = Float(kappa)
                                for e in 0..<d { g[e] += k * wj[e] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// dX_i = (g_i − (x̂_i·g_i)·x̂_i)/max(‖x_i‖, 1e-12) + S2_i·x̂_i.
    func finishFeatureGradient(into dX: UnsafeMutablePointer<Float>) {
        let d = p.dimension
        for i in 0..<p.rows {
            let u = featureNorm[i]
            let xh = normalized.withUnsafeBufferPointer { $0.baseAddress! + i * d }
            let g = gradNormalized.withUnsafeBufferPointer { $0.baseAddress! + i * d }
            let projection = u > 1e-12 ? RowLoops.dot(xh, g, d) : 0
            let s2 = p.amplitudeUsesFeatureNorm && u > 0 ? rowGz[i] / Double(u) : 0
            let inverse = 1 / Double(max(u, 1e-12))
            for k in 0..<d {
                dX[i * d + k] = Float((Double(g[k]) - projection * Double(xh[k])) * inverse + s2 * Double(xh[k]))
            }
            if !states[i].isRegular { for k in 0..<d { dX[i * d + k] = .nan } }
        }
    }

    /// Column sums Σ_i G_ij·z_ij of one tile of logits (largeMargin's weight-norm term), in fixed
    /// row order: deterministic.
    private func columnSums(_ tile: UnsafeMutablePointer<Float>, columns n: Int, start: Int) -> [Float] {
        var sums = [Double](repeating: 0, count: n)
        for i in 0..<p.rows where logSumExp[i].isFinite {
            let row = tile + i * n, r = Double(p.rowScale[i]), lse = Double(logSumExp[i])
            for j in 0..<n {
                let z = Double(row[j])
                sums[j] += r * (Foundation.exp(z - lse) - (start + j == p.labels[i] ? 1 : 0)) * z
            }
        }
        return sums.map { Float($0) }
    }
}
