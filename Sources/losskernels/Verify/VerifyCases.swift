import LossKernels
import LossKernelsReference

/// One operation of `losskernels verify`: runs it on an engine and returns the backend that ran
/// and each output next to its float64 reference (LossKernelsReference, written from
/// shared/spec/LOSSES.md, the same references the tests use).
struct VerifyCase {
    var operation: String
    var run: (Engine) throws -> (Backend, [VerifyCheck])

    /// Modest random shapes: rows 8 × 257 classes (softmax family), 8 × 97 classes × 24 (heads),
    /// 16 rows × 12 (metric losses), 4,099 elements (elementwise losses). Uniform inputs from `seed`.
    static func all(seed: UInt64) -> [VerifyCase] {
        softmaxFamily(seed: seed) + classification(seed: seed) + elementwise(seed: seed) + heads(seed: seed) + metric(seed: seed)
    }

    static let tolerance = 1e-4

    static func uniform(_ rows: Int, _ columns: Int, scale: Float, _ random: inout SplitMix64) -> Matrix {
        Matrix.random(rows: rows, columns: columns, scale: scale, using: &random)
    }

    static func labels(_ count: Int, classes: Int, _ random: inout SplitMix64) -> [Int] {
        (0..<count).map { _ in Int(random.next() % UInt64(classes)) }
    }

    static func check(_ output: String, _ actual: [Float], _ reference: [Double], _ rule: VerifyCheck.Rule = .elementwise(tolerance)) -> VerifyCheck {
        VerifyCheck(output: output, actual: actual, reference: reference, rule: rule)
    }

    // MARK: Softmax family

    static func softmaxFamily(seed: UInt64) -> [VerifyCase] {
        let (b, c) = (8, 257)
        var random = SplitMix64(seed: seed)
        let z = uniform(b, c, scale: 6, &random), g = uniform(b, c, scale: 1, &random)
        // softmax and log-softmax: forward output, then the backward pass from it with upstream g.
        let rowwise: [(String, String, Bool)] = [("softmax", "probs", false), ("log-softmax", "log_probs", true)]
        return rowwise.map { name, output, logarithm in
            VerifyCase(operation: name) { engine in
                let y = logarithm ? try engine.logSoftmax(z) : try engine.softmax(z)
                let dz = logarithm ? try engine.logSoftmaxBackward(logProbabilities: y, gradOutput: g) : try engine.softmaxBackward(probabilities: y, gradOutput: g)
                let forward = logarithm ? Reference.logSoftmax(z.values, rows: b, columns: c) : Reference.softmax(z.values, rows: b, columns: c)
                let backward = logarithm ? Reference.logSoftmaxBackward(logProbabilities: y.values, gradOutput: g.values, rows: b, columns: c)
                    : Reference.softmaxBackward(probabilities: y.values, gradOutput: g.values, rows: b, columns: c)
                return (engine.policy == .cpu ? .cpu : .opencl, [check(output, y.values, forward), check("grad_logits", dz.values, backward)])
            }
        } + [
            VerifyCase(operation: "logsumexp") { engine in
                let lse = try engine.logSumExp(z)
                return (engine.policy == .cpu ? .cpu : .opencl, [check("logsumexp", lse, Reference.logSumExp(z.values, rows: b, columns: c))])
            },
        ]
    }

    // MARK: Classification losses

