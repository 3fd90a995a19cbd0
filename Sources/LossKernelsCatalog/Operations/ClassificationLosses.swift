import LossKernels
import LossKernelsReference

/// The softmax losses of logits against per-row targets: cross-entropy (class indices or
/// probabilities) and softmax focal loss; and NLL and KL divergence of log-probabilities.
extension Catalog {
    static let classLogits = TensorSpec("logits", .floats, .dims([.batch, .classes]), values: .uniform(scale: 4), help: "Logits, [B, C]: one row per sample.")
    static let classLabels = TensorSpec("labels", .labels, .dims([.batch]), values: .classIndices, help: "Class indices, [B]: one per row.")
    static let classWeights = TensorSpec(
        "class-weights", .floats, .dims([.classes]), .optional, values: .uniform(scale: 0.5, offset: 1),
        help: "Per-class weights, [C].")
    /// The upstream gradient of reduction none, one value per row.
    static func rowUpstream(_ of: String) -> TensorSpec {
        TensorSpec(
            "grad-output", .floats, .rowsOf(of), .optional, values: .uniform(scale: 1),
            help: "Upstream gradient of reduction none, one value per row of --\(of).")
    }

    /// A loss of `[B, C]` logits called through its buffer form, the gradient buffer allocated once:
    /// `call(engine, logits, rows, columns, gradient)` returns the loss and the backend. Results:
    /// `loss` (a scalar, or one per row for none) and `grad_logits`.
    static func rowLoss(
        _ setup: CallSetup, resident: ((Engine, DeviceMatrix) throws -> DeviceLossOutput)? = nil,
        _ call: @escaping (Engine, UnsafeBufferPointer<Float>, Int, Int, UnsafeMutableBufferPointer<Float>) throws -> (loss: [Float], backend: Backend)
    ) throws -> PreparedCall {
        let engine = setup.requireEngine()
        let z = setup.tensor("logits"), reduction = setup.options.word("reduction")
        let (rows, columns) = (z.matrix.rows, z.matrix.columns)
        if setup.deviceResident, let resident {
            // The logits are uploaded once; each run leaves the gradient on the device.
            let logits = try engine.upload(z.matrix)
            var out: DeviceLossOutput? = nil
            return PreparedCall(
                run: {
                    out = try resident(engine, logits)
                    return .opencl
                },
                results: {
                    guard let out else { return [] }
                    return [
                        NamedResult("loss", out.loss, shape: lossShape(reduction, perRow: [rows])),
                        try engine.download(out.gradient).result("grad_logits", shape: z.shape),
                    ]
                })
        }
        let x = Buffer(z.floats), dz = Buffer(count: z.count)
        var loss: [Float] = []
        return PreparedCall(
            run: {
                let out = try x.read(into: dz) { try call(engine, $0, rows, columns, $1) }
                loss = out.loss
                return out.backend
            },
            results: {
                [NamedResult("loss", loss, shape: lossShape(reduction, perRow: [rows])), NamedResult("grad_logits", dz.values, shape: z.shape)]
            })
    }

