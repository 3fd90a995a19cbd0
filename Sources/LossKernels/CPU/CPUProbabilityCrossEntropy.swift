import Foundation

/// Cross-entropy with probability targets on the CPU (`ProbabilityCrossEntropyLoss`). A row is cut
/// into blocks of `CPUSoftmax.blockLength` columns; per block, the softmax statistics
/// (`RowKernels.blockStats`) and, while the block is in cache, `A_b = Σ_{T'≠0} w·T'·(z − m_b)` and
/// `S_b = Σ w·T'` relative to the block's own maximum `m_b`; blocks are merged in order (the
/// online-softmax rule, and `A = Σ_b A_b + S_b·(m_b − m)`), then the gradient is written block by
/// block. Rows are spread over threads; with fewer rows than threads, a row's blocks are. The same
/// block results merged in the same order either way: deterministic for any thread count.
enum CPUProbabilityCrossEntropy {
    /// One block's contribution to its row's statistics.
    struct BlockPartial {
        var max: Float = -.infinity
        var sum: Float = 0
        /// The block's shift: its maximum when finite, else 0.
        var shift: Float = 0
        /// Σ_{T'≠0} w·T'·(z − shift) in the block.
        var shiftedTargetLogits = 0.0
        /// Σ w·T' in the block.
        var targetMass = 0.0
    }

    /// Computes every row's loss (returned) and writes ∂loss/∂z into `dz`; `z`, `t` and `dz` hold
    /// `rows × columns` values.
    static func run(
        _ loss: ProbabilityCrossEntropyLoss, _ z: UnsafePointer<Float>, _ t: UnsafePointer<Float>, rows: Int, columns: Int,
        _ dz: UnsafeMutablePointer<Float>, threads: CPUThreads
    ) -> [Double] {
        var losses = [Double](repeating: 0, count: rows)
        let blocks = CPUSoftmax.blockCount(columns), length = CPUSoftmax.blockLength
        let keep = loss.keep, add = loss.add
        loss.classWeights.withUnsafeOptionalBufferPointer { weights in
            let w = weights?.baseAddress
            losses.withUnsafeMutableBufferPointer { lossBuffer in
                let lossOut = SendablePointer(base: lossBuffer.baseAddress!), out = SendablePointer(base: dz)
                func partial(_ r: Int, _ b: Int) -> BlockPartial {
                    let start = b * length
                    return blockPartial(
                        z + r * columns + start, t + r * columns + start, w.map { $0 + start }, min(length, columns - start), keep: keep, add: add)
                }
                func writeBlock(_ plan: ProbabilityGradientRow, _ r: Int, _ b: Int) {
                    let start = b * length, offset = r * columns + start
                    writeGradient(plan, z + offset, t + offset, w.map { $0 + start }, min(length, columns - start), out.base + offset)
                }
                if rows >= threads.count || blocks == 1 {
                    threads.forEachRange(rows) { range in
                        var parts = [BlockPartial](repeating: BlockPartial(), count: blocks)
                        for r in range {
                            for b in 0..<blocks { parts[b] = partial(r, b) }
                            let (value, plan) = loss.row(r, merge(parts[...]))
                            lossOut.base[r] = value
                            for b in 0..<blocks { writeBlock(plan, r, b) }
                        }
                    }
                } else {
                    var parts = [BlockPartial](repeating: BlockPartial(), count: rows * blocks)
                    parts.withUnsafeMutableBufferPointer { buffer in
                        let p = SendablePointer(base: buffer.baseAddress!)
                        threads.forEachRange(rows * blocks) { range in
                            for item in range {
                                let (r, b) = item.quotientAndRemainder(dividingBy: blocks)
                                p.base[item] = partial(r, b)
                            }
                        }
                    }
                    var plans = [ProbabilityGradientRow](repeating: .nanRow, count: rows)
                    for r in 0..<rows {
                        let (value, plan) = loss.row(r, merge(parts[(r * blocks)..<((r + 1) * blocks)]))
                        lossOut.base[r] = value
                        plans[r] = plan
                    }
                    threads.forEachRange(rows * blocks) { range in
                        for item in range {
                            let (r, b) = item.quotientAndRemainder(dividingBy: blocks)
                            writeBlock(plans[r], r, b)
                        }
                    }
                }
            }
        }
        return losses
    }

