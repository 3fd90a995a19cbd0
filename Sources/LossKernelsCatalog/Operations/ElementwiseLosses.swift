import LossKernels
import LossKernelsReference

/// The elementwise losses: BCE with logits and sigmoid focal loss of logits against targets in
/// [0, 1], and the regression losses of predictions against targets; inputs of any shape.
extension Catalog {
    /// An elementwise loss's upstream gradient (reduction none): one value per element.
    static func elementUpstream(_ of: String) -> TensorSpec {
        TensorSpec(
            "grad-output", .floats, .sameAs(of), .optional, values: .uniform(scale: 1), help: "Upstream gradient of reduction none, the shape of --\(of).")
    }

    static let binaryLogits = TensorSpec("logits", .floats, .anyRank, values: .uniform(scale: 4), help: "Logits of any shape.")
    static let binaryTargets = TensorSpec(
        "targets", .floats, .sameAs("logits"), values: .uniform(scale: 0.5, offset: 0.5), help: "Targets in [0, 1], the shape of --logits.")

    /// A loss whose library call takes matrices and returns a `LossOutput`; its results are `loss`
    /// (a scalar, or the input's shape for none) and `gradient`.
    static func elementwise(
        input: String, gradient: String, _ setup: CallSetup,
        _ call: @escaping (Engine, Matrix, Matrix, LossReduction, Matrix?) throws -> LossOutput
    ) -> PreparedCall {
        let engine = setup.requireEngine()
        let x = setup.tensor(input), t = setup.tensor("targets"), g = setup.optional("grad-output")
        let reduction = setup.options.reduction
        let (xm, tm, gm) = (x.matrix, t.matrix, g?.matrix)
        return PreparedCall(
            keepingLast: {
                try call(engine, xm, tm, reduction, gm)
            },
            backend: \.backend,
            results: { output in
                return [NamedResult("loss", output.loss, shape: reduction == .none ? x.shape : []), output.gradient.result(gradient, shape: x.shape)]
            })
    }

    static let bceWithLogits = CatalogOperation(
        name: "bce-with-logits",
        summary: "Binary cross-entropy with logits, elementwise against targets in [0, 1] (PyTorch's weight and pos_weight): the loss and its gradient.",
        tensors: [
            binaryLogits, binaryTargets,
            TensorSpec(
                "element-weights", .floats, .sameAsOrRow("logits"), .optional, values: .uniform(scale: 0.5, offset: 1),
                help: "Per-element weights: the shape of --logits, or [C] broadcast over its rows; finite and >= 0."),
            TensorSpec(
                "pos-weight", .floats, .lastDimensionOf("logits"), .optional, values: .uniform(scale: 0.5, offset: 1),
                help: "Weight of the positive term per class (last dimension of --logits), [C]; finite and >= 0."),
            elementUpstream("logits"),
        ],
        options: [Flags.reduction],
        results: ["loss", "grad_logits"],
        bench: BenchSpec(sizes: [.elements, .batch, .classes]),
        verification: [
            VerifyCase("bce-with-logits", shape: BenchShape(batch: 1, classes: 1, elements: 4099)),
            VerifyCase(
                "bce-with-logits --element-weights --pos-weight", tensors: ["element-weights", "pos-weight"], shape: BenchShape(batch: 8, classes: 257)),
        ],
        prepare: { setup in
            let logits = setup.tensor("logits")
            let weight = setup.optional("element-weights").map {
                $0.shape == logits.shape ? $0.matrix : try! Matrix(rows: 1, columns: $0.count, values: $0.floats)
            }
            let posWeight = setup.optional("pos-weight")?.floats
            return elementwise(input: "logits", gradient: "grad_logits", setup) { engine, z, t, reduction, g in
                try engine.binaryCrossEntropyWithLogits(logits: z, targets: t, weight: weight, posWeight: posWeight, reduction: reduction, gradOutput: g)
            }
        },
        reference: { setup in
            let logits = setup.tensor("logits")
            let weights = setup.optional("element-weights")?.floats, posWeight = setup.optional("pos-weight")?.floats
            let result =
                weights == nil && posWeight == nil
                ? LossReference.binaryCrossEntropyWithLogits(
                    logits: logits.floats, targets: setup.tensor("targets").floats,
                    reduction: setup.options.reduction, gradOutput: setup.optional("grad-output")?.floats)
                : LossReference.binaryCrossEntropyWithLogits(
                    logits: logits.floats, targets: setup.tensor("targets").floats, columns: logits.shape.last ?? 1,
                    weights: weights, posWeight: posWeight, reduction: setup.options.reduction,
                    gradOutput: setup.optional("grad-output")?.floats)
            return [.loss(result.loss), ReferenceResult("grad_logits", result.gradient)]
        })