    static let crossEntropy = CatalogOperation(
        name: "cross-entropy",
        summary:
            "Softmax cross-entropy of logits against class indices or probability targets (class weights, ignore index, label smoothing): the loss and its gradient.",
        tensors: [
            classLogits, TensorSpec("labels", .labels, .dims([.batch]), .oneOf("targets"), values: .classIndices, help: "Class indices, [B]: one per row."),
            TensorSpec(
                "target-probs", .floats, .sameAs("logits"), .oneOf("targets"), values: .uniform(scale: 0.5, offset: 0.5),
                help: "Probability targets instead of --labels, [B, C]: finite and >= 0."),
            classWeights, rowUpstream("logits"),
        ],
        options: [Flags.reduction, OptionSpec("ignore-index"), OptionSpec("label-smoothing")],
        results: ["loss", "grad_logits"],
        bench: BenchSpec(sizes: [.batch, .classes]),
        deviceResidentPasses: [.both],
        verification: [
            VerifyCase(
                "cross-entropy", OperationOptions(["label-smoothing": .number(0.1)]), tensors: ["class-weights"], shape: BenchShape(batch: 8, classes: 257)),
            VerifyCase(
                "cross-entropy --target-probs", OperationOptions(["label-smoothing": .number(0.1)]), tensors: ["target-probs", "class-weights"],
                shape: BenchShape(batch: 8, classes: 257)),
        ],
        exclusions: [("ignore-index", "target-probs")],
        prepare: { setup in
            let options = setup.options
            let labels = setup.optional("labels")?.integers, probabilities = setup.optional("target-probs")?.floats
            let weights = setup.optional("class-weights")?.floats, upstream = setup.optional("grad-output")?.floats
            let reduction = options.reduction, ignoreIndex = options.integer("ignore-index") ?? -100, smoothing = options.float("label-smoothing", default: 0)
            if setup.deviceResident && probabilities != nil {
                throw LossKernelsError.invalidOption(name: "target-probs", value: "given", allowed: "--labels with --device-resident (class-index targets)")
            }
            let resident = { (engine: Engine, logits: DeviceMatrix) in
                try engine.crossEntropy(
                    logits: logits, labels: labels ?? [], classWeights: weights, ignoreIndex: ignoreIndex, labelSmoothing: smoothing, reduction: reduction,
                    gradOutput: upstream)
            }
            return try rowLoss(setup, resident: resident) { engine, z, rows, columns, dz in
                if let probabilities {
                    return try probabilities.withUnsafeBufferPointer { t in
                        try engine.crossEntropy(
                            logits: z, rows: rows, columns: columns, targetProbabilities: t, classWeights: weights, labelSmoothing: smoothing,
                            reduction: reduction, gradOutput: upstream, gradient: dz)
                    }
                }
                return try engine.crossEntropy(
                    logits: z, rows: rows, columns: columns, labels: labels ?? [], classWeights: weights, ignoreIndex: ignoreIndex,
                    labelSmoothing: smoothing, reduction: reduction, gradOutput: upstream, gradient: dz)
            }
        },
        reference: { setup in
            let z = setup.tensor("logits"), options = setup.options
            let smoothing = options.float("label-smoothing", default: 0)
            let result =
                setup.optional("target-probs").map {
                    LossReference.crossEntropy(
                        logits: z.floats, rows: z.matrix.rows, columns: z.matrix.columns, probabilityTargets: $0.floats,
                        classWeights: setup.optional("class-weights")?.floats, labelSmoothing: smoothing, reduction: options.reduction,
                        gradOutput: setup.optional("grad-output")?.floats)
                }
                ?? LossReference.crossEntropy(
                    logits: z.floats, rows: z.matrix.rows, columns: z.matrix.columns, labels: setup.tensor("labels").integers,
                    classWeights: setup.optional("class-weights")?.floats, ignoreIndex: options.integer("ignore-index") ?? -100,
                    labelSmoothing: smoothing, reduction: options.reduction, gradOutput: setup.optional("grad-output")?.floats)
            return [.loss(result.loss), ReferenceResult("grad_logits", result.gradient)]
        })

    static let focal = CatalogOperation(
        name: "focal",
        summary: "Softmax focal loss −α_y·(1 − p_y)^γ·log p_y of logits against class indices: the loss and its gradient.",
        tensors: [classLogits, classLabels, rowUpstream("logits")],
        options: [Flags.reduction, OptionSpec("gamma"), OptionSpec("alpha")],
        results: ["loss", "grad_logits"],
        bench: BenchSpec(sizes: [.batch, .classes]),
        deviceResidentPasses: [.both],
        verification: [VerifyCase("focal", OperationOptions(["gamma": .number(2), "alpha": .number(0.25)]), shape: BenchShape(batch: 8, classes: 257))],
        prepare: { setup in
            let options = setup.options
            let labels = setup.tensor("labels").integers, upstream = setup.optional("grad-output")?.floats
            let reduction = options.reduction, gamma = options.float("gamma", default: 2), alpha = options.float("alpha", default: 1)
            let resident = { (engine: Engine, logits: DeviceMatrix) in
                try engine.focalLoss(logits: logits, labels: labels, gamma: gamma, alpha: .scalar(alpha), reduction: reduction, gradOutput: upstream)
            }
            return try rowLoss(setup, resident: resident) { engine, z, rows, columns, dz in
                try engine.focalLoss(
                    logits: z, rows: rows, columns: columns, labels: labels, gamma: gamma, alpha: .scalar(alpha), reduction: reduction,
                    gradOutput: upstream, gradient: dz)
            }
        },
        reference: { setup in
            let z = setup.tensor("logits"), options = setup.options
            let result = LossReference.focal(
                logits: z.floats, rows: z.matrix.rows, columns: z.matrix.columns, labels: setup.tensor("labels").integers,
                gamma: options.float("gamma", default: 2), alpha: .scalar(options.float("alpha", default: 1)),
                reduction: options.reduction, gradOutput: setup.optional("grad-output")?.floats)
            return [.loss(result.loss), ReferenceResult("grad_logits", result.gradient)]
        })

    static let logProbabilities = TensorSpec(
        "log-probs", .floats, .dims([.batch, .classes]), values: .logProbabilities(scale: 4),
        help: "Log-probabilities, [B, C] (a log-softmax output); −∞ allowed.")

