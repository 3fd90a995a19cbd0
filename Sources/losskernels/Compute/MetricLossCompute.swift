import ArgumentParser
import LossKernels

extension TripletMining: ExpressibleByArgument {}

/// The metric-learning losses of `compute`: `contrastive` (`--left`, `--right`, `--similar`),
/// `triplet` (`--anchors`, `--positives`, `--negatives`), `triplet-mined` (`--embeddings`,
/// `--labels`) and `center` (`--features`, `--labels`, `--centers`). Matrices are 2-d `[B, D]`.
struct MetricLossCompute {
    enum Loss {
        case contrastive(left: String, right: String, similar: String, margin: Float)
        case triplet(anchors: String, positives: String, negatives: String, margin: Float, p: Int, eps: Float, swap: Bool)
        case mined(embeddings: String, labels: String, mining: TripletMining, margin: Float)
        case center(features: String, labels: String, centers: String, alpha: Float)
    }

    var loss: Loss
    var reduction: LossReduction
    /// The `--grad-output` file (`[B]`, only with reduction none), if any (contrastive, triplet).
    var gradOutput: String?

    func run(_ engine: Engine) throws -> [TensorFiles.Output] {
        switch loss {
        case let .contrastive(leftPath, rightPath, similarPath, margin):
            let a = try matrix(leftPath, "left"), b = try matrix(rightPath, "right")
            try TensorFiles.requireShape(b, "right", path: rightPath, a.shape, meaning: "the shape of --left")
            let similar = try TensorFiles.readFlags(similarPath, tensor: "similar", count: a.matrix.rows, of: "left")
            let out = try engine.contrastiveLoss(left: a.matrix, right: b.matrix, similar: similar, margin: margin, reduction: reduction,
                                                 gradOutput: try rowGradient(a.matrix.rows, of: "left"))
            return [lossFile(out.loss, rows: a.matrix.rows), (name: "grad_left.npy", values: out.gradLeft.values, shape: a.shape),
                    (name: "grad_right.npy", values: out.gradRight.values, shape: b.shape)]
        case let .triplet(anchorsPath, positivesPath, negativesPath, margin, p, eps, swap):
            let a = try matrix(anchorsPath, "anchors"), pos = try matrix(positivesPath, "positives"), neg = try matrix(negativesPath, "negatives")
            try TensorFiles.requireShape(pos, "positives", path: positivesPath, a.shape, meaning: "the shape of --anchors")
            try TensorFiles.requireShape(neg, "negatives", path: negativesPath, a.shape, meaning: "the shape of --anchors")
            let out = try engine.tripletMarginLoss(anchors: a.matrix, positives: pos.matrix, negatives: neg.matrix, margin: margin, p: p, eps: eps, swap: swap,
                                                   reduction: reduction, gradOutput: try rowGradient(a.matrix.rows, of: "anchors"))
            return [lossFile(out.loss, rows: a.matrix.rows), (name: "grad_anchors.npy", values: out.gradAnchors.values, shape: a.shape),
                    (name: "grad_positives.npy", values: out.gradPositives.values, shape: a.shape),
                    (name: "grad_negatives.npy", values: out.gradNegatives.values, shape: a.shape)]
        case let .mined(embeddingsPath, labelsPath, mining, margin):
            let e = try matrix(embeddingsPath, "embeddings")
            let labels = try TensorFiles.readLabels(labelsPath)
            try TensorFiles.requireLabelCount(labels, path: labelsPath, rows: e.matrix.rows, of: "embeddings")
            let out = try engine.minedTripletLoss(embeddings: e.matrix, labels: labels, mining: mining, margin: margin)
            return [(name: "loss.npy", values: [out.loss], shape: []), (name: "grad_embeddings.npy", values: out.gradEmbeddings.values, shape: e.shape)]
        case let .center(featuresPath, labelsPath, centersPath, alpha):
            let x = try matrix(featuresPath, "features"), c = try matrix(centersPath, "centers")
            let labels = try TensorFiles.readLabels(labelsPath)
            try TensorFiles.requireLabelCount(labels, path: labelsPath, rows: x.matrix.rows, of: "features")
            let out = try engine.centerLoss(features: x.matrix, labels: labels, centers: c.matrix, alpha: alpha)
            return [(name: "loss.npy", values: [out.loss], shape: []), (name: "grad_features.npy", values: out.gradFeatures.values, shape: x.shape),
                    (name: "centers.npy", values: out.updatedCenters.values, shape: c.shape)]
        }
    }

    private func matrix(_ path: String, _ tensor: String) throws -> TensorFiles.FloatTensor {
        let value = try TensorFiles.readFloatMatrix(path, tensor: tensor)
        try TensorFiles.requireRank(value, tensor, path: path, 2, meaning: "[B, D]: one vector per row")
        return value
    }

    private func rowGradient(_ rows: Int, of tensor: String) throws -> [Float]? {
        try gradOutput.map { path in
            let g = try TensorFiles.readFloatElements(path, tensor: "grad-output")
            try TensorFiles.requireShape(g, "grad-output", path: path, [rows], meaning: "one value per row of --\(tensor)")
            return g.matrix.values
        }
    }

    private func lossFile(_ loss: [Float], rows: Int) -> TensorFiles.Output {
        (name: "loss.npy", values: loss, shape: reduction == .none ? [rows] : [])
    }
}
