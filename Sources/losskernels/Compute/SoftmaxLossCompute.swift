import LossKernels

/// `compute cross-entropy` and `compute focal`: softmax losses of `--logits` (`[B, C]`) against
/// `--labels` (`[B]` class indices, an integer .npy). Writes `loss.npy` (0-d for mean/sum, `[B]`
/// for none) and `grad_logits.npy` (`[B, C]`).
struct SoftmaxLossCompute {
    /// Which loss, with its own options.
    enum Loss {
        /// Cross-entropy: optional `--class-weights` file (`[C]`), `--ignore-index`, `--label-smoothing`.
        case crossEntropy(classWeights: String?, ignoreIndex: Int, labelSmoothing: Float)
        /// Softmax focal loss: `--gamma`, scalar `--alpha`.
        case focal(gamma: Float, alpha: Float)
    }

    var loss: Loss
    /// The `--logits` file.
    var logits: String
    /// The `--labels` file.
    var labels: String
    var reduction: LossReduction
    /// The `--grad-output` file (`[B]`, only with reduction none), if any.
    var gradOutput: String?

    func run(_ engine: Engine) throws -> [TensorFiles.Output] {
        let z = try TensorFiles.readFloatMatrix(logits, tensor: "logits")
        try TensorFiles.requireRank(z, "logits", path: logits, 2, meaning: "[B, C]: one row of class scores per sample")
        let (rows, classes) = (z.matrix.rows, z.matrix.columns)
        let y = try TensorFiles.readLabels(labels)
        try TensorFiles.requireLabelCount(y, path: labels, rows: rows, of: "logits")
        let g = try gradOutput.map { path in
            let g = try TensorFiles.readFloatElements(path, tensor: "grad-output")
            try TensorFiles.requireShape(g, "grad-output", path: path, [rows], meaning: "one value per row of --logits")
            return g.matrix.values
        }
        let result: LossOutput
        switch loss {
        case let .crossEntropy(classWeightsPath, ignoreIndex, labelSmoothing):
            let w = try classWeightsPath.map { path in
                let w = try TensorFiles.readFloatElements(path, tensor: "class-weights")
                try TensorFiles.requireShape(w, "class-weights", path: path, [classes], meaning: "one weight per class (column) of --logits")
                return w.matrix.values
            }
            result = try engine.crossEntropy(logits: z.matrix, labels: y, classWeights: w, ignoreIndex: ignoreIndex,
                                             labelSmoothing: labelSmoothing, reduction: reduction, gradOutput: g)
        case let .focal(gamma, alpha):
            result = try engine.focalLoss(logits: z.matrix, labels: y, gamma: gamma, alpha: .scalar(alpha), reduction: reduction, gradOutput: g)
        }
        return [
            (name: "loss.npy", values: result.loss, shape: reduction == .none ? [rows] : []),
            (name: "grad_logits.npy", values: result.gradient.values, shape: z.shape),
        ]
    }
}
