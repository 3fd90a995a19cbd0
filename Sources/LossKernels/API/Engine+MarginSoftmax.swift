/// Margin-softmax heads from features and class weights (shared/spec/LOSSES.md,
/// "Normalised-cosine heads with margin"): one call gives the loss, ∂L/∂features and
/// ∂L/∂classWeights, through both L2 normalisations, processing the classes in tiles so the
/// `B×C` logits are never held at once.
extension Engine {
    /// The loss and gradients of a margin head.
    public struct MarginSoftmaxOutput: Sendable, Equatable {
        /// One value for `.mean`/`.sum`, one per row for `.none`.
        public var loss: [Float]
        /// ∂L/∂features, `B×D`.
        public var gradFeatures: Matrix
        /// ∂L/∂classWeights, `C×D`.
        public var gradClassWeights: Matrix
        /// The backend that computed it.
        public var backend: Backend
    }

    /// Softmax cross-entropy over the margin logits of `head`.
    ///
    /// - Parameters:
    ///   - features: `X`, `B×D`.
    ///   - classWeights: `W`, `C×D` (one row per class, like `Linear(D, C).weight`).
    ///   - labels: `B` class indices in `0..<C`.
    ///   - head: the head and its options (`MarginHead.cosFace()`, …).
    ///   - reduction: mean over rows (default), sum, or none.
    ///   - gradOutput: with `.none`, one upstream value per row.
    ///   - memoryBudget: bytes the logits tile may use (default 128 MiB): classes are processed in
    ///     tiles of `max(1, memoryBudget / (4·B))`; one tile covers every class when it fits.
    /// - Throws: `.shapeMismatch` when shapes disagree or the batch/classes are empty,
    ///   `.invalidValue` for a label out of range, `.invalidOption` for a head option out of range.
    public func marginSoftmax(features: Matrix, classWeights: Matrix, labels: [Int], head: MarginHead,
                              reduction: LossReduction = .mean, gradOutput: [Float]? = nil, memoryBudget: Int? = nil) throws -> MarginSoftmaxOutput {
        var gradFeatures = Matrix(rows: features.rows, columns: features.columns, repeating: 0)
        var gradClassWeights = Matrix(rows: classWeights.rows, columns: classWeights.columns, repeating: 0)
        let (loss, backend) = try features.values.withUnsafeBufferPointer { x in
            try classWeights.values.withUnsafeBufferPointer { w in
                try gradFeatures.values.withUnsafeMutableBufferPointer { dx in
                    try gradClassWeights.values.withUnsafeMutableBufferPointer { dw in
                        try marginSoftmax(features: x, classWeights: w, rows: features.rows, classes: classWeights.rows, dimension: features.columns,
                                          labels: labels, head: head, reduction: reduction, gradOutput: gradOutput, memoryBudget: memoryBudget,
                                          gradFeatures: dx, gradClassWeights: dw)
                    }
                }
            }
        }
        return MarginSoftmaxOutput(loss: loss, gradFeatures: gradFeatures, gradClassWeights: gradClassWeights, backend: backend)
    }

    /// The buffer form of `marginSoftmax(features:classWeights:labels:head:…)`: `features` holds
    /// `rows × dimension` values, `classWeights` `classes × dimension`; the gradients are written
    /// into buffers of the same sizes (reuse them across calls to avoid allocating).
    public func marginSoftmax(features: UnsafeBufferPointer<Float>, classWeights: UnsafeBufferPointer<Float>, rows: Int, classes: Int, dimension: Int,
                              labels: [Int], head: MarginHead, reduction: LossReduction = .mean, gradOutput: [Float]? = nil, memoryBudget: Int? = nil,
                              gradFeatures: UnsafeMutableBufferPointer<Float>, gradClassWeights: UnsafeMutableBufferPointer<Float>) throws -> (loss: [Float], backend: Backend) {
        try Validation.requireNonEmpty("features", rows: rows, columns: dimension)
        guard classes > 0 else { throw LossKernelsError.shapeMismatch(tensor: "classWeights", expected: "at least one class (row)", actual: Validation.shape(classes, dimension)) }
        try Validation.requireCount("features", features.count, rows: rows, columns: dimension)
        try Validation.requireCount("classWeights", classWeights.count, rows: classes, columns: dimension)
        try Validation.requireCount("gradFeatures", gradFeatures.count, rows: rows, columns: dimension)
        try Validation.requireCount("gradClassWeights", gradClassWeights.count, rows: classes, columns: dimension)
        try Validation.requireLabels(labels, rows: rows, classes: classes)
        try head.validate()
        try Validation.requireGradOutput(gradOutput, count: rows, reduction: reduction, per: "row")
        if checkFinite {
            try Validation.requireFinite("features", features)
            try Validation.requireFinite("classWeights", classWeights)
            try Validation.requireFinite("gradOutput", gradOutput)
        }
        let budget = memoryBudget ?? MarginSoftmaxProblem.defaultMemoryBudget
        guard budget > 0 else { throw LossKernelsError.invalidOption(name: "memoryBudget", value: "\(budget)", allowed: "> 0 bytes") }
        let rowScale: [Float]
        switch reduction {
        case .mean: rowScale = [Float](repeating: 1 / Float(rows), count: rows)
        case .sum: rowScale = [Float](repeating: 1, count: rows)
        case .none: rowScale = gradOutput ?? [Float](repeating: 1, count: rows)
        }
        let problem = MarginSoftmaxProblem(rows: rows, dimension: dimension, classes: classes, labels: labels, head: head, reduction: reduction,
                                           rowScale: rowScale, tileColumns: MarginSoftmaxProblem.tileColumns(rows: rows, classes: classes, budget: budget))
        let work = 2 * rows * classes * dimension
        let (losses, backend) = try scheduler.run(elements: work, cpu: {
            scheduler.scratch.withBuffer(count: rows * problem.tileColumns) { tile in
                CPUMarginSoftmax.run(problem, features: features.baseAddress!, classWeights: classWeights.baseAddress!,
                                     gradFeatures: gradFeatures.baseAddress!, gradWeights: gradClassWeights.baseAddress!, tile: tile, threads: scheduler.threads)
            }
        }, opencl: { device in
            let x = try device.upload(features), w = try device.upload(classWeights)
            let dx = try device.makeBuffer(count: gradFeatures.count), dw = try device.makeBuffer(count: gradClassWeights.count)
            let losses = try OpenCLMarginSoftmax.run(device, problem, features: x, classWeights: w, gradFeatures: dx, gradWeights: dw)
            try device.read(dx, into: UnsafeMutableRawBufferPointer(gradFeatures))
            try device.read(dw, into: UnsafeMutableRawBufferPointer(gradClassWeights))
            return losses
        })
        return (problem.reduce(losses), backend)
    }
}
