/// Which of a head's `C×D` tensors to read.
enum HeadTensor {
    case weights, momentum
}

/// Where a training head's class weights `W` and momentum `V` (both `C×D`) live, and the step that
/// runs there: gather the sampled rows, run the margin head on them, apply the SGD update to those
/// rows in place. `classes == nil` means every class (no gather).
protocol HeadParameters: AnyObject {
    var backend: Backend { get }
    /// Runs one step and returns the per-row losses; `gradFeatures` receives `∂L/∂X` (`B×D`).
    func step(_ problem: MarginSoftmaxProblem, features: UnsafeBufferPointer<Float>, classes: [Int]?, optimizer: SGDOptions,
              gradFeatures: UnsafeMutableBufferPointer<Float>) throws -> [Double]
    /// Calls `body` with rows `rows` of `tensor` (row-major, `rows.count × D`) on the host.
    func withRows<T>(_ tensor: HeadTensor, _ rows: Range<Int>, _ body: (UnsafeBufferPointer<Float>) throws -> T) throws -> T
}

/// `torch.optim.SGD`'s update of one row of `d` values: `g' = g + wd·w; v = μ·v + g'; w = w − lr·v`.
@inline(__always)
func sgdUpdateRow(weights w: UnsafeMutablePointer<Float>, momentum v: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>, count d: Int, _ o: SGDOptions) {
    let (lr, mu, wd) = (o.learningRate, o.momentum, o.weightDecay)
    for k in 0..<d {
        let weight = w[k]
        let velocity = mu * v[k] + (g[k] + wd * weight)
        v[k] = velocity
        w[k] = weight - lr * velocity
    }
}

/// The CPU's head parameters: host arrays, updated in place (OpenBLAS GEMMs through
/// `CPUMarginSoftmax`). The gathered rows and their gradient live in buffers reused across steps.
final class HostHeadParameters: HeadParameters {
    let classes: Int
    let dimension: Int
    var weights: [Float]
    var momentum: [Float]
    private let scheduler: Scheduler
    private var gathered: [Float] = []
    private var gradient: [Float] = []

    var backend: Backend { .cpu }

    init(scheduler: Scheduler, classes: Int, dimension: Int, weights: [Float], momentum: [Float]?) {
        self.scheduler = scheduler
        self.classes = classes
        self.dimension = dimension
        self.weights = weights
        self.momentum = momentum ?? [Float](repeating: 0, count: classes * dimension)
    }

