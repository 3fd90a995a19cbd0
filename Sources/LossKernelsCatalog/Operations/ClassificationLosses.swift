import LossKernels
import LossKernelsReference

/// The softmax losses of logits against per-row targets: cross-entropy (class indices or
/// probabilities) and softmax focal loss; and NLL and KL divergence of log-probabilities.
extension Catalog {
    static let classLogits = TensorSpec("logits", .floats, .dims([.batch, .classes]), values: .uniform(scale: 4), help: "Logits, [B, C]: one row per sample.")
    static let classLabels = TensorSpec("labels", .labels, .dims([.batch]), values: .classIndices, help: "Class indices, [B]: one per row.")
    static let classWeights = TensorSpec("class-weights", .floats, .dims([.classes]), .optional, values: .uniform(scale: 0.5, offset: 1),
                                         help: "Per-class weights, [C].")
    /// The upstream gradient of reduction none, one value per row.
    static func rowUpstream(_ of: String) -> TensorSpec {
        TensorSpec("grad-output", .floats, .rowsOf(of), .optional, values: .uniform(scale: 1), help: "Upstream gradient of reduction none, one value per row of --\(of).")
    }

    static let crossEntropy = CatalogOperation(
        name: "cross-entropy",
        summary: "Softmax cross-entropy of logits against class indices (class weights, ignore index, label smoothing): the loss and its gradient.",
        tensors: [classLogits, TensorSpec("labels", .labels, .dims([.batch]), .oneOf("targets"), values: .classIndices, help: "Class indices, [B]: one per row."),
                  classWeights, rowUpstream("logits")],
        options: [Flags.reduction, OptionSpec("ignore-index"), OptionSpec("label-smoothing")],
        results: ["loss", "grad_logits"],
        bench: BenchSpec(sizes: [.batch, .classes]),
        verification: [VerifyCase("cross-entropy", OperationOptions(["label-smoothing": .number(0.1)]), tensors: ["class-weights"], shape: BenchShape(batch: 8, classes: 257))],
        prepare: { setup in
            let engine = setup.requireEngine()
            let z = setup.tensor("logits"), options = setup.options
            let labels = setup.tensor("labels").integers, weights = setup.optional("class-weights")?.floats, upstream = setup.optional("grad-output")?.floats
            let (rows, columns) = (z.matrix.rows, z.matrix.columns)
            let reduction = options.reduction, ignoreIndex = options.integer("ignore-index") ?? -100, smoothing = options.float("label-smoothing", default: 0)
            let x = Buffer(z.floats), dz = Buffer(count: z.count)
            var loss: [Float] = []
            return PreparedCall(run: {
                let out = try x.read(into: dz) { z, dz in
                    try engine.crossEntropy(logits: z, rows: rows, columns: columns, labels: labels, classWeights: weights, ignoreIndex: ignoreIndex,
                                            labelSmoothing: smoothing, reduction: reduction, gradOutput: upstream, gradient: dz)
                }
                loss = out.loss
                return out.backend
            }, results: { [NamedResult("loss", loss, shape: lossShape(options.word("reduction"), perRow: [rows])), NamedResult("grad_logits", dz.values, shape: z.shape)] })
        },
        reference: { setup in
            let z = setup.tensor("logits"), options = setup.options
            let result = LossReference.crossEntropy(logits: z.floats, rows: z.matrix.rows, columns: z.matrix.columns, labels: setup.tensor("labels").integers,
                                                    classWeights: setup.optional("class-weights")?.floats, ignoreIndex: options.integer("ignore-index") ?? -100,
                                                    labelSmoothing: options.float("label-smoothing", default: 0), reduction: options.reduction,
                                                    gradOutput: setup.optional("grad-output")?.floats)
            return [.loss(result.loss), ReferenceResult("grad_logits", result.gradient)]
        })

    static let focal = CatalogOperation(
        name: "focal",
        summary: "Softmax focal loss −α_y·(1 − p_y)^γ·log p_y of logits against class indices: the loss and its gradient.",
        tensors: [classLogits, classLabels, rowUpstream("logits")],
        options: [Flags.reduction, OptionSpec("gamma"), OptionSpec("alpha")],
        results: ["loss", "grad_logits"],
        bench: BenchSpec(sizes: [.batch, .classes]),
        verification: [VerifyCase("focal", OperationOptions(["gamma": .number(2), "alpha": .number(0.25)]), shape: BenchShape(batch: 8, classes: 257))],
        prepare: { setup in
            let engine = setup.requireEngine()
            let z = setup.tensor("logits"), options = setup.options
            let labels = setup.tensor("labels").integers, upstream = setup.optional("grad-output")?.floats
            let (rows, columns) = (z.matrix.rows, z.matrix.columns)
            let reduction = options.reduction, gamma = options.float("gamma", default: 2), alpha = options.float("alpha", default: 1)
            let x = Buffer(z.floats), dz = Buffer(count: z.count)
            var loss: [Float] = []
            return PreparedCall(run: {
                let out = try x.read(into: dz) { z, dz in
                    try engine.focalLoss(logits: z, rows: rows, columns: columns, labels: labels, gamma: gamma, alpha: .scalar(alpha), reduction: reduction,
                                         gradOutput: upstream, gradient: dz)
                }
                loss = out.loss
                return out.backend
            }, results: { [NamedResult("loss", loss, shape: lossShape(options.word("reduction"), perRow: [rows])), NamedResult("grad_logits", dz.values, shape: z.shape)] })
        },
        reference: { setup in
            let z = setup.tensor("logits"), options = setup.options
            let result = LossReference.focal(logits: z.floats, rows: z.matrix.rows, columns: z.matrix.columns, labels: setup.tensor("labels").integers,
                                             gamma: options.float("gamma", default: 2), alpha: .scalar(options.float("alpha", default: 1)),
                                             reduction: options.reduction, gradOutput: setup.optional("grad-output")?.floats)
            return [.loss(result.loss), ReferenceResult("grad_logits", result.gradient)]
        })
}