    /// The row's statistics from its blocks, merged in block order: the softmax state, then `A`
    /// relative to the row's maximum and `S`.
    static func merge(_ parts: ArraySlice<BlockPartial>) -> ProbabilityRowStatistics {
        var state = SoftmaxRowState()
        for part in parts { state.merge(blockMax: part.max, blockSum: part.sum) }
        let m = state.isRegular ? Double(state.max) : 0
        var a = 0.0, s = 0.0
        for part in parts {
            a += part.shiftedTargetLogits - part.targetMass * (m - Double(part.shift))
            s += part.targetMass
        }
        return ProbabilityRowStatistics(state: state, shiftedTargetLogits: a, targetMass: s)
    }

    /// The statistics of one block of `n` values (`w` nil: weights 1).
    static func blockPartial(_ z: UnsafePointer<Float>, _ t: UnsafePointer<Float>, _ w: UnsafePointer<Float>?, _ n: Int, keep: Float, add: Float)
        -> BlockPartial
    {
        let (m, s) = RowKernels.blockStats(z, n)
        // A NaN or +∞ makes the row's loss NaN: its sums are not needed.
        guard !m.isNaN, m != .infinity else { return BlockPartial(max: m, sum: s) }
        let shift: Float = m.isFinite ? m : 0
        let (a, mass) = targetSums(z, t, w, n, shift: shift, keep: keep, add: add)
        return BlockPartial(max: m, sum: s, shift: shift, shiftedTargetLogits: a, targetMass: mass)
    }

    /// `(Σ_{T'≠0} w·T'·(z − shift), Σ w·T')` over `n` values, `T' = keep·T + add`. Float lanes
    /// over runs of 256 values, each run's total added in double.
    static func targetSums(
        _ z: UnsafePointer<Float>, _ t: UnsafePointer<Float>, _ w: UnsafePointer<Float>?, _ n: Int,
        shift: Float, keep: Float, add: Float
    ) -> (Double, Double) {
        typealias V = VectorMath.V
        typealias U = SIMD8<UInt32>
        let sh = V(repeating: shift), kp = V(repeating: keep), ad = V(repeating: add), zero = V(repeating: 0)
        let weighted = w != nil
        var a = 0.0, s = 0.0
        var i = 0
        while i < n {
            let runEnd = Swift.min(n, i + 256)
            var a0 = zero, s0 = zero
            while i + 8 <= runEnd {
                let target = VectorMath.load(t + i) * kp + ad
                let wt = weighted ? VectorMath.load(w! + i) * target : target
                // A zero target adds nothing, even where z − shift is −∞ (0·(−∞) would be NaN).
                let counted = unsafeBitCast(target .!= zero, to: U.self)
                let term = wt * (VectorMath.load(z + i) - sh)
                a0 += unsafeBitCast(unsafeBitCast(term, to: U.self) & counted, to: V.self)
                s0 += wt
                i += 8
            }
            var runA = Double(VectorMath.horizontalSum(a0)), runS = Double(VectorMath.horizontalSum(s0))
            while i < runEnd {
                let target = t[i] * keep + add
                if target != 0 {
                    let wt = (weighted ? w![i] : 1) * target
                    runA += Double(wt * (z[i] - shift))
                    runS += Double(wt)
                }
                i += 1
            }
            a += runA
            s += runS
        }
        return (a, s)
    }

    /// Writes `n` gradient values: `exp(z − shift)·scale − w·(targetScale·T + targetOffset)`, or NaN.
    static func writeGradient(
        _ plan: ProbabilityGradientRow, _ z: UnsafePointer<Float>, _ t: UnsafePointer<Float>, _ w: UnsafePointer<Float>?, _ n: Int,
        _ dz: UnsafeMutablePointer<Float>
    ) {
        if plan.nan {
            dz.update(repeating: .nan, count: n)
            return
        }
        typealias V = VectorMath.V
        let sh = V(repeating: plan.shift), sc = V(repeating: plan.scale), ts = V(repeating: plan.targetScale), to = V(repeating: plan.targetOffset)
        let weighted = w != nil
        var i = 0
        while i + 8 <= n {
            let target = VectorMath.load(t + i) * ts + to
            let wt = weighted ? VectorMath.load(w! + i) * target : target
            VectorMath.store(VectorMath.exp(VectorMath.load(z + i) - sh) * sc - wt, dz + i)
            i += 8
        }
        if i < n {
            let rest = n - i
            let target = VectorMath.loadPartial(t + i, rest, fill: 0) * ts + to
            let wt = weighted ? VectorMath.loadPartial(w! + i, rest, fill: 0) * target : target
            let v = VectorMath.exp(VectorMath.loadPartial(z + i, rest, fill: -.infinity) - sh) * sc - wt
            for lane in 0..<rest { dz[i + lane] = v[lane] }
        }
    }
}
