/// Pair, triplet and center losses on embeddings, loss and gradients in one call
/// (docs/OPERATIONS.md, "Pair, triplet and center losses"). Every argument is checked before any
/// computation; errors name the tensor, the option or the row.
extension Engine {
    /// Output of a pair loss.
    public struct PairLossOutput: Sendable, Equatable {
        /// One value for `.mean`/`.sum`, one per pair for `.none`.
        public var loss: [Float]
        /// ∂loss/∂left, `B×D`.
        public var gradLeft: Matrix
        /// ∂loss/∂right, `B×D` (`= −gradLeft`).
        public var gradRight: Matrix
        /// The backend that computed it.
        public var backend: Backend
    }

    /// Contrastive loss (Hadsell, Chopra, LeCun 2006 / Caffe) of pairs `a_i, b_i` with
    /// `d = ‖a − b‖₂`:
    ///
    ///     loss_i   = ½·[s·d² + (1 − s)·max(margin − d, 0)²]
    ///     ∂loss_i/∂a_i = s·(a − b) − (1 − s)·[d < margin]·(margin − d)/d·(a − b),   ∂/∂b_i = −∂/∂a_i
    ///
    /// mean over pairs by default. The dissimilar hinge's gradient at `d = 0` is 0 (no direction).
    /// - Parameters:
    ///   - left: `a`, `B×D`.
    ///   - right: `b`, `B×D`.
    ///   - similar: `s`, one flag per pair (`B`).
    ///   - margin: `≥ 0` and finite (default 1).
    ///   - reduction: mean over pairs (default), sum, or none.
    ///   - gradOutput: with `.none`, one upstream value per pair scaling that pair's gradients.
    /// - Returns: the loss (1 value, or `B` for `.none`) and ∂loss/∂left, ∂loss/∂right (`B×D`).
    /// - Throws: `.shapeMismatch` when `left` and `right` differ, the batch or `D` is empty, or
    ///   `similar`/`gradOutput` do not have `B` values; `.invalidOption` for a negative or
    ///   non-finite margin, or `gradOutput` with a reduction other than none.
    public func contrastiveLoss(
        left: Matrix, right: Matrix, similar: [Bool], margin: Float = 1, reduction: LossReduction = .mean,
        gradOutput: [Float]? = nil
    ) throws -> PairLossOutput {
        let gradLeft = OutputArray(count: left.count), gradRight = OutputArray(count: left.count)
        let outcome = try withHostBuffers([left.values, right.values], [gradLeft, gradRight]) { x, g in
            try run(
                ContrastiveOperation(
                    loss: MetricLoss.Contrastive(margin: margin), left: x[0], right: x[1], rightShape: (right.rows, right.columns),
                    similar: similar, rows: left.rows, dimension: left.columns, reduction: reduction, gradOutput: gradOutput,
                    gradLeft: g[0], gradRight: g[1]))
        }
        return PairLossOutput(
            loss: outcome.result, gradLeft: gradLeft.matrix(rows: left.rows, columns: left.columns),
            gradRight: gradRight.matrix(rows: left.rows, columns: left.columns), backend: outcome.backend)
    }

    /// Output of a triplet loss.
    public struct TripletLossOutput: Sendable, Equatable {
        /// One value for `.mean`/`.sum`, one per triplet for `.none`.
        public var loss: [Float]
        /// ∂loss/∂anchors, `B×D`.
        public var gradAnchors: Matrix
        /// ∂loss/∂positives, `B×D`.
        public var gradPositives: Matrix
        /// ∂loss/∂negatives, `B×D`.
        public var gradNegatives: Matrix
        /// The backend that computed it.
        public var backend: Backend
    }

