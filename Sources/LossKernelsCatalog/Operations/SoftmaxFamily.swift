import LossKernels
import LossKernelsReference

/// softmax, log-softmax and logsumexp: the forward pass, and the backward when an upstream
/// gradient is given (`--grad-output`, `bench --pass both`); device-resident in `bench`.
extension Catalog {
    static let logits = TensorSpec(
        "logits", .floats, .rowsOfClasses, values: .uniform(scale: 4),
        help: "Logits of any rank ≥ 1; the last dimension holds the classes.")

    static let softmaxFamily: [CatalogOperation] = [rowwise(.softmax), rowwise(.logSoftmax), logSumExp]

    enum RowwiseKind { case softmax, logSoftmax }

    static func rowwise(_ kind: RowwiseKind) -> CatalogOperation {
        let logarithm = kind == .logSoftmax
        let output = logarithm ? "log_probs" : "probs"
        return CatalogOperation(
            name: logarithm ? "log-softmax" : "softmax",
            summary: logarithm
                ? "z − max − log Σ exp(z − max) per row; with --grad-output also g − exp(y)·Σ g."
                : "exp(z − max)/Σ exp(z − max) per row; with --grad-output also p ⊙ (g − Σ g·p).",
            tensors: [
                logits,
                TensorSpec(
                    "grad-output", .floats, .sameAs("logits"), .backward, values: .uniform(scale: 1),
                    help: "Upstream gradient of the output (its shape): adds the backward pass and grad_logits."),
            ],
            options: [], results: [output, "[grad_logits]"],
            bench: BenchSpec(sizes: [.batch, .classes], passes: [.forward, .both]),
            deviceResidentPasses: [.forward, .both],
            verification: [VerifyCase(logarithm ? "log-softmax" : "softmax", shape: BenchShape(batch: 8, classes: 257))],
            prepare: { setup in
                let engine = setup.requireEngine()
                let z = setup.tensor("logits"), g = setup.optional("grad-output")
                let (rows, columns) = (z.matrix.rows, z.matrix.columns)
                if setup.deviceResident {
                    let x = try engine.upload(z.matrix), upstream = try g.map { try engine.upload($0.matrix) }
                    var y = x, dz: DeviceMatrix? = nil
                    return PreparedCall(
                        run: {
                            y = logarithm ? try engine.logSoftmax(x) : try engine.softmax(x)
                            if let upstream {
                                dz =
                                    logarithm
                                    ? try engine.logSoftmaxBackward(logProbabilities: y, gradOutput: upstream)
                                    : try engine.softmaxBackward(probabilities: y, gradOutput: upstream)
                            }
                            return .opencl
                        },
                        results: {
                            [try engine.download(y).result(output, shape: z.shape)]
                                + (try dz.map { [try engine.download($0).result("grad_logits", shape: z.shape)] } ?? [])
                        })
                }
                let x = Buffer(z.floats), y = Buffer(count: z.count)
                let upstream = g.map { Buffer($0.floats) }, dz = g.map { _ in Buffer(count: z.count) }
                return PreparedCall(
                    run: {
                        var backend = try x.read(into: y) { x, y in
                            logarithm
                                ? try engine.logSoftmax(logits: x, rows: rows, columns: columns, into: y)
                                : try engine.softmax(logits: x, rows: rows, columns: columns, into: y)
                        }
                        if let upstream, let dz {
                            backend = try y.values.withUnsafeBufferPointer { y in
                                try upstream.read(into: dz) { g, dz in
                                    logarithm
                                        ? try engine.logSoftmaxBackward(logProbabilities: y, gradOutput: g, rows: rows, columns: columns, into: dz)
                                        : try engine.softmaxBackward(probabilities: y, gradOutput: g, rows: rows, columns: columns, into: dz)
                                }
                            }
                        }
                        return backend
                    },
                    results: {
                        [NamedResult(output, y.values, shape: z.shape)] + (dz.map { [NamedResult("grad_logits", $0.values, shape: z.shape)] } ?? [])
                    })
            },
            reference: { setup in
                let z = setup.tensor("logits")
                let (rows, columns) = (z.matrix.rows, z.matrix.columns)
                let y = logarithm ? Reference.logSoftmax(z.floats, rows: rows, columns: columns) : Reference.softmax(z.floats, rows: rows, columns: columns)
                var results = [ReferenceResult(output, y)]
                if let g = setup.optional("grad-output") {
                    let rounded = y.map { Float($0) }
                    results.append(
                        ReferenceResult(
                            "grad_logits",
                            logarithm
                                ? Reference.logSoftmaxBackward(logProbabilities: rounded, gradOutput: g.floats, rows: rows, columns: columns)
                                : Reference.softmaxBackward(probabilities: rounded, gradOutput: g.floats, rows: rows, columns: columns)))
                }
                return results
            })
    }

    static let logSumExp = CatalogOperation(
        name: "logsumexp",
        summary: "log Σ exp z per row; with --grad-output (one value per row) also g·softmax(z).",
        tensors: [
            logits,
            TensorSpec(
                "grad-output", .floats, .rowsOf("logits"), .backward, values: .uniform(scale: 1),
                help: "Upstream gradient, one value per row: adds the backward pass and grad_logits."),
        ],
        options: [], results: ["lse", "[grad_logits]"],
        bench: BenchSpec(sizes: [.batch, .classes], passes: [.forward, .both]),
        deviceResidentPasses: [.forward],
        verification: [VerifyCase("logsumexp", shape: BenchShape(batch: 8, classes: 257))],
        prepare: { setup in
            let engine = setup.requireEngine()
            let z = setup.tensor("logits"), g = setup.optional("grad-output")
            let (rows, columns) = (z.matrix.rows, z.matrix.columns)
            if setup.deviceResident {
                let x = try engine.upload(z.matrix)
                var lse = x
                return PreparedCall(
                    run: {
                        lse = try engine.logSumExp(x)
                        return .opencl
                    }, results: { [try engine.download(lse).result("lse", shape: z.rowShape)] })
            }
            let x = Buffer(z.floats), lse = Buffer(count: rows)
            let upstream = g.map { Buffer($0.floats) }, dz = g.map { _ in Buffer(count: z.count) }
            return PreparedCall(
                run: {
                    var backend = try x.read(into: lse) { try engine.logSumExp(logits: $0, rows: rows, columns: columns, into: $1) }
                    if let upstream, let dz {
                        backend = try lse.values.withUnsafeBufferPointer { l in
                            try x.values.withUnsafeBufferPointer { x in
                                try upstream.read(into: dz) {
                                    try engine.logSumExpBackward(logits: x, logSumExp: l, gradOutput: $0, rows: rows, columns: columns, into: $1)
                                }
                            }
                        }
                    }
                    return backend
                },
                results: {
                    [NamedResult("lse", lse.values, shape: z.rowShape)] + (dz.map { [NamedResult("grad_logits", $0.values, shape: z.shape)] } ?? [])
                })
        },
        reference: { setup in
            let z = setup.tensor("logits")
            let (rows, columns) = (z.matrix.rows, z.matrix.columns)
            let lse = Reference.logSumExp(z.floats, rows: rows, columns: columns)
            var results = [ReferenceResult("lse", lse)]
            if let g = setup.optional("grad-output") {
                results.append(
                    ReferenceResult(
                        "grad_logits",
                        Reference.logSumExpBackward(
                            logits: z.floats, logSumExp: lse.map { Float($0) }, gradOutput: g.floats,
                            rows: rows, columns: columns)))
            }
            return results
        })
}
