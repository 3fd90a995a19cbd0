import _CMicrokernels

/// Elementwise losses on the CPU: blocks of `CPUSoftmax.blockLength` elements spread over
/// threads; block loss sums are added in order in double (deterministic for any thread count).
enum CPUElementwiseLoss {
    /// Writes ∂loss/∂input into `gradient` and returns the per-element losses (`.none`) or their sum.
    static func run(_ loss: ElementwiseLoss, input: UnsafePointer<Float>, target: UnsafePointer<Float>, count: Int,
                    gradOutput: UnsafePointer<Float>?, gradient: UnsafeMutablePointer<Float>, perElement: UnsafeMutablePointer<Float>?, threads: CPUThreads) -> Double {
        let length = CPUSoftmax.blockLength
        let blocks = (count + length - 1) / length
        var sums = [Double](repeating: 0, count: blocks)
        let scale = loss.scale(count: count)
        let streaming = count * MemoryLayout<Float>.size >= CPUSoftmax.streamingThreshold
        sums.withUnsafeMutableBufferPointer { sumBuffer in
            let s = SendablePointer(base: sumBuffer.baseAddress!), out = SendablePointer(base: gradient)
            let each = perElement.map { SendablePointer(base: $0) }
            threads.forEachRange(blocks) { range in
                for b in range {
                    let start = b * length, n = min(count, start + length) - start
                    if RowKernels.useMicrokernels {
                        var blockSum = 0.0
                        let done = lk_cpu_regression(loss.kind.code, input + start, target + start, n, loss.parameter, Float(scale),
                                                     gradOutput.map { $0 + start }, out.base + start, each.map { $0.base + start }, streaming ? 1 : 0, &blockSum)
                        if done != 0 {
                            s.base[b] = blockSum
                            continue
                        }
                    }
                    var total = 0.0
                    for i in (b * length)..<min(count, (b + 1) * length) {
                        let (value, derivative) = loss.evaluate(Double(input[i]), Double(target[i]))
                        total += value
                        each?.base[i] = Float(value)
                        out.base[i] = Float(derivative * scale * Double(gradOutput?[i] ?? 1))
                    }
                    s.base[b] = total
                }
                RowKernels.fence()
            }
        }
        return sums.reduce(0, +)
    }
}
