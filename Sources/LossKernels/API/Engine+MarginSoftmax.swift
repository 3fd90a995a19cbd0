/// Margin-softmax heads from features and class weights (docs/OPERATIONS.md, "Margin heads"): one call gives the loss, ∂L/∂features and
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
    public func marginSoftmax(
        features: Matrix, classWeights: Matrix, labels: [Int], head: MarginHead,
        reduction: LossReduction = .mean, gradOutput: [Float]? = nil, memoryBudget: Int? = nil
    ) throws -> MarginSoftmaxOutput {
        let gradFeatures = OutputArray(count: features.count), gradClassWeights = OutputArray(count: classWeights.count)
        let (loss, backend) = try withHostBuffers([features.values, classWeights.values], [gradFeatures, gradClassWeights]) { x, dx in
            try marginSoftmax(
                features: x[0], classWeights: x[1], rows: features.rows, classes: classWeights.rows, dimension: features.columns,
                labels: labels, head: head, reduction: reduction, gradOutput: gradOutput, memoryBudget: memoryBudget,
                gradFeatures: dx[0], gradClassWeights: dx[1])
        }
        return MarginSoftmaxOutput(
            loss: loss, gradFeatures: gradFeatures.matrix(rows: features.rows, columns: features.columns),
            gradClassWeights: gradClassWeights.matrix(rows: classWeights.rows, columns: classWeights.columns), backend: backend)
    }

    /// The buffer form of `marginSoftmax(features:classWeights:labels:head:…)`: `features` holds
    /// `rows × dimension` values, `classWeights` `classes × dimension`; the gradients are written
    /// into buffers of the same sizes (reuse them across calls to avoid allocating).
    public func marginSoftmax(
        features: UnsafeBufferPointer<Float>, classWeights: UnsafeBufferPointer<Float>, rows: Int, classes: Int, dimension: Int,
        labels: [Int], head: MarginHead, reduction: LossReduction = .mean, gradOutput: [Float]? = nil, memoryBudget: Int? = nil,
        gradFeatures: UnsafeMutableBufferPointer<Float>, gradClassWeights: UnsafeMutableBufferPointer<Float>
    ) throws -> (loss: [Float], backend: Backend) {
        let outcome = try run(
            MarginSoftmaxOperation(
                features: .host(features), classWeights: .host(classWeights), rows: rows, classes: classes, dimension: dimension, labels: labels,
                head: head, reduction: reduction, gradOutput: gradOutput,
                memoryBudget: memoryBudget ?? MarginSoftmaxProblem.defaultMemoryBudget,
                gradFeatures: .host(gradFeatures), gradClassWeights: .host(gradClassWeights)))
        return (outcome.result, outcome.backend)
    }
}
