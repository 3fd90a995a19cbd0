import ArgumentParser
import LossKernels

/// The problem size flags of `bench`.
struct BenchShape {
    var batch: Int
    var classes: Int
    var dim: Int
    var elements: Int
}

/// A prepared benchmark: inputs made, outputs allocated; `run` performs one timed call and returns
/// the backend that ran. `bytes`: each input read once, each output written once.
struct BenchWorkload {
    var elements: Int
    var bytes: Int
    var flops: Int
    /// The classes the GEMMs span where fewer than `--classes` (train-step: the n sampled
    /// classes its `flops` count); nil otherwise.
    var gemmClasses: Int? = nil
    var run: () throws -> Backend
}

/// The operations `bench` times.
enum BenchOperation: String, ExpressibleByArgument, CaseIterable {
    case softmax
    case logSoftmax = "log-softmax"
    case logsumexp
    case crossEntropy = "cross-entropy"
    case focal
    case marginSoftmax = "margin-softmax"
    case sigmoidFocal = "sigmoid-focal"
    case bceWithLogits = "bce-with-logits"
    case mse, l1
    case smoothL1 = "smooth-l1"
    case huber, msle, mape
    case contrastive, triplet
    case tripletMined = "triplet-mined"
    case center
    case trainStep = "train-step"

    /// Losses are timed forward and backward together (loss and gradient come from one call).
    var isLoss: Bool { ![.softmax, .logSoftmax, .logsumexp].contains(self) }
    var defaultPass: BenchCommand.Pass { isLoss ? .both : .forward }
    /// The embedding width used when `--dim` is not given: 512 for the margin heads and the
    /// training step, 128 for the metric losses, 0 (none) for the others.
    var defaultDim: Int {
        if self == .marginSoftmax || self == .trainStep { return 512 }
        return [.contrastive, .triplet, .tripletMined, .center].contains(self) ? 128 : 0
    }

    func makeWorkload(engine: Engine, shape: BenchShape, pass: BenchCommand.Pass, seed: UInt64, deviceResident: Bool, head: HeadOptions,
                      training: TrainingOptions) throws -> BenchWorkload {
        let (b, c) = (shape.batch, shape.classes)
        if self == .trainStep {
            return try trainStepWorkload(engine: engine, shape: shape, seed: seed, head: head, training: training)
        }
        if self == .marginSoftmax {
            return try marginWorkload(engine: engine, shape: shape, seed: seed, head: head)
        }
        if self == .sigmoidFocal || self == .bceWithLogits {
            return try binaryWorkload(engine: engine, shape: shape, seed: seed)
        }
        if let regression = regressionLoss {
            return regressionWorkload(regression, engine: engine, shape: shape, seed: seed)
        }
        if [.contrastive, .triplet, .tripletMined, .center].contains(self) {
            return try metricWorkload(engine: engine, shape: shape, seed: seed, margin: head.margin ?? 1)
        }
        let n = b * c
        var random = SplitMix64(seed: seed)
        let logits = Matrix.random(rows: b, columns: c, scale: 4, using: &random)
        let gradOutput = pass == .both ? Matrix.random(rows: b, columns: operation == .logsumexp ? 1 : c, scale: 1, using: &random) : nil
        let f = MemoryLayout<Float>.size
        if deviceResident {
            return try residentWorkload(engine: engine, logits: logits, gradOutput: gradOutput, n: n, b: b)
        }
        switch self {
        case .marginSoftmax:
            return try marginWorkload(engine: engine, shape: shape, seed: seed, head: head)
        case .trainStep:
            return try trainStepWorkload(engine: engine, shape: shape, seed: seed, head: head, training: training)
        case .sigmoidFocal, .bceWithLogits:
            return try binaryWorkload(engine: engine, shape: shape, seed: seed)
        case .mse, .l1, .smoothL1, .huber, .msle, .mape:
            return regressionWorkload(regressionLoss!, engine: engine, shape: shape, seed: seed)
        case .contrastive, .triplet, .tripletMined, .center:
            return try metricWorkload(engine: engine, shape: shape, seed: seed, margin: head.margin ?? 1)
        case .crossEntropy, .focal:
            let labels = (0..<b).map { _ in Int(random.next() % UInt64(c)) }
            let focal = self == .focal
            // Logits read, labels read (8 bytes each), gradient written, loss written.
            let box = HostBuffers(input: logits.values, count: n, gradOutput: nil)
            return BenchWorkload(elements: n, bytes: 2 * n * f + 8 * b + f, flops: 0) {
                try box.withBuffers { z, dz, _, _ in
                    focal ? try engine.focalLoss(logits: z, rows: b, columns: c, labels: labels, gradient: dz).backend
                        : try engine.crossEntropy(logits: z, rows: b, columns: c, labels: labels, gradient: dz).backend
                }
            }
        case .softmax, .logSoftmax:
            let box = HostBuffers(input: logits.values, count: n, gradOutput: gradOutput?.values)
            let logarithm = self == .logSoftmax
            return BenchWorkload(elements: n, bytes: (pass == .both ? 5 : 2) * n * f, flops: 0) {
                try box.withBuffers { x, y, g, dz in
                    let backend = logarithm ? try engine.logSoftmax(logits: x, rows: b, columns: c, into: y) : try engine.softmax(logits: x, rows: b, columns: c, into: y)
                    guard let g, let dz else { return backend }
                    let y = UnsafeBufferPointer(y)
                    return logarithm
                        ? try engine.logSoftmaxBackward(logProbabilities: y, gradOutput: g, rows: b, columns: c, into: dz)
                        : try engine.softmaxBackward(probabilities: y, gradOutput: g, rows: b, columns: c, into: dz)
                }
            }
        case .logsumexp:
            let box = HostBuffers(input: logits.values, count: b, gradOutput: gradOutput?.values, gradCount: n)
            return BenchWorkload(elements: n, bytes: (pass == .both ? 2 * n + 3 * b : n + b) * f, flops: 0) {
                try box.withBuffers { x, lse, g, dz in
                    let backend = try engine.logSumExp(logits: x, rows: b, columns: c, into: lse)
                    guard let g, let dz else { return backend }
                    return try engine.logSumExpBackward(logits: x, logSumExp: UnsafeBufferPointer(lse), gradOutput: g, rows: b, columns: c, into: dz)
                }
            }
        }
    }

