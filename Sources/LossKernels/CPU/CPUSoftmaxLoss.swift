import Foundation

/// Softmax losses (cross-entropy, focal) on the CPU: per row, the statistics pass, the plan's
/// coefficients, then the gradient written while the row is still in cache. Rows are spread over
/// threads; with fewer rows than threads, a row's blocks are. Deterministic for any thread count.
enum CPUSoftmaxLoss {
    /// Computes every row's loss (returned) and writes the gradient into `dz`.
    static func run(_ loss: some RowSoftmaxLoss, _ z: UnsafePointer<Float>, rows: Int, columns: Int, _ dz: UnsafeMutablePointer<Float>, threads: CPUThreads)
        -> [Double]
    {
        var losses = [Double](repeating: 0, count: rows)
        let streaming = rows * columns * MemoryLayout<Float>.size >= CPUSoftmax.streamingThreshold
        let weights = loss.columnWeights
        weights.withUnsafeOptionalBufferPointer { w in
            losses.withUnsafeMutableBufferPointer { lossBuffer in
                let out = SendablePointer(base: dz), lossOut = SendablePointer(base: lossBuffer.baseAddress!)
                let blocks = CPUSoftmax.blockCount(columns)
                if rows >= threads.count || blocks == 1 {
                    threads.forEachRange(rows) { range in
                        for r in range {
                            let state = CPUSoftmax.rowState(z + r * columns, columns: columns)
                            let (value, plan) = loss.row(r, statistics(loss, state, z + r * columns, row: r, columns: columns, weights: w))
                            lossOut.base[r] = value
                            write(plan, z + r * columns, 0..<columns, out.base + r * columns, weights: w, streaming: streaming)
                        }
                        RowKernels.fence()
                    }
                } else {
                    let states = CPUSoftmax.rowStates(z, rows: rows, columns: columns, threads: threads)
                    var plans = [SoftmaxGradientRow](repeating: .zeroRow, count: rows)
                    for r in 0..<rows {
                        let (value, plan) = loss.row(r, statistics(loss, states[r], z + r * columns, row: r, columns: columns, weights: w))
                        lossOut.base[r] = value
                        plans[r] = plan
                    }
                    threads.forEachRange(rows * blocks) { range in
                        for item in range {
                            let (r, b) = item.quotientAndRemainder(dividingBy: blocks)
                            let start = b * CPUSoftmax.blockLength
                            write(
                                plans[r], z + r * columns, start..<min(columns, start + CPUSoftmax.blockLength), out.base + r * columns, weights: w,
                                streaming: streaming)
                        }
                        RowKernels.fence()
                    }
                }
            }
        }
        return losses
    }

    private static func statistics(
        _ loss: some RowSoftmaxLoss, _ state: SoftmaxRowState, _ row: UnsafePointer<Float>, row r: Int, columns: Int, weights: UnsafeBufferPointer<Float>?
    ) -> RowLossStatistics {
        let target = loss.target(r)
        var weighted = 0.0
        if loss.needsWeightedLogitSum {
            var start = 0
            while start < columns {
                let n = min(CPUSoftmax.blockLength, columns - start)
                weighted += weights.map { RowLoops.dot(row + start, $0.baseAddress! + start, n) } ?? RowLoops.sum(row + start, n)
                start += n
            }
        }
        return RowLossStatistics(state: state, targetLogit: target.map { row[$0] } ?? 0, weightedLogitSum: weighted)
    }

    /// Writes columns `range` of one gradient row.
    private static func write(
        _ plan: SoftmaxGradientRow, _ z: UnsafePointer<Float>, _ range: Range<Int>, _ dz: UnsafeMutablePointer<Float>, weights: UnsafeBufferPointer<Float>?,
        streaming: Bool
    ) {
        if plan.zero || plan.nan {
            (dz + range.lowerBound).update(repeating: plan.nan ? .nan : 0, count: range.count)
            return
        }
        RowKernels.softmaxAffineWrite(
            z + range.lowerBound, range.count, max: plan.shift, scale: plan.scale, offset: plan.offset,
            weights: weights.map { $0.baseAddress! + range.lowerBound }, dz + range.lowerBound, streaming: streaming)
        if range.contains(plan.target) {
            RowKernels.fence()
            let t = plan.target
            let p = Foundation.exp(Double(z[t]) - Double(plan.shift)) * Double(plan.scale)
            dz[t] = Float(p - Double(plan.offset) * Double(weights?[t] ?? 1) + Double(plan.targetAdjust))
        }
    }
}

extension Optional where Wrapped == [Float] {
    /// Calls `body` with the array's buffer, or nil.
    func withUnsafeOptionalBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>?) throws -> R) rethrows -> R {
        switch self {
        case .some(let array): return try array.withUnsafeBufferPointer { try body($0) }
        case .none: return try body(nil)
        }
    }
}
