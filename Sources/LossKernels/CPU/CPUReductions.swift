import Foundation

/// Reductions on the CPU over all elements, each row or each column of a `rows × columns` input.
/// Sums are accumulated per fixed block and merged in order in double: deterministic for any
/// thread count. max/min/argmax propagate NaN (argmax picks the first NaN, as PyTorch).
enum CPUReductions {
    static func reduce(_ op: ReductionOperation, _ axis: ReductionAxis, _ x: UnsafePointer<Float>, rows: Int, columns: Int, threads: CPUThreads)
        -> ReductionResult
    {
        switch axis {
        case .all: return reduceRows(op, x, rows: 1, columns: rows * columns, threads: threads)
        case .rows: return reduceRows(op, x, rows: rows, columns: columns, threads: threads)
        case .columns: return reduceColumns(op, x, rows: rows, columns: columns, threads: threads)
        }
    }

    private static func reduceRows(_ op: ReductionOperation, _ x: UnsafePointer<Float>, rows: Int, columns: Int, threads: CPUThreads) -> ReductionResult {
        switch op {
        case .sum, .mean, .l2Norm:
            let sums = BlockedRowSum.sums(rows: rows, columns: columns, threads: threads) { r, range in
                let p = x + r * columns + range.lowerBound
                return op == .l2Norm ? RowLoops.sumOfSquares(p, range.count) : RowLoops.sum(p, range.count)
            }
            return ReductionResult(
                values: sums.map { s in
                    switch op {
                    case .mean: return Float(s / Double(columns))
                    case .l2Norm: return Float(s.squareRoot())
                    default: return Float(s)
                    }
                })
        case .logSumExp:
            var out = [Float](repeating: 0, count: rows)
            if columns == 0 { return ReductionResult(values: [Float](repeating: -.infinity, count: rows)) }
            CPUSoftmax.logSumExp(x, rows: rows, columns: columns, &out, threads: threads)
            return ReductionResult(values: out)
        case .max, .min, .argmax:
            var values = [Float](repeating: 0, count: rows)
            var indices = [Int](repeating: 0, count: rows)
            values.withUnsafeMutableBufferPointer { vb in
                indices.withUnsafeMutableBufferPointer { ib in
                    let v = SendablePointer(base: vb.baseAddress!), ix = SendablePointer(base: ib.baseAddress!)
                    threads.forEachRange(rows) { range in
                        for r in range {
                            (v.base[r], ix.base[r]) = extreme(op, x + r * columns, count: columns, stride: 1)
                        }
                    }
                }
            }
            return ReductionResult(values: values, indices: indices)
        }
    }

    private static func reduceColumns(_ op: ReductionOperation, _ x: UnsafePointer<Float>, rows: Int, columns: Int, threads: CPUThreads) -> ReductionResult {
        var values = [Float](repeating: 0, count: columns)
        var indices = [Int](repeating: 0, count: columns)
        values.withUnsafeMutableBufferPointer { vb in
            indices.withUnsafeMutableBufferPointer { ib in
                let v = SendablePointer(base: vb.baseAddress!), ix = SendablePointer(base: ib.baseAddress!)
                threads.forEachRange(columns) { range in
                    for c in range {
                        switch op {
                        case .sum, .mean, .l2Norm:
                            var s = 0.0
                            for r in 0..<rows {
                                let value = Double(x[r * columns + c])
                                s += op == .l2Norm ? value * value : value
                            }
                            v.base[c] = op == .mean ? Float(s / Double(rows)) : (op == .l2Norm ? Float(s.squareRoot()) : Float(s))
                        case .logSumExp:
                            v.base[c] = columnLogSumExp(x + c, rows: rows, stride: columns)
                        case .max, .min, .argmax:
                            let (value, index) = extreme(op, x + c, count: rows, stride: columns)
                            v.base[c] = value
                            ix.base[c] = index
                        }
                    }
                }
            }
        }
        return ReductionResult(values: values, indices: [.max, .min, .argmax].contains(op) ? indices : [])
    }

    /// log Σ exp over a strided column: NaN if a NaN occurs, the max when it is ±∞ (−∞ for all −∞).
    private static func columnLogSumExp(_ p: UnsafePointer<Float>, rows: Int, stride: Int) -> Float {
        var m = -Float.infinity
        for r in 0..<rows {
            let v = p[r * stride]
            if v.isNaN { return .nan }
            if v > m { m = v }
        }
        if m.isInfinite { return m }
        var s = 0.0
        for r in 0..<rows { s += Foundation.exp(Double(p[r * stride]) - Double(m)) }
        return Float(Double(m) + Foundation.log(s))
    }

    /// The first max (or min) of a strided sequence and its position; NaN wins at its first position.
    @inline(__always)
    private static func extreme(_ op: ReductionOperation, _ p: UnsafePointer<Float>, count: Int, stride: Int) -> (Float, Int) {
        var best = p[0], index = 0
        if best.isNaN { return (best, 0) }
        for i in 1..<max(count, 1) {
            let v = p[i * stride]
            if v.isNaN { return (v, i) }
            if op == .min ? v < best : v > best {
                best = v
                index = i
            }
        }
        return (best, index)
    }

    /// Backward of a reduction: dz for every element from the upstream gradient of its group.
    static func backward(
        _ op: ReductionOperation, _ axis: ReductionAxis, _ x: UnsafePointer<Float>, rows: Int, columns: Int, result: ReductionResult,
        gradOutput g: UnsafePointer<Float>, _ dz: UnsafeMutablePointer<Float>, threads: CPUThreads
    ) {
        let count = rows * columns
        let out = SendablePointer(base: dz)
        threads.forEachRange(rows) { range in
            for r in range {
                for c in 0..<columns {
                    let i = r * columns + c
                    let group = axis == .all ? 0 : (axis == .rows ? r : c)
                    let position = axis == .all ? i : (axis == .rows ? c : r)
                    let size = axis == .all ? count : (axis == .rows ? columns : rows)
                    let gg = g[group], v = result.values[group]
                    switch op {
                    case .sum: out.base[i] = gg
                    case .mean: out.base[i] = gg / Float(size)
                    case .l2Norm: out.base[i] = v == 0 ? 0 : gg * x[i] / v
                    case .max, .min, .argmax: out.base[i] = position == result.indices[group] ? gg : 0
                    case .logSumExp: out.base[i] = gg * Foundation.exp(x[i] - v)
                    }
                }
            }
        }
    }
}