    static func classification(seed: UInt64) -> [VerifyCase] {
        let (b, c) = (8, 257)
        var random = SplitMix64(seed: seed &+ 1)
        let z = uniform(b, c, scale: 6, &random)
        let y = labels(b, classes: c, &random)
        let weights = uniform(1, c, scale: 0.5, &random).values.map { $0 + 1 }
        return [
            VerifyCase(operation: "cross-entropy") { engine in
                let out = try engine.crossEntropy(logits: z, labels: y, classWeights: weights, labelSmoothing: 0.1)
                let ref = LossReference.crossEntropy(logits: z.values, rows: b, columns: c, labels: y, classWeights: weights, labelSmoothing: 0.1)
                return (out.backend, [check("loss", out.loss, ref.loss), check("grad_logits", out.gradient.values, ref.gradient)])
            },
            VerifyCase(operation: "focal") { engine in
                let out = try engine.focalLoss(logits: z, labels: y, gamma: 2, alpha: .scalar(0.25))
                let ref = LossReference.focal(logits: z.values, rows: b, columns: c, labels: y, gamma: 2, alpha: .scalar(0.25))
                return (out.backend, [check("loss", out.loss, ref.loss), check("grad_logits", out.gradient.values, ref.gradient)])
            },
        ]
    }

    // MARK: Elementwise losses

    static func elementwise(seed: UInt64) -> [VerifyCase] {
        let n = 4099
        var random = SplitMix64(seed: seed &+ 2)
        let logits = uniform(1, n, scale: 6, &random)
        var targets = uniform(1, n, scale: 0.5, &random)
        for i in 0..<n { targets.values[i] += 0.5 }
        let predictions = uniform(1, n, scale: 3, &random)
        var regressionTargets = uniform(1, n, scale: 3, &random)
        // Targets away from 0 (mape divides by |t|).
        for i in 0..<n where abs(regressionTargets.values[i]) < 0.1 { regressionTargets.values[i] += 0.2 }
        var cases = [
            VerifyCase(operation: "sigmoid-focal") { engine in
                let out = try engine.sigmoidFocalLoss(logits: logits, targets: targets, gamma: 2, alpha: 0.25)
                let ref = LossReference.sigmoidFocal(logits: logits.values, targets: targets.values, gamma: 2, alpha: 0.25)
                return (out.backend, [check("loss", out.loss, ref.loss), check("grad_logits", out.gradient.values, ref.gradient)])
            },
            VerifyCase(operation: "bce-with-logits") { engine in
                let out = try engine.binaryCrossEntropyWithLogits(logits: logits, targets: targets)
                let ref = LossReference.binaryCrossEntropyWithLogits(logits: logits.values, targets: targets.values)
                return (out.backend, [check("loss", out.loss, ref.loss), check("grad_logits", out.gradient.values, ref.gradient)])
            },
        ]
        let regressions: [(String, RegressionLoss)] = [
            ("mse", .mse), ("l1", .l1), ("smooth-l1", .smoothL1(beta: 1)), ("huber", .huber(delta: 1)), ("msle", .msle), ("mape", .mape),
        ]
        for (name, loss) in regressions {
            cases.append(VerifyCase(operation: name) { engine in
                let out = try engine.regressionLoss(loss, predictions: predictions, targets: regressionTargets)
                var total = 0.0
                var gradient = [Double](repeating: 0, count: n)
                for i in 0..<n {
                    let (l, d) = RegressionReference.element(loss, Double(predictions.values[i]), Double(regressionTargets.values[i]))
                    total += l
                    gradient[i] = d / Double(n)
                }
                return (out.backend, [check("loss", out.loss, [total / Double(n)]), check("grad_predictions", out.gradient.values, gradient)])
            })
        }
        return cases
    }

    // MARK: Margin heads