    static let nll = CatalogOperation(
        name: "nll",
        summary: "Negative log-likelihood −w_y·x_{n,y} of log-probabilities against class indices (class weights, ignore index): the loss and its gradient.",
        tensors: [logProbabilities, classLabels, classWeights, rowUpstream("log-probs")],
        options: [Flags.reduction, OptionSpec("ignore-index")],
        results: ["loss", "grad_log_probs"],
        bench: BenchSpec(sizes: [.batch, .classes]),
        verification: [VerifyCase("nll", tensors: ["class-weights"], shape: BenchShape(batch: 8, classes: 257))],
        prepare: { setup in
            let engine = setup.requireEngine(), options = setup.options
            let x = setup.tensor("log-probs"), labels = setup.tensor("labels").integers
            let weights = setup.optional("class-weights")?.floats, upstream = setup.optional("grad-output")?.floats
            let xm = x.matrix
            return PreparedCall(
                keepingLast: {
                    try engine.nllLoss(
                        logProbabilities: xm, labels: labels, classWeights: weights, ignoreIndex: options.integer("ignore-index") ?? -100,
                        reduction: options.reduction, gradOutput: upstream)
                },
                backend: \.backend,
                results: { o in
                    return [
                        NamedResult("loss", o.loss, shape: lossShape(options.word("reduction"), perRow: [xm.rows])),
                        o.gradient.result("grad_log_probs", shape: x.shape),
                    ]
                })
        },
        reference: { setup in
            let x = setup.tensor("log-probs"), options = setup.options
            let result = LossReference.nllLoss(
                logProbabilities: x.floats, rows: x.matrix.rows, columns: x.matrix.columns, labels: setup.tensor("labels").integers,
                classWeights: setup.optional("class-weights")?.floats, ignoreIndex: options.integer("ignore-index") ?? -100,
                reduction: options.reduction, gradOutput: setup.optional("grad-output")?.floats)
            return [.loss(result.loss), ReferenceResult("grad_log_probs", result.gradient)]
        })

    static let klDivergence = CatalogOperation(
        name: "kl-div",
        summary: "KL divergence t·(log t − x) of log-probabilities x against targets (--log-target: log t), PyTorch's kl_div: the loss and its gradient.",
        tensors: [
            TensorSpec(
                "log-probs", .floats, .rowsOfClasses, values: .logProbabilities(scale: 4),
                help: "Log-probabilities of any rank ≥ 1; B is the first dimension (batchmean divides by it); −∞ allowed."),
            TensorSpec(
                "targets", .floats, .sameAs("log-probs"), values: .uniform(scale: 0.5, offset: 0.5),
                help: "Targets, the shape of --log-probs: probabilities (finite, >= 0), or with --log-target their logarithms."),
            elementUpstream("log-probs"),
        ],
        options: [Flags.klReduction, OptionSpec("log-target")],
        results: ["loss", "grad_log_probs"],
        bench: BenchSpec(sizes: [.batch, .classes]),
        verification: [
            VerifyCase("kl-div", shape: BenchShape(batch: 8, classes: 257)),
            VerifyCase(
                "kl-div --log-target --reduction batchmean", OperationOptions(["log-target": .on, "reduction": .word("batchmean")]),
                shape: BenchShape(batch: 8, classes: 257)),
        ],
        prepare: { setup in
            let engine = setup.requireEngine(), options = setup.options
            let x = setup.tensor("log-probs"), t = setup.tensor("targets"), g = setup.optional("grad-output")
            let (xm, tm, gm) = (x.leadingRowsMatrix, t.leadingRowsMatrix, g?.leadingRowsMatrix)
            let reduction = options.word("reduction").flatMap(KLDivReduction.init(rawValue:)) ?? .mean
            return PreparedCall(
                keepingLast: {
                    try engine.klDivLoss(
                        logProbabilities: xm, targets: tm, logTarget: options.isOn("log-target"), reduction: reduction, gradOutput: gm)
                },
                backend: \.backend,
                results: { o in
                    return [NamedResult("loss", o.loss, shape: reduction == .none ? x.shape : []), o.gradient.result("grad_log_probs", shape: x.shape)]
                })
        },
        reference: { setup in
            let x = setup.tensor("log-probs"), options = setup.options
            let m = x.leadingRowsMatrix
            let result = LossReference.klDivergence(
                input: x.floats, targets: setup.tensor("targets").floats, rows: m.rows, columns: m.columns,
                logTarget: options.isOn("log-target"),
                reduction: options.word("reduction").flatMap(KLDivReduction.init(rawValue:)) ?? .mean,
                gradOutput: setup.optional("grad-output")?.floats)
            return [.loss(result.loss), ReferenceResult("grad_log_probs", result.gradient)]
        })
}
