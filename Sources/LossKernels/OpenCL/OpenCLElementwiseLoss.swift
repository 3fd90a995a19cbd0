/// Elementwise losses on an OpenCL device (Kernels/elementwise_loss.cl): one grid-stride kernel
/// writes every element's loss and derivative. Callers hold the device's exclusive access.
enum OpenCLElementwiseLoss {
    /// Writes ∂loss/∂input (scaled as `loss.scale`, times the upstream value when `gradOutput` is
    /// given) into `gradient` and each element's loss into `losses` when given; returns Σ loss
    /// (summed on the device) when `losses` is nil, else 0.
    static func run(_ device: OpenCLDevice, _ loss: ElementwiseLoss, input: OpenCLBuffer, targets: OpenCLBuffer, gradOutput: OpenCLBuffer?, count: Int,
                    gradient: OpenCLBuffer, losses: OpenCLBuffer?) throws -> Double {
        let perElement = try losses ?? device.makeBuffer(count: count)
        try device.launch("lk_elementwise_loss", try device.kernel("lk_elementwise_loss"), global: [min(count, 1 << 20)], local: nil,
                          [.buffer(input), .buffer(targets), .uint64(count), .int32(loss.kind.code), .float(loss.firstParameter), .float(loss.alpha),
                           .float(Float(loss.scale(count: count))), .buffer(gradOutput ?? input), .int32(gradOutput == nil ? 0 : 1),
                           .buffer(perElement), .buffer(gradient)])
        guard losses == nil else { return 0 }
        return Double(try OpenCLReductions.reduce(device, .sum, .all, perElement, rows: 1, columns: count).values[0])
    }
}