    private var operation: BenchOperation { self }

    /// Metric losses on `--batch` rows of `--dim` (default 128) values; center loss with `--classes`
    /// centers. bytes: every input read once, every output written once.
    private func metricWorkload(engine: Engine, shape: BenchShape, seed: UInt64, margin: Float) throws -> BenchWorkload {
        let (b, d) = (shape.batch, shape.dim > 0 ? shape.dim : 128)
        var random = SplitMix64(seed: seed)
        let a = Matrix.random(rows: b, columns: d, scale: 1, using: &random)
        let second = Matrix.random(rows: b, columns: d, scale: 1, using: &random)
        let third = Matrix.random(rows: b, columns: d, scale: 1, using: &random)
        let f = MemoryLayout<Float>.size
        switch self {
        case .contrastive:
            let similar = (0..<b).map { _ in random.next() & 1 == 1 }
            return BenchWorkload(elements: b * d, bytes: (4 * b * d + b) * f, flops: 0) {
                try engine.contrastiveLoss(left: a, right: second, similar: similar, margin: margin).backend
            }
        case .triplet:
            return BenchWorkload(elements: b * d, bytes: 6 * b * d * f, flops: 0) {
                try engine.tripletMarginLoss(anchors: a, positives: second, negatives: third, margin: margin).backend
            }
        case .tripletMined:
            let classes = max(2, min(shape.classes, b / 4))
            let labels = (0..<b).map { _ in Int(random.next() % UInt64(classes)) }
            // flops: the B×B Gram matrix and the gradient's S·E, 2 × 2·B²·D.
            return BenchWorkload(elements: b * d, bytes: (2 * b * d) * f + 8 * b, flops: 4 * b * b * d) {
                try engine.minedTripletLoss(embeddings: a, labels: labels, mining: .batchAll, margin: margin).backend
            }
        default:
            let classes = max(1, min(shape.classes, 1 << 20))
            let centers = Matrix.random(rows: classes, columns: d, scale: 1, using: &random)
            let labels = (0..<b).map { _ in Int(random.next() % UInt64(classes)) }
            return BenchWorkload(elements: b * d, bytes: (2 * b * d + 2 * classes * d) * f + 8 * b, flops: 0) {
                try engine.centerLoss(features: a, labels: labels, centers: centers).backend
            }
        }
    }

    /// The regression loss this operation times, if it is one (β = δ = 1).
    private var regressionLoss: RegressionLoss? {
        switch self {
        case .mse: return .mse
        case .l1: return .l1
        case .smoothL1: return .smoothL1(beta: 1)
        case .huber: return .huber(delta: 1)
        case .msle: return .msle
        case .mape: return .mape
        default: return nil
        }
    }

    /// `--elements` predictions (default 16,777,216) against targets, through the buffer form with
    /// a reused gradient. bytes: predictions and targets read, gradient written.
    private func regressionWorkload(_ loss: RegressionLoss, engine: Engine, shape: BenchShape, seed: UInt64) -> BenchWorkload {
        let n = shape.elements > 0 ? shape.elements : 1 << 24
        var random = SplitMix64(seed: seed)
        let predictions = Matrix.random(rows: 1, columns: n, scale: 2, using: &random)
        let targets = Matrix.random(rows: 1, columns: n, scale: 2, using: &random)
        let gradient = HostBuffers(input: predictions.values, count: n, gradOutput: nil)
        return BenchWorkload(elements: n, bytes: 3 * n * MemoryLayout<Float>.size, flops: 0) {
            try gradient.withBuffers { p, g, _, _ in
                try targets.values.withUnsafeBufferPointer { t in
                    try engine.regressionLoss(loss, predictions: p, targets: t, gradient: g).backend
                }
            }
        }
    }

