import LossKernels
import LossKernelsReference

/// The margin-softmax heads and the training step of a `MarginSoftmaxHead`.
extension Catalog {
    /// The head `--head` and its flags describe (cosface by default).
    public static func head(_ options: OperationOptions) -> MarginHead {
        var head: MarginHead
        switch options.word("head") ?? "cosface" {
        case "normalized": head = .normalized()
        case "arcface": head = .arcFace()
        case "combined": head = .combined()
        case "sphereface": head = .sphereFace()
        case "large-margin": head = .largeMargin()
        default: head = .cosFace()
        }
        if let scale = options.float("scale") { head.scale = scale }
        if let margin = options.float("margin") { head.margin = margin }
        if let m1 = options.float("m1") { head.m1 = m1 }
        if let m2 = options.float("m2") { head.m2 = m2 }
        if let m3 = options.float("m3") { head.m3 = m3 }
        if let lambda = options.float("lambda") { head.lambda = lambda }
        head.easyMargin = options.isOn("easy-margin")
        head.gradient = options.word("gradient").flatMap(MarginGradient.init(rawValue:)) ?? .exact
        return head
    }

    /// The `--head` word of a head kind ("cosface", "large-margin").
    public static func headName(_ kind: MarginHead.Kind) -> String {
        switch kind {
        case .normalized: return "normalized"
        case .cosFace: return "cosface"
        case .arcFace: return "arcface"
        case .combined: return "combined"
        case .sphereFace: return "sphereface"
        case .largeMargin: return "large-margin"
        }
    }

    /// The largest `--memory-budget-mb` accepted (1 TiB).
    public static let maximumMemoryBudgetMb = 1 << 20

    /// `--memory-budget-mb` in bytes, if given.
    /// - Throws: `.invalidOption` outside 1…2^20 MiB.
    public static func memoryBudget(_ options: OperationOptions) throws -> Int? {
        guard let mb = options.integer("memory-budget-mb") else { return nil }
        guard (1...maximumMemoryBudgetMb).contains(mb) else {
            throw LossKernelsError.invalidOption(name: "--memory-budget-mb", value: "\(mb)", allowed: "1...\(maximumMemoryBudgetMb) MiB")
        }
        return mb << 20
    }

    /// The head flags a head does not use: `--scale` for large-margin, `--margin` for normalized
    /// and combined, `--m1/--m2/--m3` outside combined, `--lambda` outside sphereface and
    /// large-margin, `--easy-margin` outside arcface.
    public static func unusedHeadFlag(_ options: OperationOptions) -> String? {
        let head = options.word("head") ?? "cosface"
        let unused: [(String, Bool)] = [
            ("scale", head == "large-margin"), ("margin", ["normalized", "combined"].contains(head)),
            ("m1", head != "combined"), ("m2", head != "combined"), ("m3", head != "combined"),
            ("lambda", !["sphereface", "large-margin"].contains(head)), ("easy-margin", head != "arcface"),
        ]
        return unused.first { options.values[$0.0] != nil && $0.1 }?.0
    }