    static let sigmoidFocal = CatalogOperation(
        name: "sigmoid-focal",
        summary: "torchvision's sigmoid focal loss, elementwise against targets in [0, 1]: the loss and its gradient.",
        tensors: [binaryLogits, binaryTargets, elementUpstream("logits")],
        options: [Flags.reduction, OptionSpec("gamma"), OptionSpec("alpha")],
        results: ["loss", "grad_logits"],
        bench: BenchSpec(sizes: [.elements, .batch, .classes]),
        verification: [
            VerifyCase(
                "sigmoid-focal", OperationOptions(["gamma": .number(2), "alpha": .number(0.25)]), shape: BenchShape(batch: 1, classes: 1, elements: 4099))
        ],
        prepare: { setup in
            let gamma = setup.options.float("gamma", default: 2), alpha = setup.options.float("alpha", default: 0.25)
            return elementwise(input: "logits", gradient: "grad_logits", setup) { engine, z, t, reduction, g in
                try engine.sigmoidFocalLoss(logits: z, targets: t, gamma: gamma, alpha: alpha, reduction: reduction, gradOutput: g)
            }
        },
        reference: { setup in
            let result = LossReference.sigmoidFocal(
                logits: setup.tensor("logits").floats, targets: setup.tensor("targets").floats,
                gamma: setup.options.float("gamma", default: 2), alpha: setup.options.float("alpha", default: 0.25),
                reduction: setup.options.reduction, gradOutput: setup.optional("grad-output")?.floats)
            return [.loss(result.loss), ReferenceResult("grad_logits", result.gradient)]
        })

    /// The regression losses, each with its own option (β, δ) and value ranges.
    static let regression: [CatalogOperation] = [
        regressionOperation("mse", "(p − t)²"), regressionOperation("l1", "|p − t|"),
        regressionOperation("smooth-l1", "0.5(p−t)²/β inside |p−t| < β, else |p−t| − 0.5β", option: "beta"),
        regressionOperation("huber", "0.5(p−t)² inside |p−t| < δ, else δ(|p−t| − 0.5δ)", option: "delta"),
        regressionOperation("msle", "(log(max(p,ε)+1) − log(max(t,ε)+1))²", predictions: .uniform(scale: 1, offset: 1), targets: .uniform(scale: 1, offset: 1)),
        regressionOperation("mape", "100·|t − p|/max(|t|, ε)", targets: .uniform(scale: 1, offset: 2)),
    ]

    /// The `RegressionLoss` an operation's name and options describe.
    static func regressionLoss(_ name: String, _ options: OperationOptions) -> RegressionLoss {
        switch name {
        case "mse": return .mse
        case "l1": return .l1
        case "smooth-l1": return .smoothL1(beta: options.float("beta", default: 1))
        case "huber": return .huber(delta: options.float("delta", default: 1))
        case "msle": return .msle
        default: return .mape
        }
    }

    static func regressionOperation(
        _ name: String, _ formula: String, option: String? = nil, predictions: TensorSpec.Values = .uniform(scale: 2),
        targets: TensorSpec.Values = .uniform(scale: 2)
    ) -> CatalogOperation {
        CatalogOperation(
            name: name,
            summary: "Regression loss \(formula) per element of predictions against targets: the loss and its gradient.",
            tensors: [
                TensorSpec("predictions", .floats, .anyRank, values: predictions, help: "Predictions of any shape."),
                TensorSpec("targets", .floats, .sameAs("predictions"), values: targets, help: "Targets, the shape of --predictions."),
                elementUpstream("predictions"),
            ],
            options: [Flags.reduction] + (option.map { [OptionSpec($0)] } ?? []),
            results: ["loss", "grad_predictions"],
            bench: BenchSpec(sizes: [.elements], defaultElements: 1 << 24),
            verification: [VerifyCase(name, shape: BenchShape(batch: 1, classes: 1, elements: 4099))],
            prepare: { setup in
                let loss = regressionLoss(name, setup.options)
                let reduction = setup.options.reduction
                guard reduction == .none || setup.optional("grad-output") != nil else {
                    // Mean and sum through the buffer form: the gradient buffer is reused.
                    let engine = setup.requireEngine()
                    let p = setup.tensor("predictions"), targets = setup.tensor("targets").floats
                    let x = Buffer(p.floats), dp = Buffer(count: p.count)
                    var value: [Float] = []
                    return PreparedCall(
                        run: {
                            let out = try targets.withUnsafeBufferPointer { t in
                                try x.read(into: dp) { try engine.regressionLoss(loss, predictions: $0, targets: t, reduction: reduction, gradient: $1) }
                            }
                            value = out.loss
                            return out.backend
                        }, results: { [NamedResult("loss", value, shape: []), NamedResult("grad_predictions", dp.values, shape: p.shape)] })
                }
                return elementwise(input: "predictions", gradient: "grad_predictions", setup) { engine, p, t, reduction, g in
                    try engine.regressionLoss(loss, predictions: p, targets: t, reduction: reduction, gradOutput: g)
                }
            },
            reference: { setup in
                let loss = regressionLoss(name, setup.options)
                let p = setup.tensor("predictions").floats, t = setup.tensor("targets").floats
                let (losses, derivatives) = LossReference.eachElement(p.map(Double.init), t.map(Double.init)) { RegressionReference.element(loss, $0, $1) }
                let result = LossReference.reduceElementwise(
                    losses, derivatives, setup.options.reduction, setup.optional("grad-output")?.floats.map(Double.init))
                return [.loss(result.loss), ReferenceResult("grad_predictions", result.gradient)]
            })
    }
}
