import _CMicrokernels

/// Elementwise losses on the CPU: blocks of `CPUSoftmax.blockLength` elements spread over
/// threads; block loss sums are added in order in double (deterministic for any thread count).
enum CPUElementwiseLoss {
    /// Writes ∂loss/∂input into `gradient` and returns the per-element losses (`.none`) or their sum.
    /// `weights` (the weighted BCE's element and positive weights) is read by that kind only.
    static func run(
        _ loss: ElementwiseLoss, input: UnsafePointer<Float>, target: UnsafePointer<Float>, count: Int,
        gradOutput: UnsafePointer<Float>?, gradient: UnsafeMutablePointer<Float>, perElement: UnsafeMutablePointer<Float>?,
        weights: ElementWeights? = nil, threads: CPUThreads
    ) -> Double {
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
                    if loss.kind == .weightedBinaryCrossEntropyWithLogits {
                        s.base[b] = weightedBlock(
                            loss, input, target, start..<(start + n), weights, scale: scale, gradOutput: gradOutput,
                            gradient: out.base, perElement: each?.base)
                        continue
                    }
                    if RowKernels.useMicrokernels {
                        var blockSum = 0.0
                        let done = lk_cpu_regression(
                            loss.kind.code, input + start, target + start, n, loss.parameter, Float(scale),
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

    /// The weighted BCE over the elements `range`: element `i` of column `c = i mod columns` weighs
    /// `weight[i]` (or `weight[c]` for one broadcast row) with positive weight `posWeight[c]`, 1 where
    /// absent. Writes the derivative (times `scale` and the upstream value) and, when asked, the
    /// losses; returns the losses' sum in double, in index order.
    private static func weightedBlock(
        _ loss: ElementwiseLoss, _ input: UnsafePointer<Float>, _ target: UnsafePointer<Float>, _ range: Range<Int>,
        _ weights: ElementWeights?, scale: Double, gradOutput: UnsafePointer<Float>?,
        gradient: UnsafeMutablePointer<Float>, perElement: UnsafeMutablePointer<Float>?
    ) -> Double {
        let columns = max(1, weights?.columns ?? 1)
        let weight = weights?.weight?.values.baseAddress, perColumn = weights?.layout == .perColumn
        let posWeight = weights?.posWeight?.baseAddress
        var c = range.lowerBound % columns
        var total = 0.0
        for i in range {
            let ew = weight.map { Double(perColumn ? $0[c] : $0[i]) } ?? 1
            let pw = posWeight.map { Double($0[c]) } ?? 1
            let (value, derivative) = loss.evaluate(Double(input[i]), Double(target[i]), weight: ew, posWeight: pw)
            total += value
            perElement?[i] = Float(value)
            gradient[i] = Float(derivative * scale * Double(gradOutput?[i] ?? 1))
            c += 1
            if c == columns { c = 0 }
        }
        return total
    }
}
