import LossKernels

/// `compute bce-with-logits` and `compute sigmoid-focal`: elementwise losses of `--logits` against
/// `--targets` of the same shape (any rank, targets in [0, 1]). Writes `loss.npy` (0-d for
/// mean/sum, the logits' shape for none) and `grad_logits.npy` (the logits' shape).
struct BinaryLossCompute {
    /// Which loss, with its own options.
    enum Loss {
        /// Binary cross-entropy with logits.
        case binaryCrossEntropy
        /// torchvision's sigmoid focal loss: `--gamma`, `--alpha` (negative: no weighting).
        case sigmoidFocal(gamma: Float, alpha: Float)
    }

    var loss: Loss
    /// The `--logits` file.
    var logits: String
    /// The `--targets` file.
    var targets: String
    var reduction: LossReduction
    /// The `--grad-output` file (the logits' shape, only with reduction none), if any.
    var gradOutput: String?

    func run(_ engine: Engine) throws -> [TensorFiles.Output] {
        let z = try TensorFiles.readFloatElements(logits, tensor: "logits")
        let t = try TensorFiles.readFloatElements(targets, tensor: "targets")
        try TensorFiles.requireShape(t, "targets", path: targets, z.shape, meaning: "the shape of --logits")
        let g = try gradOutput.map { path in
            let g = try TensorFiles.readFloatElements(path, tensor: "grad-output")
            try TensorFiles.requireShape(g, "grad-output", path: path, z.shape, meaning: "one value per element of --logits")
            return g.matrix
        }
        let result: LossOutput
        switch loss {
        case .binaryCrossEntropy:
            result = try engine.binaryCrossEntropyWithLogits(logits: z.matrix, targets: t.matrix, reduction: reduction, gradOutput: g)
        case let .sigmoidFocal(gamma, alpha):
            result = try engine.sigmoidFocalLoss(logits: z.matrix, targets: t.matrix, gamma: gamma, alpha: alpha, reduction: reduction, gradOutput: g)
        }
        return [
            (name: "loss.npy", values: result.loss, shape: reduction == .none ? z.shape : []),
            (name: "grad_logits.npy", values: result.gradient.values, shape: z.shape),
        ]
    }
}
