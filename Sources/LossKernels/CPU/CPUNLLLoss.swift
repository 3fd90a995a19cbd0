/// Negative log-likelihood on the CPU (`NLLLoss`): the losses read one value per row; the
/// gradient, zero but at each counted row's target, is written in one parallel pass over fixed
/// blocks of elements (a block is zero-filled, then the targets that fall in it are set).
enum CPUNLLLoss {
    /// Elements per block of the gradient pass.
    static let blockLength = 1 << 16

    /// Returns every row's loss and writes ∂loss/∂x into `dx` (`rows × columns`).
    static func run(_ loss: NLLLoss, _ x: UnsafePointer<Float>, rows: Int, columns: Int, _ dx: UnsafeMutablePointer<Float>, threads: CPUThreads) -> [Double] {
        let losses = loss.losses { n, y in x[n * columns + y] }
        let values = (0..<rows).map { loss.gradientValue($0) }
        let targets = (0..<rows).map { loss.target($0) ?? -1 }
        let count = rows * columns
        let blocks = (count + blockLength - 1) / blockLength
        let out = SendablePointer(base: dx)
        threads.forEachRange(blocks) { range in
            for b in range {
                let start = b * blockLength, end = min(count, start + blockLength)
                (out.base + start).update(repeating: 0, count: end - start)
                var r = start / columns
                while r < rows && r * columns < end {
                    let y = targets[r]
                    if y >= 0 {
                        let i = r * columns + y
                        if i >= start && i < end { out.base[i] = values[r] }
                    }
                    r += 1
                }
            }
        }
        return losses
    }
}
