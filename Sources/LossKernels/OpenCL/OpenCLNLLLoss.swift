/// Negative log-likelihood on an OpenCL device (Kernels/nll_loss.cl): the losses need one value per
/// row, `x_{n,y_n}`, which the host reads from the caller's memory (the log-probabilities are not
/// uploaded); the device writes the gradient, zero but at each counted row's target, in one pass.
/// Callers hold the device's exclusive access.
enum OpenCLNLLLoss {
    /// Returns every row's loss (read on the host from `x`) and writes ∂loss/∂x into `dx` on the device.
    static func run(_ device: OpenCLDevice, _ loss: NLLLoss, _ x: UnsafeBufferPointer<Float>, rows: Int, columns: Int, into dx: OpenCLBuffer) throws -> [Double]
    {
        let targets = try device.staged(loss.targetColumns, role: "nll.targets")
        let values = try device.staged((0..<rows).map { loss.gradientValue($0) }, role: "nll.values")
        try device.launch(
            "lk_nll_gradient", global: [columns, rows],
            [.uint64(rows), .uint64(columns), .buffer(targets), .buffer(values), .buffer(dx)])
        return loss.losses { n, y in x[n * columns + y] }
    }
}
