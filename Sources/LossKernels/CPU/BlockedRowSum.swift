/// Deterministic per-row sums: each row is cut into blocks of `CPUSoftmax.blockLength` columns, each
/// block's partial (computed by `block`) is added to the row total in block order, in double.
/// Blocks are spread over threads when rows are few; the bits do not depend on the thread count.
enum BlockedRowSum {
    static func sums(rows: Int, columns: Int, threads: CPUThreads, block: (Int, Range<Int>) -> Double) -> [Double] {
        let length = CPUSoftmax.blockLength
        let blocks = CPUSoftmax.blockCount(columns)
        var partial = [Double](repeating: 0, count: rows * blocks)
        withoutActuallyEscaping(block) { block in
            partial.withUnsafeMutableBufferPointer { out in
                let p = SendablePointer(base: out.baseAddress!)
                threads.forEachRange(rows * blocks) { range in
                    for item in range {
                        let (r, b) = item.quotientAndRemainder(dividingBy: blocks)
                        let start = b * length
                        p.base[item] = start < columns ? block(r, start..<min(columns, start + length)) : 0
                    }
                }
            }
        }
        var totals = [Double](repeating: 0, count: rows)
        for r in 0..<rows {
            var t = 0.0
            for b in 0..<blocks { t += partial[r * blocks + b] }
            totals[r] = t
        }
        return totals
    }
}
