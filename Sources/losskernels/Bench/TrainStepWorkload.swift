import LossKernels

extension BenchOperation {
    /// One training step of a `MarginSoftmaxHead` (`--batch` rows, `--classes`, `--dim`,
    /// `--sample-rate`, the head and SGD flags): loss, ∂L/∂X and the SGD update of the sampled rows,
    /// the weights staying where the head keeps them. n = the sampled classes.
    /// flops: the three GEMMs over the sampled classes, 3 × 2·B·n·D. bytes: X read, ∂L/∂X written,
    /// the sampled rows of W and V read and written and their gradient written, labels read.
    func trainStepWorkload(engine: Engine, shape: BenchShape, seed: UInt64, head options: HeadOptions, training: TrainingOptions) throws -> BenchWorkload {
        let (b, c, d) = (shape.batch, shape.classes, shape.dim == 0 ? 512 : shape.dim)
        var random = SplitMix64(seed: seed)
        let features = Matrix.random(rows: b, columns: d, scale: 1, using: &random)
        let labels = (0..<b).map { _ in Int(random.next() % UInt64(c)) }
        let head = try MarginSoftmaxHead(engine: engine, classes: c, dimension: d, head: options.makeHead(), optimizer: training.optimizer,
                                         sampleRate: training.sampleRate, seed: seed, memoryBudget: try options.memoryBudgetBytes())
        let n = max(head.sampler.targetCount, Set(labels).count)
        let f = MemoryLayout<Float>.size
        return BenchWorkload(elements: b * n, bytes: (2 * b * d + 5 * n * d) * f + 8 * b, flops: 3 * 2 * b * n * d, gemmClasses: n) {
            try head.step(features: features, labels: labels).backend
        }
    }
}