    static func heads(seed: UInt64) -> [VerifyCase] {
        let (b, c, d) = (8, 97, 24)
        var random = SplitMix64(seed: seed &+ 3)
        let x = uniform(b, d, scale: 1, &random), w = uniform(c, d, scale: 1, &random)
        let y = labels(b, classes: c, &random)
        let heads: [(String, MarginHead)] = [
            ("normalized", .normalized(scale: 8)), ("cosface", .cosFace(scale: 8, margin: 0.35)), ("arcface", .arcFace(scale: 8, margin: 0.5)),
            ("combined", .combined(scale: 8, m1: 1, m2: 0.3, m3: 0.2)), ("sphereface", .sphereFace(margin: 4, scale: 1)),
            ("large-margin", .largeMargin(margin: 2, lambda: 1)),
        ]
        return heads.map { name, head in
            VerifyCase(operation: "margin-softmax --head \(name)") { engine in
                let out = try engine.marginSoftmax(features: x, classWeights: w, labels: y, head: head)
                let problem = HeadLossReference.Problem(x: x.values.map(Double.init), w: w.values.map(Double.init), labels: y, b: b, c: c, d: d, head: head)
                let ref = HeadAnalyticReference.evaluate(problem)
                return (out.backend, [
                    check("loss", out.loss, ref.loss, .gemm), check("grad_features", out.gradFeatures.values, ref.dx, .gemm),
                    check("grad_weights", out.gradClassWeights.values, ref.dw, .gemm),
                ])
            }
        }
    }

    // MARK: Pair, triplet and center losses

    static func metric(seed: UInt64) -> [VerifyCase] {
        let (b, d, classes) = (16, 12, 4)
        var random = SplitMix64(seed: seed &+ 4)
        let a = uniform(b, d, scale: 1, &random), p = uniform(b, d, scale: 1, &random), n = uniform(b, d, scale: 1, &random)
        let similar = (0..<b).map { _ in random.next() & 1 == 1 }
        let y = labels(b, classes: classes, &random)
        let centers = uniform(classes, d, scale: 1, &random)
        func widen(_ m: Matrix) -> [Double] { m.values.map(Double.init) }
        var cases = [
            VerifyCase(operation: "contrastive") { engine in
                let out = try engine.contrastiveLoss(left: a, right: p, similar: similar, margin: 2)
                let ref = MetricReference.contrastive(left: widen(a), right: widen(p), similar: similar, rows: b, dimension: d, margin: 2)
                return (out.backend, [check("loss", out.loss, ref.loss), check("grad_left", out.gradLeft.values, ref.gradLeft), check("grad_right", out.gradRight.values, ref.gradRight)])
            },
            VerifyCase(operation: "triplet") { engine in
                let out = try engine.tripletMarginLoss(anchors: a, positives: p, negatives: n, margin: 1)
                let ref = MetricReference.triplet(anchors: widen(a), positives: widen(p), negatives: widen(n), rows: b, dimension: d, margin: 1, p: 2, eps: 1e-6, swap: false)
                return (out.backend, [
                    check("loss", out.loss, ref.loss), check("grad_anchors", out.gradAnchors.values, ref.gradAnchors),
                    check("grad_positives", out.gradPositives.values, ref.gradPositives), check("grad_negatives", out.gradNegatives.values, ref.gradNegatives),
                ])
            },
            VerifyCase(operation: "center") { engine in
                let out = try engine.centerLoss(features: a, labels: y, centers: centers, alpha: 0.5)
                let ref = MetricReference.center(features: widen(a), labels: y, centers: widen(centers), rows: b, classes: classes, dimension: d, alpha: 0.5)
                return (out.backend, [check("loss", [out.loss], [ref.loss]), check("grad_features", out.gradFeatures.values, ref.gradFeatures), check("centers", out.updatedCenters.values, ref.updatedCenters)])
            },
        ]
        for (name, mining) in [("all", TripletMining.batchAll), ("hard", .batchHard)] {
            cases.append(VerifyCase(operation: "triplet-mined --mining \(name)") { engine in
                let out = try engine.minedTripletLoss(embeddings: a, labels: y, mining: mining, margin: 1)
                let ref = MetricReference.mined(embeddings: widen(a), labels: y, rows: b, dimension: d, mining: mining, margin: 1)
                return (out.backend, [check("loss", [out.loss], [ref.loss], .gemm), check("grad_embeddings", out.gradEmbeddings.values, ref.gradient, .gemm)])
            })
        }
        return cases
    }
}
