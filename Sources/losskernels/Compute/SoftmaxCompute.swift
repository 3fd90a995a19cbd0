import LossKernels

/// `compute softmax` and `compute log-softmax`: the row-wise (log-)softmax of `--logits` (any rank
/// ≥ 1, the last dimension is the classes) and, with `--grad-output` (the output's shape), its
/// vector–Jacobian product.
struct SoftmaxCompute {
    /// `true` for log-softmax.
    var logarithm: Bool
    /// The `--logits` file.
    var logits: String
    /// The `--grad-output` file, if any.
    var gradOutput: String?

    /// `probs.npy` or `log_probs.npy`, and `grad_logits.npy` with `--grad-output`.
    func run(_ engine: Engine) throws -> [TensorFiles.Output] {
        let z = try TensorFiles.readFloatMatrix(logits, tensor: "logits")
        let g = try gradOutput.map { try TensorFiles.readFloatMatrix($0, tensor: "grad-output") }
        if let g { try TensorFiles.requireSameShape(g, "grad-output", as: z, "logits") }
        let y = logarithm ? try engine.logSoftmax(z.matrix) : try engine.softmax(z.matrix)
        var outputs: [TensorFiles.Output] = [(name: logarithm ? "log_probs.npy" : "probs.npy", values: y.values, shape: z.shape)]
        if let g {
            let dz = logarithm
                ? try engine.logSoftmaxBackward(logProbabilities: y, gradOutput: g.matrix)
                : try engine.softmaxBackward(probabilities: y, gradOutput: g.matrix)
            outputs.append((name: "grad_logits.npy", values: dz.values, shape: z.shape))
        }
        return outputs
    }
}
