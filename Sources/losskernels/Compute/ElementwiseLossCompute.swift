import LossKernels

/// The elementwise losses: `compute bce-with-logits` and `compute sigmoid-focal` (`--logits`
/// against `--targets` in [0, 1]), and the regression losses `mse`, `l1`, `smooth-l1`, `huber`,
/// `msle`, `mape` (`--predictions` against `--targets`); inputs of the same shape, any rank.
/// Writes `loss.npy` (0-d for mean/sum, the input's shape for none) and the input's gradient
/// (`grad_logits.npy` or `grad_predictions.npy`, the input's shape).
struct ElementwiseLossCompute {
    /// Which loss, with its own options.
    enum Loss {
        /// Binary cross-entropy with logits.
        case binaryCrossEntropy
        /// torchvision's sigmoid focal loss: `--gamma`, `--alpha` (negative: no weighting).
        case sigmoidFocal(gamma: Float, alpha: Float)
        /// A regression loss of predictions.
        case regression(RegressionLoss)

        /// The input tensor's flag name and its gradient's file.
        var input: (flag: String, gradientFile: String) {
            if case .regression = self { return ("predictions", "grad_predictions.npy") }
            return ("logits", "grad_logits.npy")
        }
    }

    var loss: Loss
    /// The `--logits` or `--predictions` file.
    var logits: String
    /// The `--targets` file.
    var targets: String
    var reduction: LossReduction
    /// The `--grad-output` file (the logits' shape, only with reduction none), if any.
    var gradOutput: String?

    func run(_ engine: Engine) throws -> [TensorFiles.Output] {
        let input = loss.input
        let z = try TensorFiles.readFloatElements(logits, tensor: input.flag)
        let t = try TensorFiles.readFloatElements(targets, tensor: "targets")
        try TensorFiles.requireShape(t, "targets", path: targets, z.shape, meaning: "the shape of --\(input.flag)")
        let g = try gradOutput.map { path in
            let g = try TensorFiles.readFloatElements(path, tensor: "grad-output")
            try TensorFiles.requireShape(g, "grad-output", path: path, z.shape, meaning: "one value per element of --\(input.flag)")
            return g.matrix
        }
        let result: LossOutput
        switch loss {
        case .binaryCrossEntropy:
            result = try engine.binaryCrossEntropyWithLogits(logits: z.matrix, targets: t.matrix, reduction: reduction, gradOutput: g)
        case let .sigmoidFocal(gamma, alpha):
            result = try engine.sigmoidFocalLoss(logits: z.matrix, targets: t.matrix, gamma: gamma, alpha: alpha, reduction: reduction, gradOutput: g)
        case let .regression(regression):
            result = try engine.regressionLoss(regression, predictions: z.matrix, targets: t.matrix, reduction: reduction, gradOutput: g)
        }
        return [
            (name: "loss.npy", values: result.loss, shape: reduction == .none ? z.shape : []),
            (name: input.gradientFile, values: result.gradient.values, shape: z.shape),
        ]
    }
}
