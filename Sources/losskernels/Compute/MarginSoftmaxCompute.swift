import LossKernels

/// `compute margin-softmax`: a normalised-cosine margin head (`--head` and its flags) over
/// `--features` (`[B, D]`) and the class weights `--weights` (`[C, D]`) with `--labels` (`[B]`).
/// Writes `loss.npy` (0-d for mean/sum, `[B]` for none), `grad_features.npy` (`[B, D]`) and
/// `grad_weights.npy` (`[C, D]`).
struct MarginSoftmaxCompute {
    /// The `--features` file.
    var features: String
    /// The `--weights` file (one row per class).
    var weights: String
    /// The `--labels` file.
    var labels: String
    /// The head and its options, checked by the library.
    var head: MarginHead
    /// `--memory-budget-mb` in bytes, if given: what the logits tile may use.
    var memoryBudget: Int?
    var reduction: LossReduction
    /// The `--grad-output` file (`[B]`, only with reduction none), if any.
    var gradOutput: String?

    func run(_ engine: Engine) throws -> [TensorFiles.Output] {
        let x = try TensorFiles.readFloatMatrix(features, tensor: "features")
        try TensorFiles.requireRank(x, "features", path: features, 2, meaning: "[B, D]: one embedding per row")
        let w = try TensorFiles.readFloatMatrix(weights, tensor: "weights")
        try TensorFiles.requireRank(w, "weights", path: weights, 2, meaning: "[C, D]: one row of class weights per class")
        let (rows, dimension) = (x.matrix.rows, x.matrix.columns)
        guard w.matrix.columns == dimension else {
            throw CommandFailure(message: "\(weights): --weights has shape \(w.shape) but --features has \(dimension) columns; the widths D must match ([C, \(dimension)])")
        }
        let y = try TensorFiles.readLabels(labels)
        try TensorFiles.requireLabelCount(y, path: labels, rows: rows, of: "features")
        let g = try gradOutput.map { path in
            let g = try TensorFiles.readFloatElements(path, tensor: "grad-output")
            try TensorFiles.requireShape(g, "grad-output", path: path, [rows], meaning: "one value per row of --features")
            return g.matrix.values
        }
        let result = try engine.marginSoftmax(features: x.matrix, classWeights: w.matrix, labels: y, head: head,
                                              reduction: reduction, gradOutput: g, memoryBudget: memoryBudget)
        return [
            (name: "loss.npy", values: result.loss, shape: reduction == .none ? [rows] : []),
            (name: "grad_features.npy", values: result.gradFeatures.values, shape: x.shape),
            (name: "grad_weights.npy", values: result.gradClassWeights.values, shape: w.shape),
        ]
    }
}
