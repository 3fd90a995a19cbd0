import LossKernels
import LossKernelsReference

/// Pair, triplet, mined-triplet and center losses on embeddings (`[B, D]`).
extension Catalog {
    static func embeddings(_ flag: String, _ help: String) -> TensorSpec {
        TensorSpec(flag, .floats, .dims([.batch, .dim]), values: .uniform(scale: 1), help: "\(help), [B, D].")
    }

    static let contrastive = CatalogOperation(
        name: "contrastive",
        summary: "Contrastive loss ½·[s·d² + (1 − s)·max(margin − d, 0)²] of pairs: the loss and the gradients of both sides.",
        tensors: [
            embeddings("left", "First vectors of the pairs"), embeddings("right", "Second vectors of the pairs"),
            TensorSpec("similar", .flags, .dims([.batch]), values: .binary, help: "1 for a similar pair, 0 for a dissimilar one, [B]."),
            rowUpstream("left"),
        ],
        options: [Flags.reduction, OptionSpec("margin")],
        results: ["loss", "grad_left", "grad_right"],
        bench: BenchSpec(sizes: [.batch, .dim], defaultDim: 128),
        verification: [VerifyCase("contrastive", OperationOptions(["margin": .number(2)]), shape: BenchShape(batch: 16, classes: 4, dim: 12))],
        prepare: { setup in
            let engine = setup.requireEngine(), options = setup.options
            let a = setup.tensor("left"), b = setup.tensor("right"), similar = setup.tensor("similar").integers.map { $0 == 1 }
            let upstream = setup.optional("grad-output")?.floats
            let (am, bm) = (a.matrix, b.matrix)
            return PreparedCall(
                keepingLast: {
                    try engine.contrastiveLoss(
                        left: am, right: bm, similar: similar, margin: options.float("margin", default: 1), reduction: options.reduction,
                        gradOutput: upstream)
                },
                backend: \.backend,
                results: { o in
                    return [
                        NamedResult("loss", o.loss, shape: lossShape(options.word("reduction"), perRow: [am.rows])),
                        o.gradLeft.result("grad_left", shape: a.shape),
                        o.gradRight.result("grad_right", shape: b.shape),
                    ]
                })
        },
        reference: { setup in
            let a = setup.tensor("left")
            let r = MetricReference.contrastive(
                left: a.floats.map(Double.init), right: setup.tensor("right").floats.map(Double.init),
                similar: setup.tensor("similar").integers.map { $0 == 1 }, rows: a.matrix.rows, dimension: a.matrix.columns,
                margin: Double(setup.options.float("margin", default: 1)), reduction: setup.options.reduction,
                gradOutput: setup.optional("grad-output")?.floats.map(Double.init))
            return [.loss(r.loss), ReferenceResult("grad_left", r.gradLeft), ReferenceResult("grad_right", r.gradRight)]
        })

    static let triplet = CatalogOperation(
        name: "triplet",
        summary: "Triplet margin loss max(d(a,p) − d(a,n) + margin, 0), d = ‖x − y + eps‖_p, optional swap: the loss and the three gradients.",
        tensors: [embeddings("anchors", "Anchors"), embeddings("positives", "Positives"), embeddings("negatives", "Negatives"), rowUpstream("anchors")],
        options: [Flags.reduction, OptionSpec("margin"), OptionSpec("p"), OptionSpec("eps"), OptionSpec("swap")],
        results: ["loss", "grad_anchors", "grad_positives", "grad_negatives"],
        bench: BenchSpec(sizes: [.batch, .dim], defaultDim: 128),
        verification: [VerifyCase("triplet", shape: BenchShape(batch: 16, classes: 4, dim: 12))],
        prepare: { setup in
            let engine = setup.requireEngine(), options = setup.options
            let a = setup.tensor("anchors"), p = setup.tensor("positives"), n = setup.tensor("negatives")
            let upstream = setup.optional("grad-output")?.floats
            let (am, pm, nm) = (a.matrix, p.matrix, n.matrix)
            return PreparedCall(
                keepingLast: {
                    try engine.tripletMarginLoss(
                        anchors: am, positives: pm, negatives: nm, margin: options.float("margin", default: 1),
                        p: options.integer("p") ?? 2, eps: options.float("eps", default: 1e-6), swap: options.isOn("swap"),
                        reduction: options.reduction, gradOutput: upstream)
                },
                backend: \.backend,
                results: { o in
                    return [
                        NamedResult("loss", o.loss, shape: lossShape(options.word("reduction"), perRow: [am.rows])),
                        o.gradAnchors.result("grad_anchors", shape: a.shape), o.gradPositives.result("grad_positives", shape: a.shape),
                        o.gradNegatives.result("grad_negatives", shape: a.shape),
                    ]
                })
        },
        reference: { setup in
            let a = setup.tensor("anchors"), options = setup.options
            let r = MetricReference.triplet(
                anchors: a.floats.map(Double.init), positives: setup.tensor("positives").floats.map(Double.init),
                negatives: setup.tensor("negatives").floats.map(Double.init), rows: a.matrix.rows, dimension: a.matrix.columns,
                margin: Double(options.float("margin", default: 1)), p: options.integer("p") ?? 2,
                eps: Double(options.float("eps", default: 1e-6)), swap: options.isOn("swap"), reduction: options.reduction,
                gradOutput: setup.optional("grad-output")?.floats.map(Double.init))
            return [
                .loss(r.loss), ReferenceResult("grad_anchors", r.gradAnchors), ReferenceResult("grad_positives", r.gradPositives),
                ReferenceResult("grad_negatives", r.gradNegatives),
            ]
        })

