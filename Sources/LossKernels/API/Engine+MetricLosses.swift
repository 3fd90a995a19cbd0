/// Pair, triplet and center losses on embeddings, loss and gradients in one call
/// (shared/spec/LOSSES.md, "Pair, triplet and center losses"). Every argument is checked before any
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
    ///   - left, right: `a` and `b`, both `B×D`.
    ///   - similar: `s`, one flag per pair (`B`).
    ///   - margin: `≥ 0` and finite (default 1).
    ///   - reduction: mean over pairs (default), sum, or none.
    ///   - gradOutput: with `.none`, one upstream value per pair scaling that pair's gradients.
    /// - Returns: the loss (1 value, or `B` for `.none`) and ∂loss/∂left, ∂loss/∂right (`B×D`).
    /// - Throws: `.shapeMismatch` when `left` and `right` differ, the batch or `D` is empty, or
    ///   `similar`/`gradOutput` do not have `B` values; `.invalidOption` for a negative or
    ///   non-finite margin, or `gradOutput` with a reduction other than none.
    public func contrastiveLoss(left: Matrix, right: Matrix, similar: [Bool], margin: Float = 1, reduction: LossReduction = .mean,
                                gradOutput: [Float]? = nil) throws -> PairLossOutput {
        try Validation.requireSameShape("right", rows: right.rows, columns: right.columns, as: "left", left.rows, left.columns)
        try Validation.requireNonEmpty("left", rows: left.rows, columns: left.columns)
        try Validation.requireRowVector("similar", similar.count, rows: left.rows)
        guard margin.isFinite, margin >= 0 else { throw LossKernelsError.invalidOption(name: "margin", value: "\(margin)", allowed: ">= 0 and finite") }
        try Validation.requireGradOutput(gradOutput, count: left.rows, reduction: reduction, per: "pair")
        if checkFinite {
            try Validation.requireFinite("left", left.values)
            try Validation.requireFinite("right", right.values)
            try Validation.requireFinite("gradOutput", gradOutput)
        }
        let rows = left.rows, dimension = left.columns
        let loss = MetricLoss.Contrastive(margin: margin)
        let rowScale = MetricLoss.rowScales(rows: rows, reduction: reduction, gradOutput: gradOutput)
        var gradLeft = Matrix(rows: rows, columns: dimension, repeating: 0)
        var gradRight = Matrix(rows: rows, columns: dimension, repeating: 0)
        let (losses, backend) = try left.values.withUnsafeBufferPointer { a in
            try right.values.withUnsafeBufferPointer { b in
                try gradLeft.values.withUnsafeMutableBufferPointer { ga in
                    try gradRight.values.withUnsafeMutableBufferPointer { gb in
                        try scheduler.run(elements: 4 * left.count, cpu: {
                            CPUMetricLosses.contrastive(loss, left: a.baseAddress!, right: b.baseAddress!, similar: similar, rows: rows, dimension: dimension,
                                                        rowScale: rowScale, gradLeft: ga.baseAddress!, gradRight: gb.baseAddress!, threads: scheduler.threads)
                        }, opencl: { device in
                            try OpenCLMetricLosses.contrastive(device, loss, left: a, right: b, similar: similar, rows: rows, dimension: dimension,
                                                               rowScale: rowScale, gradLeft: ga, gradRight: gb)
                        })
                    }
                }
            }
        }
        return PairLossOutput(loss: MetricLoss.reduce(losses, reduction: reduction), gradLeft: gradLeft, gradRight: gradRight, backend: backend)
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
    ///   - anchors, positives, negatives: each `B×D`.
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
    public func tripletMarginLoss(anchors: Matrix, positives: Matrix, negatives: Matrix, margin: Float = 1, p: Int = 2, eps: Float = 1e-6,
                                  swap: Bool = false, reduction: LossReduction = .mean, gradOutput: [Float]? = nil) throws -> TripletLossOutput {
        try Validation.requireSameShape("positives", rows: positives.rows, columns: positives.columns, as: "anchors", anchors.rows, anchors.columns)
        try Validation.requireSameShape("negatives", rows: negatives.rows, columns: negatives.columns, as: "anchors", anchors.rows, anchors.columns)
        try Validation.requireNonEmpty("anchors", rows: anchors.rows, columns: anchors.columns)
        guard margin.isFinite else { throw LossKernelsError.invalidOption(name: "margin", value: "\(margin)", allowed: "finite") }
        guard p == 1 || p == 2 else { throw LossKernelsError.invalidOption(name: "p", value: "\(p)", allowed: "1 or 2") }
        guard eps.isFinite, eps >= 0 else { throw LossKernelsError.invalidOption(name: "eps", value: "\(eps)", allowed: ">= 0 and finite") }
        try Validation.requireGradOutput(gradOutput, count: anchors.rows, reduction: reduction, per: "triplet")
        if checkFinite {
            try Validation.requireFinite("anchors", anchors.values)
            try Validation.requireFinite("positives", positives.values)
            try Validation.requireFinite("negatives", negatives.values)
            try Validation.requireFinite("gradOutput", gradOutput)
        }
        let rows = anchors.rows, dimension = anchors.columns
        let loss = MetricLoss.Triplet(margin: margin, norm: p == 1 ? .l1 : .l2, eps: eps, swap: swap)
        let rowScale = MetricLoss.rowScales(rows: rows, reduction: reduction, gradOutput: gradOutput)
        var gradAnchors = Matrix(rows: rows, columns: dimension, repeating: 0)
        var gradPositives = Matrix(rows: rows, columns: dimension, repeating: 0)
        var gradNegatives = Matrix(rows: rows, columns: dimension, repeating: 0)
        let (losses, backend) = try anchors.values.withUnsafeBufferPointer { a in
            try positives.values.withUnsafeBufferPointer { pos in
                try negatives.values.withUnsafeBufferPointer { neg in
                    try gradAnchors.values.withUnsafeMutableBufferPointer { ga in
                        try gradPositives.values.withUnsafeMutableBufferPointer { gp in
                            try gradNegatives.values.withUnsafeMutableBufferPointer { gn in
                                try scheduler.run(elements: 6 * anchors.count, cpu: {
                                    CPUMetricLosses.triplet(loss, anchors: a.baseAddress!, positives: pos.baseAddress!, negatives: neg.baseAddress!,
                                                            rows: rows, dimension: dimension, rowScale: rowScale, gradAnchors: ga.baseAddress!,
                                                            gradPositives: gp.baseAddress!, gradNegatives: gn.baseAddress!, threads: scheduler.threads)
                                }, opencl: { device in
                                    try OpenCLMetricLosses.triplet(device, loss, anchors: a, positives: pos, negatives: neg, rows: rows, dimension: dimension,
                                                                   rowScale: rowScale, gradAnchors: ga, gradPositives: gp, gradNegatives: gn)
                                })
                            }
                        }
                    }
                }
            }
        }
        return TripletLossOutput(loss: MetricLoss.reduce(losses, reduction: reduction), gradAnchors: gradAnchors, gradPositives: gradPositives,
                                 gradNegatives: gradNegatives, backend: backend)
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
        try Validation.requireNonEmpty("features", rows: features.rows, columns: features.columns)
        guard centers.rows > 0 else {
            throw LossKernelsError.shapeMismatch(tensor: "centers", expected: "at least one class (row)", actual: Validation.shape(centers.rows, centers.columns))
        }
        guard centers.columns == features.columns else {
            throw LossKernelsError.shapeMismatch(tensor: "centers", expected: "[\(centers.rows), \(features.columns)] (the width of features)",
                                                 actual: Validation.shape(centers.rows, centers.columns))
        }
        try Validation.requireLabels(labels, rows: features.rows, classes: centers.rows)
        try Validation.requireOption("alpha", alpha, in: 0...1)
        if checkFinite {
            try Validation.requireFinite("features", features.values)
            try Validation.requireFinite("centers", centers.values)
        }
        let rows = features.rows, classes = centers.rows, dimension = features.columns
        let loss = MetricLoss.Center(alpha: alpha)
        let classRows = MetricLoss.Center.classRows(labels: labels, classes: classes)
        var gradFeatures = Matrix(rows: rows, columns: dimension, repeating: 0)
        var updatedCenters = Matrix(rows: classes, columns: dimension, repeating: 0)
        let (losses, backend) = try features.values.withUnsafeBufferPointer { x in
            try centers.values.withUnsafeBufferPointer { c in
                try gradFeatures.values.withUnsafeMutableBufferPointer { gx in
                    try updatedCenters.values.withUnsafeMutableBufferPointer { updated in
                        try scheduler.run(elements: 2 * features.count + 2 * centers.count, cpu: {
                            CPUMetricLosses.center(loss, features: x.baseAddress!, labels: labels, centers: c.baseAddress!, rows: rows, classes: classes,
                                                   dimension: dimension, classRows: classRows, gradFeatures: gx.baseAddress!,
                                                   updatedCenters: updated.baseAddress!, threads: scheduler.threads)
                        }, opencl: { device in
                            try OpenCLMetricLosses.center(device, loss, features: x, labels: labels, centers: c, rows: rows, classes: classes,
                                                          dimension: dimension, classRows: classRows, gradFeatures: gx, updatedCenters: updated)
                        })
                    }
                }
            }
        }
        return CenterLossOutput(loss: MetricLoss.Center.loss(rowSquaredDistances: losses), gradFeatures: gradFeatures,
                                updatedCenters: updatedCenters, backend: backend)
    }
}