    /// Elementwise logits against targets in [0, 1]: `--elements` values (default batch × classes).
    /// bytes: logits and targets read, gradient written.
    private func binaryWorkload(engine: Engine, shape: BenchShape, seed: UInt64) throws -> BenchWorkload {
        let n = shape.elements > 0 ? shape.elements : shape.batch * shape.classes
        var random = SplitMix64(seed: seed)
        let logits = Matrix.random(rows: 1, columns: n, scale: 4, using: &random)
        var targets = Matrix.random(rows: 1, columns: n, scale: 0.5, using: &random)
        for i in 0..<n { targets.values[i] += 0.5 }
        let focal = self == .sigmoidFocal
        return BenchWorkload(elements: n, bytes: 3 * n * MemoryLayout<Float>.size, flops: 0) {
            focal ? try engine.sigmoidFocalLoss(logits: logits, targets: targets).backend
                : try engine.binaryCrossEntropyWithLogits(logits: logits, targets: targets).backend
        }
    }

    /// One head step: loss, ∂L/∂X and ∂L/∂W. flops: the three GEMMs, 3 × 2·B·C·D.
    private func marginWorkload(engine: Engine, shape: BenchShape, seed: UInt64, head options: HeadOptions) throws -> BenchWorkload {
        let (b, c, d) = (shape.batch, shape.classes, shape.dim == 0 ? 512 : shape.dim)
        var random = SplitMix64(seed: seed)
        let features = Matrix.random(rows: b, columns: d, scale: 1, using: &random)
        let weights = Matrix.random(rows: c, columns: d, scale: 0.05, using: &random)
        let labels = (0..<b).map { _ in Int(random.next() % UInt64(c)) }
        let head = options.makeHead()
        try head.validate()
        let budget = try options.memoryBudgetBytes()
        let gradFeatures = HostBuffers(input: features.values, count: b * d, gradOutput: nil)
        let gradWeights = HostBuffers(input: weights.values, count: c * d, gradOutput: nil)
        let f = MemoryLayout<Float>.size
        return BenchWorkload(elements: b * c, bytes: 2 * (b * d + c * d) * f + 8 * b + f, flops: 3 * 2 * b * c * d) {
            try gradFeatures.withBuffers { x, dx, _, _ in
                try gradWeights.withBuffers { w, dw, _, _ in
                    try engine.marginSoftmax(features: x, classWeights: w, rows: b, classes: c, dimension: d, labels: labels, head: head,
                                             memoryBudget: budget, gradFeatures: dx, gradClassWeights: dw).backend
                }
            }
        }
    }

    private func residentWorkload(engine: Engine, logits: Matrix, gradOutput: Matrix?, n: Int, b: Int) throws -> BenchWorkload {
        let x = try engine.upload(logits)
        let g = try gradOutput.map { try engine.upload($0) }
        let f = MemoryLayout<Float>.size
        switch self {
        case .softmax, .logSoftmax:
            let logarithm = self == .logSoftmax
            return BenchWorkload(elements: n, bytes: (g == nil ? 2 : 5) * n * f, flops: 0) {
                let y = logarithm ? try engine.logSoftmax(x) : try engine.softmax(x)
                if let g {
                    _ = logarithm ? try engine.logSoftmaxBackward(logProbabilities: y, gradOutput: g) : try engine.softmaxBackward(probabilities: y, gradOutput: g)
                }
                return .opencl
            }
        case .logsumexp:
            guard g == nil else { throw CommandFailure(message: "bench logsumexp --device-resident supports --pass forward only") }
            return BenchWorkload(elements: n, bytes: (n + b) * f, flops: 0) {
                _ = try engine.logSumExp(x)
                return .opencl
            }
        default:
            throw CommandFailure(message: "bench \(rawValue) --device-resident is not supported yet")
        }
    }
}

/// Input and output buffers allocated once, reused by every timed call.
final class HostBuffers {
    var input: [Float]
    var output: [Float]
    var gradOutput: [Float]?
    var gradInput: [Float]?

    init(input: [Float], count: Int, gradOutput: [Float]?, gradCount: Int? = nil) {
        self.input = input
        self.output = [Float](repeating: 0, count: count)
        self.gradOutput = gradOutput
        self.gradInput = gradOutput == nil ? nil : [Float](repeating: 0, count: gradCount ?? input.count)
    }

    func withBuffers<T>(_ body: (UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>, UnsafeBufferPointer<Float>?, UnsafeMutableBufferPointer<Float>?) throws -> T) rethrows -> T {
        try input.withUnsafeBufferPointer { x in
            try output.withUnsafeMutableBufferPointer { y in
                if gradOutput != nil {
                    return try gradOutput!.withUnsafeBufferPointer { g in
                        try gradInput!.withUnsafeMutableBufferPointer { dz in try body(x, y, g, dz) }
                    }
                }
                return try body(x, y, nil, nil)
            }
        }
    }
}