    static let tripletMined = CatalogOperation(
        name: "triplet-mined",
        summary: "Triplet loss with in-batch mining (--mining all or hard) over labelled embeddings: the loss and its gradient.",
        tensors: [embeddings("embeddings", "Embeddings"), classLabels],
        options: [OptionSpec("margin"), OptionSpec("mining", words: TripletMining.allCases.map(\.rawValue))],
        results: ["loss", "grad_embeddings"],
        bench: BenchSpec(sizes: [.batch, .dim, .classes], defaultDim: 128, classes: { batch, classes in max(2, min(classes, batch / 4)) }),
        bound: .gemm,
        verification: TripletMining.allCases.map { mining in
            VerifyCase(
                "triplet-mined --mining \(mining.rawValue)", OperationOptions(["mining": .word(mining.rawValue)]),
                shape: BenchShape(batch: 16, classes: 4, dim: 12))
        },
        prepare: { setup in
            let engine = setup.requireEngine(), options = setup.options
            let e = setup.tensor("embeddings"), labels = setup.tensor("labels").integers
            let em = e.matrix
            let mining = options.word("mining").flatMap(TripletMining.init(rawValue:)) ?? .batchAll
            return PreparedCall(
                gemmShape: (em.rows, em.columns, em.rows),
                keepingLast: {
                    try engine.minedTripletLoss(embeddings: em, labels: labels, mining: mining, margin: options.float("margin", default: 1))
                },
                backend: \.backend,
                results: { o in
                    return [NamedResult("loss", [o.loss], shape: []), o.gradEmbeddings.result("grad_embeddings", shape: e.shape)]
                })
        },
        reference: { setup in
            let e = setup.tensor("embeddings")
            let r = MetricReference.mined(
                embeddings: e.floats.map(Double.init), labels: setup.tensor("labels").integers, rows: e.matrix.rows, dimension: e.matrix.columns,
                mining: setup.options.word("mining").flatMap(TripletMining.init(rawValue:)) ?? .batchAll,
                margin: Double(setup.options.float("margin", default: 1)))
            return [.loss([r.loss], .gemm), ReferenceResult("grad_embeddings", r.gradient, .gemm)]
        })

    static let center = CatalogOperation(
        name: "center",
        summary: "Center loss (1/(2B))·Σ‖x_i − c_{y_i}‖² against class centers, and the centers after one update step with rate --alpha.",
        tensors: [
            embeddings("features", "Features"), classLabels,
            TensorSpec("centers", .floats, .dims([.classes, .dim]), values: .uniform(scale: 1), help: "Class centers, [C, D]: the values before the update."),
        ],
        options: [OptionSpec("alpha")],
        results: ["loss", "grad_features", "centers"],
        bench: BenchSpec(sizes: [.batch, .dim, .classes], defaultDim: 128, classes: { _, classes in max(1, min(classes, 1 << 20)) }),
        verification: [VerifyCase("center", OperationOptions(["alpha": .number(0.5)]), shape: BenchShape(batch: 16, classes: 4, dim: 12))],
        prepare: { setup in
            let engine = setup.requireEngine()
            let x = setup.tensor("features"), c = setup.tensor("centers"), labels = setup.tensor("labels").integers
            let (xm, cm) = (x.matrix, c.matrix)
            let alpha = setup.options.float("alpha", default: 0.5)
            return PreparedCall(
                keepingLast: {
                    try engine.centerLoss(features: xm, labels: labels, centers: cm, alpha: alpha)
                },
                backend: \.backend,
                results: { o in
                    return [
                        NamedResult("loss", [o.loss], shape: []), o.gradFeatures.result("grad_features", shape: x.shape),
                        o.updatedCenters.result("centers", shape: c.shape),
                    ]
                })
        },
        reference: { setup in
            let x = setup.tensor("features"), c = setup.tensor("centers")
            let r = MetricReference.center(
                features: x.floats.map(Double.init), labels: setup.tensor("labels").integers, centers: c.floats.map(Double.init),
                rows: x.matrix.rows, classes: c.matrix.rows, dimension: x.matrix.columns, alpha: Double(setup.options.float("alpha", default: 0.5)))
            return [.loss([r.loss]), ReferenceResult("grad_features", r.gradFeatures), ReferenceResult("centers", r.updatedCenters)]
        })
}
