import Foundation
import _CMicrokernels

/// Pair, triplet and center losses on embeddings (docs/OPERATIONS.md, "Pair, triplet and center
/// losses"): the per-row maths, in double, that the CPU path calls and that the kernels of
/// Kernels/metric_loss.cl restate in float; the reduction rules both paths share. Shapes: `B` rows
/// (pairs, triplets, features), `D` embedding width, `C` classes (rows of the centers).
enum MetricLoss {
    /// The factor row `i`'s gradient is multiplied by: `1/B` for mean, 1 for sum, the row's
    /// upstream value (default 1) for none (`LossReduction.gradientScales`, in float).
    static func rowScales(rows: Int, reduction: LossReduction, gradOutput: [Float]?) -> [Float] {
        reduction.gradientScales(count: rows, meanDenominator: Double(rows), gradOutput: gradOutput).map { Float($0) }
    }

    /// Contrastive loss (Hadsell, Chopra, LeCun 2006 / Caffe) of a pair `a, b` with `d = ‖a − b‖₂`:
    ///
    ///     loss = ½·[s·d² + (1 − s)·max(margin − d, 0)²]
    ///     ∂loss/∂a = s·(a − b) − (1 − s)·[d < margin]·(margin − d)/d·(a − b) = −∂loss/∂b
    ///
    /// The dissimilar hinge has no direction at `d = 0`: its gradient there is 0.
    struct Contrastive: Sendable {
        /// `margin ≥ 0`.
        let margin: Float

        /// The loss of one pair and `k` with `∂loss/∂a = k·(a − b)`, from `d²`. NaN propagates.
        func row(squaredDistance d2: Double, similar: Bool) -> (loss: Double, coefficient: Double) {
            if similar { return (0.5 * d2, 1) }
            let d = d2.squareRoot(), m = Double(margin)
            if d >= m { return (0, 0) }
            let gap = m - d
            return (0.5 * gap * gap, d == 0 ? 0 : -gap / d)
        }
    }

    /// Triplet margin loss (FaceNet; PyTorch `TripletMarginLoss`) of `a, p, n` with
    /// `d(x, y) = ‖x − y + eps‖_p` (eps added to every component, as `pairwise_distance`):
    ///
    ///     loss = max(d(a,p) − d⁻ + margin, 0),   d⁻ = d(a,n), or with swap min(d(a,n), d(p,n))
    ///
    /// With swap, when `d(p,n) < d(a,n)` the negative term is `d(p,n)` and its gradient flows to
    /// the positive and the negative instead of the anchor. `∂‖v‖₂/∂v = v/‖v‖₂` (0 at `‖v‖ = 0`),
    /// `∂‖v‖₁/∂v = sign(v)` (0 at 0). A row whose loss is 0 (hinge inactive or exactly at the
    /// boundary) has a zero gradient.
    struct Triplet: Sendable {
        /// The norm of the distance.
        enum Norm: Sendable {
            case l1, l2

            /// The kernels' `norm` argument (`lk_distance_norm`, lk_codes.h).
            var code: Int32 { Int32((self == .l1 ? LK_NORM_L1 : LK_NORM_L2).rawValue) }
        }

        /// Any finite margin.
        let margin: Float
        let norm: Norm
        /// `eps ≥ 0`, added to every component of `x − y`.
        let eps: Float
        let swap: Bool

        /// The distance from `Σ|v|` (l1) or `Σv²` (l2).
        func distance(fromSum sum: Double) -> Double {
            norm == .l1 ? sum : sum.squareRoot()
        }

        /// The factor turning the direction `v` (l2) or `sign(v)` (l1) into `∂d/∂v`: `1/d` for l2
        /// (0 at `d = 0`), 1 for l1.
        func directionScale(distance d: Double) -> Double {
            norm == .l1 ? 1 : (d == 0 ? 0 : 1 / d)
        }

        /// One triplet from its distances (`positiveNegative` is read only with swap): the loss,
        /// whether the hinge is active (NaN counts as active, so it propagates), and whether the
        /// negative term is `d(p,n)`.
        func row(anchorPositive dap: Double, anchorNegative dan: Double, positiveNegative dpn: Double) -> (loss: Double, active: Bool, swapped: Bool) {
            let swapped = swap && dpn < dan
            let raw = dap - (swapped ? dpn : dan) + Double(margin)
            let active = !(raw <= 0)
            return (active ? raw : 0, active, swapped)
        }
    }

    /// Center loss (Wen et al. 2016) of features `x_i` (`B×D`) with labels `y_i` and centers `c_j`
    /// (`C×D`):
    ///
    ///     L = (1/(2B))·Σ_i ‖x_i − c_{y_i}‖²,   ∂L/∂x_i = (x_i − c_{y_i})/B
    ///     c_j ← c_j − α·Σ_{i: y_i = j}(c_j − x_i)/(1 + n_j)
    ///
    /// `n_j` the count of class `j` in the batch; classes absent from the batch keep their center.
    struct Center: Sendable {
        /// `α` in [0, 1].
        let alpha: Float

        /// The loss from the per-row `‖x_i − c_{y_i}‖²`, summed in row order in double.
        static func loss(rowSquaredDistances: [Double]) -> Float {
            Float(rowSquaredDistances.reduce(0, +) / (2 * Double(rowSquaredDistances.count)))
        }

        /// The rows of each class in batch order, as offsets (`C + 1`) into a list of row indices
        /// (`B`): class `j`'s rows are `rows[offsets[j] ..< offsets[j + 1]]`, ascending.
        static func classRows(labels: [Int], classes: Int) -> (offsets: [Int], rows: [Int]) {
            var offsets = [Int](repeating: 0, count: classes + 1)
            for label in labels { offsets[label + 1] += 1 }
            for j in 0..<classes { offsets[j + 1] += offsets[j] }
            var next = Array(offsets[0..<classes])
            var rows = [Int](repeating: 0, count: labels.count)
            for (i, label) in labels.enumerated() {
                rows[next[label]] = i
                next[label] += 1
            }
            return (offsets, rows)
        }
    }
}
