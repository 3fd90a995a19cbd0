import Foundation
import LossKernels

/// The float64 reference of the pair, triplet and center losses and of the mined triplet loss,
/// written from docs/OPERATIONS.md ("Conventions", "Pair, triplet and center losses") — never
/// from the kernels. Matrices are row-major `[Double]`; inputs a backend sees as float32 are widened
/// exactly (`MetricReference.widen`), then every computation is done in Double. Distances are
/// computed from explicit differences (no Gram matrix).
///
/// Gradients are analytic; `MetricReferenceTests` checks each against central differences.
package enum MetricReference {
    package static func widen(_ x: [Float]) -> [Double] { x.map(Double.init) }

    // MARK: Reductions shared by the pair and triplet losses

    /// The factor each row's gradient is scaled by: `1/B` (mean), 1 (sum), the upstream value or 1 (none).
    package static func rowScales(rows: Int, reduction: LossReduction, gradOutput: [Double]?) -> [Double] {
        switch reduction {
        case .mean: return [Double](repeating: 1 / Double(rows), count: rows)
        case .sum: return [Double](repeating: 1, count: rows)
        case .none: return gradOutput ?? [Double](repeating: 1, count: rows)
        }
    }

    /// The reduced loss: one value (mean, sum) or the per-row losses (none).
    package static func reduce(_ losses: [Double], _ reduction: LossReduction) -> [Double] {
        switch reduction {
        case .mean: return [losses.reduce(0, +) / Double(losses.count)]
        case .sum: return [losses.reduce(0, +)]
        case .none: return losses
        }
    }

    /// `Σ_k (x_k)²` of `x[start ..< start + count]` minus `y[...]` — the squared Euclidean distance
    /// of two rows by explicit differences.
    package static func squaredDistance(_ x: [Double], _ i: Int, _ y: [Double], _ j: Int, dimension: Int) -> Double {
        var s = 0.0
        for k in 0..<dimension {
            let v = x[i * dimension + k] - y[j * dimension + k]
            s += v * v
        }
        return s
    }

    // MARK: Contrastive

    package struct Pair {
        /// Per-pair losses (before reduction).
        package var losses: [Double]
        /// The reduced loss (1 value, or `B` for none).
        package var loss: [Double]
        package var gradLeft: [Double]
        package var gradRight: [Double]
        /// Smallest `|d − margin|` over the dissimilar pairs (distance to the hinge's kink), and
        /// smallest `d` over the dissimilar pairs with `d < margin` (the `1/d` singularity).
        package var kinkGap: Double
        package var smallestActiveDistance: Double
    }

    /// `loss_i = ½·[s·d² + (1 − s)·max(margin − d, 0)²]`, `d = ‖a − b‖₂`;
    /// `∂loss_i/∂a = s·(a − b) − (1 − s)·[d < margin]·(margin − d)·(a − b)/d` (0 at `d = 0`),
    /// `∂/∂b = −∂/∂a`; row `i`'s gradient scaled by the reduction's row factor.
    package static func contrastive(
        left a: [Double], right b: [Double], similar: [Bool], rows: Int, dimension: Int, margin: Double,
        reduction: LossReduction = .mean, gradOutput: [Double]? = nil
    ) -> Pair {
        precondition(a.count == rows * dimension && b.count == rows * dimension && similar.count == rows)
        let scale = rowScales(rows: rows, reduction: reduction, gradOutput: gradOutput)
        var losses = [Double](repeating: 0, count: rows)
        var ga = [Double](repeating: 0, count: a.count), gb = ga
        var kinkGap = Double.infinity, smallest = Double.infinity
        for i in 0..<rows {
            let d = squaredDistance(a, i, b, i, dimension: dimension).squareRoot()
            // ∂loss_i/∂a = coefficient·(a − b)
            let coefficient: Double
            if similar[i] {
                losses[i] = 0.5 * d * d
                coefficient = 1
            } else {
                kinkGap = min(kinkGap, abs(d - margin))
                let gap = max(margin - d, 0)
                losses[i] = 0.5 * gap * gap
                if gap > 0 { smallest = min(smallest, d) }
                coefficient = (gap > 0 && d > 0) ? -gap / d : 0
            }
            for k in 0..<dimension {
                let idx = i * dimension + k
                let g = scale[i] * coefficient * (a[idx] - b[idx])
                ga[idx] = g
                gb[idx] = -g
            }
        }
        return Pair(losses: losses, loss: reduce(losses, reduction), gradLeft: ga, gradRight: gb, kinkGap: kinkGap, smallestActiveDistance: smallest)
    }

    // MARK: Triplet margin loss

    package struct Triplet {
        package var losses: [Double]
        package var loss: [Double]
        package var gradAnchors: [Double]
        package var gradPositives: [Double]
        package var gradNegatives: [Double]
        /// Smallest `|d(a,p) − d⁻ + margin|` (distance to the hinge's kink).
        package var kinkGap: Double
        /// With swap: smallest `|d(a,n) − d(p,n)|` (where `min` switches); ∞ without swap.
        package var swapGap: Double
        /// Smallest non-zero `|v_k|` over the components of the difference vectors of active rows
        /// (the kink of the 1-norm; an exact 0 has sign 0 in any precision).
        package var smallestComponent: Double
        /// Rows whose negative term is `d(p,n)`.
        package var swappedRows: Int
        package var activeRows: Int
    }

    /// `d(x,y) = ‖x − y + eps‖_p` of rows `i` and its derivative `∂d/∂x` (`= −∂d/∂y`):
    /// p = 2: `v/‖v‖` (0 at `‖v‖ = 0`); p = 1: `sign(v)` (0 at 0).
    package static func tripletDistance(_ x: [Double], _ y: [Double], row i: Int, dimension: Int, p: Int, eps: Double) -> (
        distance: Double, gradient: [Double], smallestComponent: Double
    ) {
        var v = [Double](repeating: 0, count: dimension)
        var smallest = Double.infinity
        for k in 0..<dimension {
            v[k] = x[i * dimension + k] - y[i * dimension + k] + eps
            if v[k] != 0 { smallest = min(smallest, abs(v[k])) }   // exact zeros: sign 0 either way
        }
        if p == 1 {
            let d = v.reduce(0) { $0 + abs($1) }
            return (d, v.map { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }, smallest)
        }
        let d = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return (d, d == 0 ? [Double](repeating: 0, count: dimension) : v.map { $0 / d }, smallest)
    }

    /// `loss_i = max(d(a,p) − d⁻ + margin, 0)`, `d⁻ = d(a,n)`, or with swap `min(d(a,n), d(p,n))`
    /// (`d(p,n)` when strictly smaller). Rows with loss 0 have zero gradient.
    package static func triplet(
        anchors a: [Double], positives pos: [Double], negatives neg: [Double], rows: Int, dimension: Int,
        margin: Double, p: Int, eps: Double, swap: Bool,
        reduction: LossReduction = .mean, gradOutput: [Double]? = nil
    ) -> Triplet {
        precondition(a.count == rows * dimension && pos.count == a.count && neg.count == a.count && (p == 1 || p == 2))
        let scale = rowScales(rows: rows, reduction: reduction, gradOutput: gradOutput)
        var out = Triplet(
            losses: [Double](repeating: 0, count: rows), loss: [],
            gradAnchors: [Double](repeating: 0, count: a.count), gradPositives: [Double](repeating: 0, count: a.count),
            gradNegatives: [Double](repeating: 0, count: a.count), kinkGap: .infinity, swapGap: .infinity,
            smallestComponent: .infinity, swappedRows: 0, activeRows: 0)
        for i in 0..<rows {
            let ap = tripletDistance(a, pos, row: i, dimension: dimension, p: p, eps: eps)
            let an = tripletDistance(a, neg, row: i, dimension: dimension, p: p, eps: eps)
            let pn = tripletDistance(pos, neg, row: i, dimension: dimension, p: p, eps: eps)
            var swapped = false
            if swap {
                out.swapGap = min(out.swapGap, abs(an.distance - pn.distance))
                swapped = pn.distance < an.distance
            }
            let raw = ap.distance - (swapped ? pn.distance : an.distance) + margin
            out.kinkGap = min(out.kinkGap, abs(raw))
            guard raw > 0 else { continue }
            out.activeRows += 1
            if swapped { out.swappedRows += 1 }
            out.losses[i] = raw
            out.smallestComponent = min(out.smallestComponent, ap.smallestComponent, swapped ? pn.smallestComponent : an.smallestComponent)
            let s = scale[i]
            for k in 0..<dimension {
                let idx = i * dimension + k
                // + d(a,p): ∂/∂a = g_ap, ∂/∂p = −g_ap
                out.gradAnchors[idx] += s * ap.gradient[k]
                out.gradPositives[idx] -= s * ap.gradient[k]
                if swapped {
                    // − d(p,n): ∂/∂p = −g_pn, ∂/∂n = +g_pn
                    out.gradPositives[idx] -= s * pn.gradient[k]
                    out.gradNegatives[idx] += s * pn.gradient[k]
                } else {
                    // − d(a,n): ∂/∂a = −g_an, ∂/∂n = +g_an
                    out.gradAnchors[idx] -= s * an.gradient[k]
                    out.gradNegatives[idx] += s * an.gradient[k]
                }
            }
        }
        out.loss = reduce(out.losses, reduction)
        return out
    }

    // MARK: Center loss

    package struct Center {
        package var loss: Double
        package var gradFeatures: [Double]
        package var updatedCenters: [Double]
    }

    /// `L = (1/(2B))·Σ_i ‖x_i − c_{y_i}‖²`, `∂L/∂x_i = (x_i − c_{y_i})/B`,
    /// `c_j ← c_j − α·Σ_{i: y_i = j}(c_j − x_i)/(1 + n_j)` (absent classes unchanged).
    package static func center(features x: [Double], labels: [Int], centers c: [Double], rows: Int, classes: Int, dimension: Int, alpha: Double) -> Center {
        precondition(x.count == rows * dimension && c.count == classes * dimension && labels.count == rows)
        var loss = 0.0
        var grad = [Double](repeating: 0, count: x.count)
        var sums = [Double](repeating: 0, count: c.count)   // Σ_{i: y_i = j}(c_j − x_i)
        var counts = [Int](repeating: 0, count: classes)
        let b = Double(rows)
        for i in 0..<rows {
            let j = labels[i]
            counts[j] += 1
            for k in 0..<dimension {
                let diff = x[i * dimension + k] - c[j * dimension + k]
                loss += diff * diff
                grad[i * dimension + k] = diff / b
                sums[j * dimension + k] -= diff
            }
        }
        var updated = c
        for j in 0..<classes where counts[j] > 0 {
            for k in 0..<dimension {
                updated[j * dimension + k] = c[j * dimension + k] - alpha * sums[j * dimension + k] / Double(1 + counts[j])
            }
        }
        return Center(loss: loss / (2 * b), gradFeatures: grad, updatedCenters: updated)
    }

    // MARK: Triplet loss with in-batch mining

    package struct Mined {
        package var loss: Double
        package var gradient: [Double]
        /// batchAll: valid triplets with positive loss; batchHard: anchors with a positive and a negative.
        package var tripletCount: Int
        /// batchAll: how many valid triplets have `|D_ap − D_an + margin| ≤ countTolerance` (they may
        /// be counted either way by a float32 computation), so the count lies in
        /// `tripletCount − ambiguousTriplets ... tripletCount + ambiguousTriplets`.
        package var ambiguousTriplets: Int
        /// batchHard: anchors whose choice of positive or negative is within the distance error of a
        /// float32 Gram-matrix computation of another candidate (a near tie that is not an exact
        /// tie), or whose hinge value is that close to 0.
        package var ambiguousAnchors: Int
    }

    /// `D_ij = ‖e_i − e_j‖₂` by explicit differences.
    package static func distances(_ e: [Double], rows: Int, dimension: Int) -> [Double] {
        var d = [Double](repeating: 0, count: rows * rows)
        e.withUnsafeBufferPointer { e in
            d.withUnsafeMutableBufferPointer { d in
                for i in 0..<rows {
                    for j in 0..<i {
                        var s = 0.0
                        for k in 0..<dimension {
                            let v = e[i * dimension + k] - e[j * dimension + k]
                            s += v * v
                        }
                        d[i * rows + j] = s.squareRoot()
                        d[j * rows + i] = d[i * rows + j]
                    }
                }
            }
        }
        return d
    }

    /// Valid triplets `(a, p, n)`: `a ≠ p`, `labels[p] = labels[a]`, `labels[n] ≠ labels[a]`.
    /// batchAll: `L = (1/N)·Σ max(D_ap − D_an + margin, 0)` over the `N` valid triplets with a
    /// positive value (0 and a zero gradient when none). batchHard: per anchor with a positive and
    /// a negative, `p* = argmax D_ap`, `n* = argmin D_an` (ties: lowest index),
    /// `L = (1/M)·Σ_a max(D_ap* − D_an* + margin, 0)` over those `M` anchors.
    /// `∂D_ij/∂e_i = (e_i − e_j)/D_ij = −∂D_ij/∂e_j` (0 at `D_ij = 0`).
    ///
    /// `countTolerance`: the half-width of the band around the hinge's kink (batchAll) and, scaled
    /// by the squared norms, of the near-tie test (batchHard) used for the `ambiguous…` counts.
    package static func mined(
        embeddings e: [Double], labels: [Int], rows: Int, dimension: Int, mining: TripletMining, margin: Double,
        countTolerance: Double = 1e-4
    ) -> Mined {
        precondition(e.count == rows * dimension && labels.count == rows)
        let dist = distances(e, rows: rows, dimension: dimension)
        var norms2 = [Double](repeating: 0, count: rows)
        for i in 0..<rows { for k in 0..<dimension { norms2[i] += e[i * dimension + k] * e[i * dimension + k] } }
        // Accumulated ∂L/∂D_ij (before the 1/N or 1/M factor).
        var dL = [Double](repeating: 0, count: rows * rows)
        var total = 0.0, count = 0, ambiguousTriplets = 0, ambiguousAnchors = 0, anchors = 0
        switch mining {
        case .batchAll:
            dist.withUnsafeBufferPointer { dist in
                dL.withUnsafeMutableBufferPointer { dL in
                    for a in 0..<rows {
                        for p in 0..<rows where p != a && labels[p] == labels[a] {
                            let dap = dist[a * rows + p]
                            for n in 0..<rows where labels[n] != labels[a] {
                                let v = dap - dist[a * rows + n] + margin
                                if abs(v) <= countTolerance { ambiguousTriplets += 1 }
                                guard v > 0 else { continue }
                                total += v
                                count += 1
                                dL[a * rows + p] += 1
                                dL[a * rows + n] -= 1
                            }
                        }
                    }
                }
            }
        case .batchHard:
            for a in 0..<rows {
                var far: Int?, near: Int?
                for j in 0..<rows where j != a {
                    if labels[j] == labels[a] {
                        if far == nil || dist[a * rows + j] > dist[a * rows + far!] { far = j }
                    } else {
                        if near == nil || dist[a * rows + j] < dist[a * rows + near!] { near = j }
                    }
                }
                guard let p = far, let n = near else { continue }
                anchors += 1
                // Near ties: another candidate whose squared distance is within the Gram-matrix
                // error band of the chosen one but not exactly equal.
                let band = { (x: Int, y: Int) -> Double in countTolerance * (norms2[a] + norms2[x] + norms2[y]) * 0.1 }
                var ambiguous = false
                for j in 0..<rows where j != a {
                    if labels[j] == labels[a], j != p {
                        let gap = abs(dist[a * rows + j] * dist[a * rows + j] - dist[a * rows + p] * dist[a * rows + p])
                        if gap != 0 && gap <= band(j, p) { ambiguous = true }
                    } else if labels[j] != labels[a], j != n {
                        let gap = abs(dist[a * rows + j] * dist[a * rows + j] - dist[a * rows + n] * dist[a * rows + n])
                        if gap != 0 && gap <= band(j, n) { ambiguous = true }
                    }
                }
                let v = dist[a * rows + p] - dist[a * rows + n] + margin
                if abs(v) <= countTolerance { ambiguous = true }
                if ambiguous { ambiguousAnchors += 1 }
                guard v > 0 else { continue }
                total += v
                dL[a * rows + p] += 1
                dL[a * rows + n] -= 1
            }
            count = anchors
        }
        var grad = [Double](repeating: 0, count: e.count)
        guard count > 0 else {
            return Mined(loss: 0, gradient: grad, tripletCount: 0, ambiguousTriplets: ambiguousTriplets, ambiguousAnchors: ambiguousAnchors)
        }
        let scale = 1 / Double(count)
        for i in 0..<rows {
            for j in 0..<rows where dL[i * rows + j] != 0 && dist[i * rows + j] > 0 {
                let w = scale * dL[i * rows + j] / dist[i * rows + j]
                for k in 0..<dimension {
                    let u = w * (e[i * dimension + k] - e[j * dimension + k])
                    grad[i * dimension + k] += u
                    grad[j * dimension + k] -= u
                }
            }
        }
        return Mined(loss: total * scale, gradient: grad, tripletCount: count, ambiguousTriplets: ambiguousTriplets, ambiguousAnchors: ambiguousAnchors)
    }
}
