/// The CPU's head parameters: host arrays, updated in place (OpenBLAS GEMMs through
/// `CPUMarginSoftmax`). The gathered rows and their gradient live in buffers reused across steps.
final class HostHeadParameters: HeadParameters {
    let classes: Int
    let dimension: Int
    var weights: [Float]
    var momentum: [Float]
    private let cpu: CPUContext
    private var gathered: [Float] = []
    private var gradient: [Float] = []

    var backend: Backend { .cpu }

    init(cpu: CPUContext, classes: Int, dimension: Int, weights: [Float], momentum: [Float]?) {
        self.cpu = cpu
        self.classes = classes
        self.dimension = dimension
        self.weights = weights
        self.momentum = momentum ?? [Float](repeating: 0, count: classes * dimension)
    }

    func step(
        _ p: MarginSoftmaxProblem, features: UnsafeBufferPointer<Float>, classes sampled: [Int]?, optimizer: SGDOptions,
        gradFeatures: UnsafeMutableBufferPointer<Float>
    ) throws -> [Double] {
        let d = dimension, n = sampled?.count ?? classes
        if gradient.count < n * d { gradient = [Float](repeating: 0, count: n * d) }
        if let sampled {
            if gathered.count < n * d { gathered = [Float](repeating: 0, count: n * d) }
            weights.withUnsafeBufferPointer { w in
                gathered.withUnsafeMutableBufferPointer { out in
                    let source = w.baseAddress!, target = SendablePointer(base: out.baseAddress!)
                    cpu.threads.forEachRange(n) { range in
                        for r in range { (target.base + r * d).update(from: source + sampled[r] * d, count: d) }
                    }
                }
            }
        }
        let threads = cpu.threads
        return weights.withUnsafeMutableBufferPointer { w in
            momentum.withUnsafeMutableBufferPointer { v in
                gradient.withUnsafeMutableBufferPointer { g in
                    let gradient = g.baseAddress!
                    func run(_ source: UnsafePointer<Float>) -> [Double] {
                        cpu.scratch.withBuffer(count: p.rows * p.tileColumns) { tile in
                            CPUMarginSoftmax.run(
                                p, features: features.baseAddress!, classWeights: source, gradFeatures: gradFeatures.baseAddress!,
                                gradWeights: gradient, tile: tile, threads: threads)
                        }
                    }
                    let losses = sampled == nil ? run(w.baseAddress!) : gathered.withUnsafeBufferPointer { run($0.baseAddress!) }
                    let wP = SendablePointer(base: w.baseAddress!), vP = SendablePointer(base: v.baseAddress!), gP = SendablePointer(base: g.baseAddress!)
                    threads.forEachRange(n) { range in
                        for r in range {
                            let j = sampled?[r] ?? r
                            sgdUpdateRow(weights: wP.base + j * d, momentum: vP.base + j * d, gradient: gP.base + r * d, count: d, optimizer)
                        }
                    }
                    return losses
                }
            }
        }
    }

    func withRows<T>(_ tensor: HeadTensor, _ rows: Range<Int>, _ body: (UnsafeBufferPointer<Float>) throws -> T) throws -> T {
        let d = dimension
        let values = tensor == .weights ? weights : momentum
        return try values.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[rows.lowerBound * d..<rows.upperBound * d])) }
    }
}
