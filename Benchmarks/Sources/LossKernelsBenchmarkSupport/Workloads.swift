import LossKernels

/// The workloads of the suites, with the shapes of the project's headline figures and of the
/// PyTorch/JAX comparison in `Benchmarks/peers` (README.md): softmax and cross-entropy over
/// B = 256 rows of C = 100,000 classes, margin-head steps at B = 256, D = 512, C = 100,000, mse over
/// 2^24 elements, triplet margin loss over 256 × 128 embeddings.
public enum Workloads {
    private static let float = MemoryLayout<Float>.size

    /// Row softmax `p = softmax(z)` of B × C logits into a reused output. bytes: 2·B·C floats.
    public static func softmax(engine: Engine, batch b: Int = 256, classes c: Int = 100_000, seed: UInt64 = 42) -> LossWorkload {
        var random = SplitMix64(seed: seed)
        let logits = Buffer(randomValues(b * c, scale: 4, using: &random))
        let output = Buffer(zeros: b * c)
        return LossWorkload(bytes: 2 * b * c * float, flops: 0) {
            try logits.values.withUnsafeBufferPointer { z in
                try output.values.withUnsafeMutableBufferPointer { p in
                    try engine.softmax(logits: z, rows: b, columns: c, into: p)
                }
            }
        }
    }

    /// Mean cross-entropy of B × C logits against random labels, loss and ∂L/∂z in one call.
    /// bytes: logits read, gradient written, labels read, loss written.
    public static func crossEntropy(engine: Engine, batch b: Int = 256, classes c: Int = 100_000, seed: UInt64 = 42) -> LossWorkload {
        var random = SplitMix64(seed: seed)
        let logits = Buffer(randomValues(b * c, scale: 4, using: &random))
        let labels = (0..<b).map { _ in Int(random.next() % UInt64(c)) }
        let gradient = Buffer(zeros: b * c)
        return LossWorkload(bytes: 2 * b * c * float + 8 * b + float, flops: 0) {
            try logits.values.withUnsafeBufferPointer { z in
                try gradient.values.withUnsafeMutableBufferPointer { dz in
                    try engine.crossEntropy(logits: z, rows: b, columns: c, labels: labels, gradient: dz).backend
                }
            }
        }
    }

    /// Mean squared error of `n` predictions against targets, loss and ∂L/∂predictions in one call.
    /// bytes: predictions and targets read, gradient written (3·n floats).
    public static func mse(engine: Engine, elements n: Int = 1 << 24, seed: UInt64 = 42) -> LossWorkload {
        var random = SplitMix64(seed: seed)
        let predictions = Buffer(randomValues(n, scale: 2, using: &random))
        let targets = Buffer(randomValues(n, scale: 2, using: &random))
        let gradient = Buffer(zeros: n)
        return LossWorkload(bytes: 3 * n * float, flops: 0) {
            try predictions.values.withUnsafeBufferPointer { p in
                try targets.values.withUnsafeBufferPointer { t in
                    try gradient.values.withUnsafeMutableBufferPointer { g in
                        try engine.regressionLoss(.mse, predictions: p, targets: t, gradient: g).backend
                    }
                }
            }
        }
    }

    /// Triplet margin loss (p = 2, margin 1) over B × D anchors, positives and negatives, with the
    /// gradients of all three. bytes: three inputs read, three gradients written (6·B·D floats).
    public static func triplet(engine: Engine, batch b: Int = 256, dim d: Int = 128, seed: UInt64 = 42) throws -> LossWorkload {
        var random = SplitMix64(seed: seed)
        let anchors = try Matrix(rows: b, columns: d, values: randomValues(b * d, scale: 1, using: &random))
        let positives = try Matrix(rows: b, columns: d, values: randomValues(b * d, scale: 1, using: &random))
        let negatives = try Matrix(rows: b, columns: d, values: randomValues(b * d, scale: 1, using: &random))
        return LossWorkload(bytes: 6 * b * d * float, flops: 0) {
            try engine.tripletMarginLoss(anchors: anchors, positives: positives, negatives: negatives, margin: 1).backend
        }
    }

    /// One training step of a margin head: loss, ∂L/∂X (B × D) and ∂L/∂W (C × D) for B × D features
    /// and C × D class weights. flops: the step's three GEMMs, 3 × 2·B·C·D.
    public static func marginStep(engine: Engine, head: MarginHead, batch b: Int = 256, dim d: Int = 512, classes c: Int = 100_000,
                                  seed: UInt64 = 42) -> LossWorkload {
        var random = SplitMix64(seed: seed)
        let features = Buffer(randomValues(b * d, scale: 1, using: &random))
        let weights = Buffer(randomValues(c * d, scale: 0.05, using: &random))
        let labels = (0..<b).map { _ in Int(random.next() % UInt64(c)) }
        let gradFeatures = Buffer(zeros: b * d)
        let gradWeights = Buffer(zeros: c * d)
        return LossWorkload(bytes: 2 * (b * d + c * d) * float + 8 * b + float, flops: 3 * 2 * b * c * d) {
            try features.values.withUnsafeBufferPointer { x in
                try weights.values.withUnsafeBufferPointer { w in
                    try gradFeatures.values.withUnsafeMutableBufferPointer { dx in
                        try gradWeights.values.withUnsafeMutableBufferPointer { dw in
                            try engine.marginSoftmax(features: x, classWeights: w, rows: b, classes: c, dimension: d, labels: labels, head: head,
                                                     gradFeatures: dx, gradClassWeights: dw).backend
                        }
                    }
                }
            }
        }
    }
}
