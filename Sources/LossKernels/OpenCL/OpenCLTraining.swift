/// The training head's row operations on an OpenCL device (Kernels/training.cl): gathering the
/// sampled rows of the class weights and the SGD update written back to them in place. Callers
/// hold the device's exclusive access.
enum OpenCLTraining {
    /// `gathered[r, :] = weights[index[r], :]` for the `rows` sampled classes (`D` values each).
    static func gatherRows(_ device: OpenCLDevice, weights: OpenCLBuffer, index: OpenCLBuffer, rows: Int, dimension d: Int, into gathered: OpenCLBuffer) throws
    {
        try device.launch(
            "lk_gather_rows", try device.kernel("lk_gather_rows"), global: [d, rows], local: nil,
            [.buffer(weights), .buffer(index), .uint64(rows), .uint64(d), .buffer(gathered)])
    }

    /// `torch.optim.SGD` on rows `index[r]` (or `r` without an index) of `weights` and `momentum`
    /// from the gradient rows `gradient[r]` (`SGDOptions` has the update).
    static func sgdUpdateRows(
        _ device: OpenCLDevice, weights: OpenCLBuffer, momentum: OpenCLBuffer, index: OpenCLBuffer?, gradient: OpenCLBuffer,
        rows: Int, dimension d: Int, optimizer o: SGDOptions
    ) throws {
        try device.launch(
            "lk_sgd_update_rows", try device.kernel("lk_sgd_update_rows"), global: [d, rows], local: nil,
            [
                .buffer(weights), .buffer(momentum), .buffer(index ?? gradient), .int32(index == nil ? 0 : 1), .buffer(gradient),
                .uint64(rows), .uint64(d), .float(o.learningRate), .float(o.momentum), .float(o.weightDecay),
            ])
    }
}