    static let marginSoftmax = CatalogOperation(
        name: "margin-softmax",
        summary: "A normalised-cosine margin head (--head): softmax cross-entropy of features against class weights; the loss, ∂L/∂X and ∂L/∂W.",
        tensors: [
            TensorSpec("features", .floats, .dims([.batch, .dim]), values: .uniform(scale: 1), help: "Features X, [B, D]: one embedding per row."),
            TensorSpec("weights", .floats, .dims([.classes, .dim]), values: .uniform(scale: 0.05), help: "Class weights W, [C, D]: one row per class."),
            classLabels, rowUpstream("features"),
        ],
        options: [Flags.reduction] + Flags.head,
        results: ["loss", "grad_features", "grad_weights"],
        bench: BenchSpec(sizes: [.batch, .classes, .dim], defaultDim: 512),
        bound: .gemm,
        deviceResidentPasses: [.both],
        verification: [
            ("normalized", 8), ("cosface", 8), ("arcface", 8), ("combined", 8), ("sphereface", nil), ("large-margin", nil),
        ].map { name, scale in
            var options: [String: OperationOptions.Value] = ["head": .word(name)]
            if let scale { options["scale"] = .number(scale) }
            if name == "large-margin" { options["margin"] = .number(2); options["lambda"] = .number(1) }
            return VerifyCase("margin-softmax --head \(name)", OperationOptions(options), shape: BenchShape(batch: 8, classes: 97, dim: 24))
        },
        prepare: { setup in
            let engine = setup.requireEngine()
            let head = Catalog.head(setup.options), budget = try memoryBudget(setup.options), reduction = setup.options.reduction
            let x = setup.tensor("features"), w = setup.tensor("weights"), labels = setup.tensor("labels").integers,
                upstream = setup.optional("grad-output")?.floats
            let (b, d, c) = (x.matrix.rows, x.matrix.columns, w.matrix.rows)
            if setup.deviceResident {
                // W is uploaded once; each run moves the features and ∂L/∂X, and leaves ∂L/∂W on the device.
                let weights = try engine.upload(w.matrix)
                var out: DeviceMarginSoftmaxOutput? = nil
                return PreparedCall(
                    gemmShape: (b, d, c),
                    run: {
                        out = try engine.marginSoftmax(
                            features: x.matrix, classWeights: weights, labels: labels, head: head, reduction: reduction, gradOutput: upstream,
                            memoryBudget: budget)
                        return .opencl
                    },
                    results: {
                        guard let out else { return [] }
                        return [
                            NamedResult("loss", out.loss, shape: lossShape(setup.options.word("reduction"), perRow: [b])),
                            out.gradFeatures.result("grad_features", shape: x.shape),
                            try engine.download(out.gradClassWeights).result("grad_weights", shape: w.shape),
                        ]
                    })
            }
            let features = Buffer(x.floats), weights = Buffer(w.floats), dx = Buffer(count: x.count), dw = Buffer(count: w.count)
            var loss: [Float] = []
            return PreparedCall(
                gemmShape: (b, d, c),
                run: {
                    let out = try features.read(into: dx) { x, dx in
                        try weights.read(into: dw) { w, dw in
                            try engine.marginSoftmax(
                                features: x, classWeights: w, rows: b, classes: c, dimension: d, labels: labels, head: head,
                                reduction: reduction, gradOutput: upstream, memoryBudget: budget, gradFeatures: dx, gradClassWeights: dw)
                        }
                    }
                    loss = out.loss
                    return out.backend
                },
                results: {
                    [
                        NamedResult("loss", loss, shape: lossShape(setup.options.word("reduction"), perRow: [b])),
                        NamedResult("grad_features", dx.values, shape: x.shape),
                        NamedResult("grad_weights", dw.values, shape: w.shape),
                    ]
                })
        },
        reference: { setup in
            let x = setup.tensor("features"), w = setup.tensor("weights")
            let problem = HeadLossReference.Problem(
                x: x.floats.map(Double.init), w: w.floats.map(Double.init), labels: setup.tensor("labels").integers,
                b: x.matrix.rows, c: w.matrix.rows, d: x.matrix.columns, head: Catalog.head(setup.options),
                reduction: setup.options.reduction, gradOutput: setup.optional("grad-output")?.floats.map(Double.init))
            let result = HeadAnalyticReference.evaluate(problem)
            return [.loss(result.loss, .gemm), ReferenceResult("grad_features", result.dx, .gemm), ReferenceResult("grad_weights", result.dw, .gemm)]
        })

    static let trainStep = CatalogOperation(
        name: "train-step",
        summary:
            "One training step of a MarginSoftmaxHead: the loss, ∂L/∂X and the SGD update of the sampled classes (Partial FC), W staying where the head keeps it.",
        tensors: [TensorSpec("features", .floats, .dims([.batch, .dim]), values: .uniform(scale: 1), help: "Features X, [B, D]."), classLabels],
        options: Flags.head + Flags.training,
        results: ["loss", "grad_features"],
        computable: false,
        bench: BenchSpec(sizes: [.batch, .classes, .dim], defaultDim: 512),
        bound: .gemm,
        prepare: { setup in
            let engine = setup.requireEngine(), options = setup.options
            let x = setup.tensor("features"), labels = setup.tensor("labels").integers
            let features = x.matrix
            let classes = setup.shape?.classes ?? (labels.max() ?? 0) + 1
            let head = try MarginSoftmaxHead(
                engine: engine, classes: classes, dimension: features.columns, head: Catalog.head(options),
                optimizer: optimizer(options), sampleRate: options.number("sample-rate") ?? 1, seed: setup.seed,
                memoryBudget: try memoryBudget(options))
            let sampled = max(head.sampler.targetCount, Set(labels).count)
            var step: MarginSoftmaxHead.Step?
            return PreparedCall(
                gemmShape: (features.rows, features.columns, sampled),
                run: {
                    let out = try head.step(features: features, labels: labels)
                    step = out
                    return out.backend
                },
                results: {
                    guard let step else { return [] }
                    return [NamedResult("loss", [step.loss], shape: []), step.gradFeatures.result("grad_features", shape: x.shape)]
                })
        })

    /// The SGD options `--learning-rate`, `--momentum`, `--weight-decay` describe.
    public static func optimizer(_ options: OperationOptions) -> SGDOptions {
        SGDOptions(
            learningRate: options.float("learning-rate", default: 0.1), momentum: options.float("momentum", default: 0.9),
            weightDecay: options.float("weight-decay", default: 5e-4))
    }
}