    /// Triplet margin loss (FaceNet; PyTorch `TripletMarginLoss`) of triplets `a_i, p_i, n_i` with
    /// `d(x, y) = ‖x − y + eps‖_p` (eps added to every component, as PyTorch's `pairwise_distance`):
    ///
    ///     loss_i = max(d(a,p) − d(a,n) + margin, 0)
    ///
    /// mean over triplets by default. With `swap`, the negative distance is `min(d(a,n), d(p,n))`:
    /// when `d(p,n) < d(a,n)` its gradient flows to the positive and the negative instead of the
    /// anchor. Gradients: `∂‖v‖₂/∂v = v/‖v‖₂` (0 at `‖v‖ = 0`), `∂‖v‖₁/∂v = sign(v)` (0 at 0); a
    /// triplet whose loss is 0 (hinge inactive, or exactly at the boundary) has zero gradients.
    /// - Parameters:
    ///   - anchors: `a`, `B×D`.
    ///   - positives: `p`, `B×D`.
    ///   - negatives: `n`, `B×D`.
    ///   - margin: any finite value (default 1).
    ///   - p: the norm, 1 or 2 (default 2).
    ///   - eps: `≥ 0` and finite (default 1e-6).
    ///   - swap: use the distance swap of Balntas et al. (default off).
    ///   - reduction: mean over triplets (default), sum, or none.
    ///   - gradOutput: with `.none`, one upstream value per triplet scaling its gradients.
    /// - Returns: the loss (1 value, or `B` for `.none`) and the gradients of the three inputs.
    /// - Throws: `.shapeMismatch` when the three shapes differ, the batch or `D` is empty, or
    ///   `gradOutput` does not have `B` values; `.invalidOption` for `p` not 1 or 2, a non-finite
    ///   margin, a negative or non-finite eps, or `gradOutput` with a reduction other than none.
    public func tripletMarginLoss(
        anchors: Matrix, positives: Matrix, negatives: Matrix, margin: Float = 1, p: Int = 2, eps: Float = 1e-6,
        swap: Bool = false, reduction: LossReduction = .mean, gradOutput: [Float]? = nil
    ) throws -> TripletLossOutput {
        let (rows, dimension) = (anchors.rows, anchors.columns)
        let gradients = (0..<3).map { _ in OutputArray(count: anchors.count) }
        let outcome = try withHostBuffers([anchors.values, positives.values, negatives.values], gradients) { x, g in
            try run(
                TripletMarginOperation(
                    margin: margin, p: p, eps: eps, swap: swap, anchors: x[0], positives: x[1], negatives: x[2],
                    positivesShape: (positives.rows, positives.columns), negativesShape: (negatives.rows, negatives.columns),
                    rows: rows, dimension: dimension, reduction: reduction, gradOutput: gradOutput,
                    gradAnchors: g[0], gradPositives: g[1], gradNegatives: g[2]))
        }
        return TripletLossOutput(
            loss: outcome.result, gradAnchors: gradients[0].matrix(rows: rows, columns: dimension),
            gradPositives: gradients[1].matrix(rows: rows, columns: dimension),
            gradNegatives: gradients[2].matrix(rows: rows, columns: dimension), backend: outcome.backend)
    }

    /// Output of the center loss.
    public struct CenterLossOutput: Sendable, Equatable {
        /// `L = (1/(2B))·Σ_i ‖x_i − c_{y_i}‖²`.
        public var loss: Float
        /// ∂L/∂features, `B×D`: `(x_i − c_{y_i})/B`.
        public var gradFeatures: Matrix
        /// The centers after one update step, `C×D`.
        public var updatedCenters: Matrix
        /// The backend that computed it.
        public var backend: Backend
    }

    /// Center loss (Wen et al. 2016) of features `x_i` with labels `y_i` against class centers `c_j`:
    ///
    ///     L = (1/(2B))·Σ_i ‖x_i − c_{y_i}‖²,   ∂L/∂x_i = (x_i − c_{y_i})/B
    ///     c_j ← c_j − α·Σ_{i: y_i = j}(c_j − x_i)/(1 + n_j)
    ///
    /// `n_j` the count of class `j` in the batch; classes absent from the batch keep their center.
    /// The loss is always this mean form.
    /// - Parameters:
    ///   - features: `X`, `B×D`.
    ///   - labels: `B` class indices in `0..<C`.
    ///   - centers: `C×D`, one row per class (the values before the update).
    ///   - alpha: the center learning rate `α` in [0, 1] (default 0.5).
    /// - Returns: the loss, ∂L/∂features (`B×D`) and the updated centers (`C×D`).
    /// - Throws: `.shapeMismatch` for an empty batch, `D = 0`, no centers, centers of another width
    ///   than the features, or a label count other than `B`; `.invalidValue` for a label outside
    ///   `0..<C`; `.invalidOption` for α outside [0, 1].
    public func centerLoss(features: Matrix, labels: [Int], centers: Matrix, alpha: Float = 0.5) throws -> CenterLossOutput {
        let gradFeatures = OutputArray(count: features.count), updatedCenters = OutputArray(count: centers.count)
        let outcome = try withHostBuffers([features.values, centers.values], [gradFeatures, updatedCenters]) { x, g in
            try run(
                CenterLossOperation(
                    loss: MetricLoss.Center(alpha: alpha), features: x[0], centers: x[1], labels: labels, rows: features.rows,
                    classes: centers.rows, dimension: features.columns, centerColumns: centers.columns,
                    gradFeatures: g[0], updatedCenters: g[1]))
        }
        return CenterLossOutput(
            loss: outcome.result, gradFeatures: gradFeatures.matrix(rows: features.rows, columns: features.columns),
            updatedCenters: updatedCenters.matrix(rows: centers.rows, columns: centers.columns), backend: outcome.backend)
    }
}