    func step(_ p: MarginSoftmaxProblem, features: UnsafeBufferPointer<Float>, classes sampled: [Int]?, optimizer: SGDOptions,
              gradFeatures: UnsafeMutableBufferPointer<Float>) throws -> [Double] {
        let d = dimension, n = sampled?.count ?? classes
        if gradient.count < n * d { gradient = [Float](repeating: 0, count: n * d) }
        if let sampled {
            if gathered.count < n * d { gathered = [Float](repeating: 0, count: n * d) }
            weights.withUnsafeBufferPointer { w in
                gathered.withUnsafeMutableBufferPointer { out in
                    let source = w.baseAddress!, target = SendablePointer(base: out.baseAddress!)
                    scheduler.threads.forEachRange(n) { range in
                        for r in range { (target.base + r * d).update(from: source + sampled[r] * d, count: d) }
                    }
                }
            }
        }
        let threads = scheduler.threads
        return weights.withUnsafeMutableBufferPointer { w in
            momentum.withUnsafeMutableBufferPointer { v in
                gradient.withUnsafeMutableBufferPointer { g in
                    let gradient = g.baseAddress!
                    func run(_ source: UnsafePointer<Float>) -> [Double] {
                        scheduler.scratch.withBuffer(count: p.rows * p.tileColumns) { tile in
                            CPUMarginSoftmax.run(p, features: features.baseAddress!, classWeights: source, gradFeatures: gradFeatures.baseAddress!,
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
        return try values.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[rows.lowerBound * d ..< rows.upperBound * d])) }
    }
}

/// The OpenCL head parameters: `W` and `V` are device buffers created once. A step uploads only
/// the features, the labels and the sampled class indices, gathers the sampled rows on the device
/// (`lk_gather_rows`), runs `OpenCLMarginSoftmax` on them, applies the SGD update and scatters it
/// back in place (`lk_sgd_update_rows`), and reads back only the losses and `∂L/∂X`.
final class DeviceHeadParameters: HeadParameters {
    let device: OpenCLDevice
    let classes: Int
    let dimension: Int
    let weights: OpenCLBuffer
    let momentum: OpenCLBuffer

    var backend: Backend { .opencl }

    /// Rows per host↔device chunk when filling or reading the buffers (bounded host memory).
    static let chunkRows = 1 << 16

    /// Allocates `W` and `V` on `device`; `fill(tensor, rows, buffer)` writes each chunk of host rows
    /// (momentum is zeroed on the device when `hasMomentum` is false).
    init(device: OpenCLDevice, classes: Int, dimension: Int, hasMomentum: Bool,
         fill: (HeadTensor, Range<Int>, UnsafeMutableBufferPointer<Float>) throws -> Void) throws {
        self.device = device
        self.classes = classes
        self.dimension = dimension
        (weights, momentum) = try device.withExclusiveAccess {
            let w = try device.makeBuffer(count: classes * dimension), v = try device.makeBuffer(count: classes * dimension)
            var chunk = [Float](repeating: 0, count: min(classes, Self.chunkRows) * dimension)
            for tensor in hasMomentum ? [HeadTensor.weights, .momentum] : [.weights] {
                for start in stride(from: 0, to: classes, by: Self.chunkRows) {
                    let rows = start ..< min(classes, start + Self.chunkRows)
                    try chunk.withUnsafeMutableBufferPointer { buffer in
                        let part = UnsafeMutableBufferPointer(rebasing: buffer[0 ..< rows.count * dimension])
                        try fill(tensor, rows, part)
                        try device.write(UnsafeRawBufferPointer(part), to: tensor == .weights ? w : v, offset: start * dimension * 4)
                    }
                }
            }
            if !hasMomentum {
                try device.launch("lk_fill_zero", try device.kernel("lk_fill_zero"), global: [classes * dimension], local: nil,
                                  [.buffer(v), .uint64(classes * dimension)])
            }
            try device.finish()
            return (w, v)
        }
    }

    func step(_ p: MarginSoftmaxProblem, features: UnsafeBufferPointer<Float>, classes sampled: [Int]?, optimizer o: SGDOptions,
              gradFeatures: UnsafeMutableBufferPointer<Float>) throws -> [Double] {
        let d = dimension, n = sampled?.count ?? classes
        return try device.withExclusiveAccess {
            let x = try device.upload(features)
            var index: OpenCLBuffer? = nil
            var source = weights
            if let sampled {
                let indices = try sampled.map { Int64($0) }.withUnsafeBufferPointer { try device.upload($0) }
                let gathered = try device.makeBuffer(count: n * d)
                try device.launch("lk_gather_rows", try device.kernel("lk_gather_rows"), global: [d, n], local: nil,
                                  [.buffer(weights), .buffer(indices), .uint64(n), .uint64(d), .buffer(gathered)])
                index = indices
                source = gathered
            }
            let dX = try device.makeBuffer(count: p.rows * d), dW = try device.makeBuffer(count: n * d)
            let losses = try OpenCLMarginSoftmax.run(device, p, features: x, classWeights: source, gradFeatures: dX, gradWeights: dW)
            try device.launch("lk_sgd_update_rows", try device.kernel("lk_sgd_update_rows"), global: [d, n], local: nil,
                              [.buffer(weights), .buffer(momentum), .buffer(index ?? dW), .int32(index == nil ? 0 : 1), .buffer(dW),
                               .uint64(n), .uint64(d), .float(o.learningRate), .float(o.momentum), .float(o.weightDecay)])
            try device.read(dX, into: UnsafeMutableRawBufferPointer(gradFeatures))
            try device.finish()
            return losses
        }
    }

    func withRows<T>(_ tensor: HeadTensor, _ rows: Range<Int>, _ body: (UnsafeBufferPointer<Float>) throws -> T) throws -> T {
        var host = [Float](repeating: 0, count: rows.count * dimension)
        try device.withExclusiveAccess {
            try host.withUnsafeMutableBytes { try device.read(tensor == .weights ? weights : momentum, offset: rows.lowerBound * dimension * 4, into: $0) }
        }
        return try host.withUnsafeBufferPointer { try body($0) }
    }

    /// Bytes copied host → device on this head's device so far.
    var hostToDeviceBytes: Int { device.withExclusiveAccess { device.hostToDeviceBytes } }
}
