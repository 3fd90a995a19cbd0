/// The OpenCL head parameters: `W` and `V` are device buffers created once. A step stages the
/// features, the labels and the sampled class indices (non-blocking uploads), gathers the sampled
/// rows on the device (`lk_gather_rows`), enqueues `OpenCLMarginSoftmax` on them and the SGD update
/// written back in place (`lk_sgd_update_rows`), then waits once: one blocking read of ∂L/∂X and
/// the per-row results the losses come from. Every device buffer of a step comes from the
/// device's pool, so a warm step allocates nothing.
///
/// The update is enqueued before that read, so when the read itself fails the sampled rows of W
/// and V may already be updated (the step throws; nothing is returned).
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
    /// (momentum is zeroed on the device when `hasMomentum` is false). The caller holds the
    /// device's exclusive access (`Scheduler.run`).
    init(
        device: OpenCLDevice, classes: Int, dimension: Int, hasMomentum: Bool,
        fill: (HeadTensor, Range<Int>, UnsafeMutableBufferPointer<Float>) throws -> Void
    ) throws {
        self.device = device
        self.classes = classes
        self.dimension = dimension
        let w = try device.makeBuffer(count: classes * dimension), v = try device.makeBuffer(count: classes * dimension)
        var chunk = [Float](repeating: 0, count: min(classes, Self.chunkRows) * dimension)
        for tensor in hasMomentum ? [HeadTensor.weights, .momentum] : [.weights] {
            for start in stride(from: 0, to: classes, by: Self.chunkRows) {
                let rows = start..<min(classes, start + Self.chunkRows)
                try chunk.withUnsafeMutableBufferPointer { buffer in
                    let part = UnsafeMutableBufferPointer(rebasing: buffer[0..<rows.count * dimension])
                    try fill(tensor, rows, part)
                    try device.write(UnsafeRawBufferPointer(part), to: tensor == .weights ? w : v, offset: start * dimension * 4)
                }
            }
        }
        if !hasMomentum { try device.fill(v, count: classes * dimension) }
        try device.finish()
        (weights, momentum) = (w, v)
    }

    func step(
        _ p: MarginSoftmaxProblem, features: UnsafeBufferPointer<Float>, classes sampled: [Int]?, optimizer o: SGDOptions,
        gradFeatures: UnsafeMutableBufferPointer<Float>
    ) throws -> [Double] {
        let d = dimension, n = sampled?.count ?? classes, b = p.rows
        return try device.withExclusiveAccess {
            // The device's counter is shared by every engine on it; count this step's part alone.
            let uploadedBefore = device.hostToDeviceBytes
            defer { stepUploadBytes += device.hostToDeviceBytes - uploadedBefore }
            let x = try device.scratch("step.features", count: b * d)
            try device.stage(features, into: x, role: "step.features")
            var index: OpenCLBuffer? = nil
            var source = weights
            if let sampled {
                let indices = try device.scratch("step.indices", count: n, elementSize: 8)
                try sampled.map { Int64($0) }.withUnsafeBufferPointer { try device.stage($0, into: indices, role: "step.indices") }
                let gathered = try device.scratch("step.gathered", count: n * d)
                try OpenCLTraining.gatherRows(device, weights: weights, index: indices, rows: n, dimension: d, into: gathered)
                index = indices
                source = gathered
            }
            // ∂L/∂X and the row results in one buffer, read back at once.
            let output = try device.scratch("step.output", count: b * d + b * OpenCLMarginSoftmax.rowResultFloats)
            let dW = try device.scratch("step.gradWeights", count: n * d)
            try OpenCLMarginSoftmax.enqueue(
                device, p, features: x, classWeights: source, gradFeatures: output, gradWeights: dW, rowResults: output, at: b * d)
            try OpenCLTraining.sgdUpdateRows(device, weights: weights, momentum: momentum, index: index, gradient: dW, rows: n, dimension: d, optimizer: o)
            let total = b * d + b * OpenCLMarginSoftmax.rowResultFloats
            if readBack.count < total { readBack = [Float](repeating: 0, count: total) }
            try readBack.withUnsafeMutableBytes { try device.read(output, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<(4 * total)])) }
            return readBack.withUnsafeBufferPointer { host in
                _ = gradFeatures.update(fromContentsOf: host[0..<(b * d)])
                return OpenCLMarginSoftmax.losses(p, rowResults: UnsafeBufferPointer(rebasing: host[(b * d)..<total]))
            }
        }
    }

    func withRows<T>(_ tensor: HeadTensor, _ rows: Range<Int>, _ body: (UnsafeBufferPointer<Float>) throws -> T) throws -> T {
        var host = [Float](repeating: 0, count: rows.count * dimension)
        try device.withExclusiveAccess {
            try host.withUnsafeMutableBytes { try device.read(tensor == .weights ? weights : momentum, offset: rows.lowerBound * dimension * 4, into: $0) }
        }
        return try host.withUnsafeBufferPointer { try body($0) }
    }

    /// Bytes this head's steps have copied host → device so far (measured inside each step's
    /// exclusive access, so other users of the same device do not count).
    var hostToDeviceBytes: Int { device.withExclusiveAccess { stepUploadBytes } }
    /// Guarded by the device's exclusive access.
    private var stepUploadBytes = 0
    /// The host copy of a step's read (∂L/∂X and the row results), reused across steps.
    private var readBack: [Float] = []
}
