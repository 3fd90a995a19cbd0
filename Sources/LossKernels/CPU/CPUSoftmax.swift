import Foundation

/// Softmax, logSoftmax and logSumExp on the CPU, forward and backward, for a `rows × columns`
/// row-major input. Rows are cut into fixed blocks of `blockLength` columns; block statistics are
/// merged per row in block order, so one thread or many give the same bits. Rows are split across
/// threads when there are fewer rows than threads.
enum CPUSoftmax {
    /// Columns per block: 64 KiB of floats, so a block's second pass reads from L1/L2.
    static let blockLength = 16_384
    /// Outputs larger than this use streaming stores (they would only evict the cache).
    static let streamingThreshold = 8 << 20

    enum Kind { case softmax, logSoftmax }

    static func blockCount(_ columns: Int) -> Int { max(1, (columns + blockLength - 1) / blockLength) }

    /// The merged statistics of every row.
    static func rowStates(_ x: UnsafePointer<Float>, rows: Int, columns: Int, threads: CPUThreads) -> [SoftmaxRowState] {
        let blocks = blockCount(columns)
        var states = [SoftmaxRowState](repeating: SoftmaxRowState(), count: rows)
        if rows >= threads.count || blocks == 1 {
            states.withUnsafeMutableBufferPointer { out in
                let s = SendablePointer(base: out.baseAddress!)
                threads.forEachRange(rows) { range in
                    for r in range { s.base[r] = rowState(x + r * columns, columns: columns) }
                }
            }
            return states
        }
        var partial = [(max: Float, sum: Float)](repeating: (0, 0), count: rows * blocks)
        partial.withUnsafeMutableBufferPointer { out in
            let p = SendablePointer(base: out.baseAddress!)
            threads.forEachRange(rows * blocks) { range in
                for item in range {
                    let (r, b) = item.quotientAndRemainder(dividingBy: blocks)
                    let start = b * blockLength
                    p.base[item] = RowKernels.blockStats(x + r * columns + start, min(blockLength, columns - start))
                }
            }
        }
        for r in 0..<rows {
            for b in 0..<blocks { states[r].merge(blockMax: partial[r * blocks + b].max, blockSum: partial[r * blocks + b].sum) }
        }
        return states
    }

    /// One row's statistics, block by block.
    static func rowState(_ row: UnsafePointer<Float>, columns: Int) -> SoftmaxRowState {
        var state = SoftmaxRowState()
        var start = 0
        while start < columns {
            let n = min(blockLength, columns - start)
            let (m, s) = RowKernels.blockStats(row + start, n)
            state.merge(blockMax: m, blockSum: s)
            start += n
        }
        return state
    }

    /// y = softmax(x) or logSoftmax(x), row-wise.
    static func forward(_ kind: Kind, _ x: UnsafePointer<Float>, rows: Int, columns: Int, _ y: UnsafeMutablePointer<Float>, threads: CPUThreads) {
        guard rows > 0, columns > 0 else { return }
        let streaming = rows * columns * MemoryLayout<Float>.size >= streamingThreshold
        let blocks = blockCount(columns)
        let out = SendablePointer(base: y)
        if rows >= threads.count || blocks == 1 {
            threads.forEachRange(rows) { range in
                for r in range {
                    let state = rowState(x + r * columns, columns: columns)
                    writeRow(kind, state, x + r * columns, 0..<columns, out.base + r * columns, streaming: streaming)
                }
                RowKernels.fence()
            }
        } else {
            let states = rowStates(x, rows: rows, columns: columns, threads: threads)
            threads.forEachRange(rows * blocks) { range in
                for item in range {
                    let (r, b) = item.quotientAndRemainder(dividingBy: blocks)
                    let start = b * blockLength, end = min(columns, start + blockLength)
                    writeRow(kind, states[r], x + r * columns, start..<end, out.base + r * columns, streaming: streaming)
                }
                RowKernels.fence()
            }
        }
    }

    /// Writes columns `range` of one output row from the row's statistics.
    @inline(__always)
    static func writeRow(
        _ kind: Kind, _ state: SoftmaxRowState, _ x: UnsafePointer<Float>, _ range: Range<Int>, _ y: UnsafeMutablePointer<Float>, streaming: Bool
    ) {
        guard state.isRegular else {
            (y + range.lowerBound).update(repeating: .nan, count: range.count)
            return
        }
        switch kind {
        case .softmax:
            RowKernels.softmaxWrite(x + range.lowerBound, range.count, max: state.max, scale: Float(1 / state.sum), y + range.lowerBound, streaming: streaming)
        case .logSoftmax:
            RowKernels.subtract(
                x + range.lowerBound, range.count, shift: state.max, secondShift: Float(Foundation.log(state.sum)), y + range.lowerBound, streaming: streaming)
        }
    }

    /// out[r] = log Σ_j exp x[r, j].
    static func logSumExp(_ x: UnsafePointer<Float>, rows: Int, columns: Int, _ out: UnsafeMutablePointer<Float>, threads: CPUThreads) {
        let states = rowStates(x, rows: rows, columns: columns, threads: threads)
        for r in 0..<rows { out[r] = states[r].logSumExp }
    }

    /// Vector–Jacobian products. softmax: dz = y ⊙ (g − Σ_j g_j y_j) with y the probabilities;
    /// logSoftmax: dz = g − exp(y)·Σ_j g_j with y the log-probabilities.
    static func backward(
        _ kind: Kind, output y: UnsafePointer<Float>, gradOutput g: UnsafePointer<Float>, rows: Int, columns: Int, _ dz: UnsafeMutablePointer<Float>,
        threads: CPUThreads
    ) {
        guard rows > 0, columns > 0 else { return }
        let sums: [Double]
        switch kind {
        case .softmax:
            sums = BlockedRowSum.sums(rows: rows, columns: columns, threads: threads) { r, range in
                RowLoops.dot(g + r * columns + range.lowerBound, y + r * columns + range.lowerBound, range.count)
            }
        case .logSoftmax:
            sums = BlockedRowSum.sums(rows: rows, columns: columns, threads: threads) { r, range in
                RowLoops.sum(g + r * columns + range.lowerBound, range.count)
            }
        }
        let out = SendablePointer(base: dz)
        threads.forEachRange(rows) { range in
            for r in range {
                let base = r * columns, s = Float(sums[r])
                switch kind {
                case .softmax: RowLoops.softmaxBackward(y + base, g + base, s, out.base + base, columns)
                case .logSoftmax: RowLoops.logSoftmaxBackward(y + base, g + base, s, out.base + base, columns)
                }
            }
        }
    }

    /// dz[r, j] = g[r]·exp(x[r, j] − lse[r]).
    static func logSumExpBackward(
        _ x: UnsafePointer<Float>, logSumExp lse: UnsafePointer<Float>, gradOutput g: UnsafePointer<Float>, rows: Int, columns: Int,
        _ dz: UnsafeMutablePointer<Float>, threads: CPUThreads
    ) {
        let out = SendablePointer(base: dz)
        threads.forEachRange(rows) { range in
            for r in range {
                let shift = lse[r]
                if shift.isFinite {
                    RowKernels.expScale(x + r * columns, columns, shift: shift, scale: g[r], out.base + r * columns, streaming: false)
                } else {
                    for j in 0..<columns { out.base[r * columns + j] = g[r] * Foundation.exp(x[r * columns + j] - shift) }
                }
            }
        }
    }
}
