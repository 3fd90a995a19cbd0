import Foundation

/// In-batch triplet mining strategy.
///
/// Both strategies take the embeddings `E` (`B×D`) and their labels, the Euclidean distances
/// `D_ij = ‖e_i − e_j‖₂` and a `margin`. A valid triplet `(a, p, n)` has `a ≠ p`,
/// `label(p) = label(a)` and `label(n) ≠ label(a)`; its loss is `max(D_ap − D_an + margin, 0)`.
/// The raw values are the names a command line uses (`all`, `hard`).
public enum TripletMining: String, Sendable, CaseIterable, Equatable {
    /// Every valid (anchor, positive, negative), averaged over those with positive loss (0 if none).
    ///
    /// `L = (1/N)·Σ_{(a,p,n) valid, v > 0} v` with `v = D_ap − D_an + margin` and `N` the number
    /// of such triplets; `L = 0` (and a zero gradient) when `N = 0`.
    case batchAll = "all"
    /// Per anchor the farthest positive and the nearest negative, mean over anchors that have both.
    ///
    /// For each anchor `a` with at least one positive and one negative:
    /// `p* = argmax_p D_ap`, `n* = argmin_n D_an` (ties: the lowest index),
    /// `loss_a = max(D_ap* − D_an* + margin, 0)`; `L = (1/M)·Σ_a loss_a` over the `M` such anchors
    /// (`L = 0` when `M = 0`).
    case batchHard = "hard"
}

/// One validated call of the mined triplet loss, shared by the CPU and OpenCL paths.
///
/// The maths (docs/OPERATIONS.md, "Pair, triplet and center losses"):
///
/// 1. Distances from one matrix product. `E'` is `E` with a per-column shift near its mean removed
///    (distances and the gradient do not change; the norms shrink, so less cancellation below; see
///    `shifts`). `n_i = ‖e'_i‖²`, `G = E'·E'ᵀ` (GEMM), `D_ij = sqrt(n_i + n_j − 2G_ij)`. Exactly
///    equal rows share a
///    representative (the first of them): `D_ij` is read through the representatives
///    `(lo, hi) = (min, max)(rep_i, rep_j)`, so `D` is exactly symmetric, `D_ii = 0`, duplicated
///    embeddings are exactly 0 apart and tie exactly. Where `n_lo + n_hi − 2G < (n_lo + n_hi)/64`
///    (close points, where the subtraction cancels) the distance is recomputed from the explicit
///    differences.
/// 2. Mining gives `K_ij = N·∂L/∂D_ij`, integer counts; row `a` holds only the triplets anchored at
///    `a` (`K_ap` = number of negatives with positive loss for that positive, `K_an` = minus the
///    number of positives with positive loss for that negative), so anchors are independent and
///    the result does not depend on how they are split over threads or work-items. Per anchor: the
///    loss sum and the count (batchAll: triplets with positive loss; batchHard: 1 when the anchor
///    has a positive and a negative). Sums over anchors run in anchor order.
/// 3. Gradient: `∂L/∂e_i = Σ_j (K_ij + K_ji)/N·(e_i − e_j)/D_ij` (0 where `D_ij = 0`), computed as
///    `S = ((K + Kᵀ)/N) ⊘ D`, `∂L/∂E = diag(S·1)·E' − S·E'` with `S·E'` by GEMM.
struct TripletMiningProblem: Sendable {
    /// `B`.
    let rows: Int
    /// `D`.
    let dimension: Int
    let labels: [Int]
    let mining: TripletMining
    let margin: Float
    /// `E'`: `E` minus the per-column `shifts`, `B×D` row-major.
    let centered: [Float]
    /// `representative[i]`: the lowest row index whose embedding equals row `i` value for value.
    let representative: [Int]

    /// Below `cancellationRatio·(n_i + n_j)` the squared distance from the GEMM has lost too many
    /// digits (a float32 GEMM error of about `ε·(n_i + n_j)·c` against a value 64× larger keeps a
    /// relative error near `64·c·ε`), and the distance is recomputed from the explicit differences.
    static let cancellationRatio: Float = 1.0 / 64

    init(embeddings e: UnsafeBufferPointer<Float>, rows b: Int, dimension d: Int, labels: [Int], mining: TripletMining, margin: Float) {
        rows = b
        dimension = d
        self.labels = labels
        self.mining = mining
        self.margin = margin
        representative = Self.representatives(e, rows: b, dimension: d)
        let shift = Self.shifts(e, rows: b, dimension: d)
        var centered = [Float](repeating: 0, count: b * d)
        for i in 0..<b {
            for k in 0..<d { centered[i * d + k] = e[i * d + k] - shift[k] }
        }
        self.centered = centered
    }

    /// Work for the scheduler: the two `B×B×D` products, plus `B³` (batchAll) or `B²` (batchHard)
    /// for mining.
    var work: Int {
        let b = Double(rows), d = Double(dimension)
        let total = 4 * b * b * d + (mining == .batchAll ? b * b * b : b * b)
        return total >= Double(Int.max / 2) ? Int.max / 2 : Int(total)
    }

    /// Per column, the mean rounded to a multiple of `2^q`, `2^q ≤` the column's largest distance
    /// from its mean (a constant column: its value). Integer or other coarse-grained data stay
    /// exact after the shift, so the Gram matrix is exact and equal distances tie exactly.
    static func shifts(_ e: UnsafeBufferPointer<Float>, rows b: Int, dimension d: Int) -> [Float] {
        var mean = [Double](repeating: 0, count: d), spread = [Double](repeating: 0, count: d)
        for i in 0..<b {
            for k in 0..<d { mean[k] += Double(e[i * d + k]) }
        }
        for k in 0..<d { mean[k] /= Double(b) }
        for i in 0..<b {
            for k in 0..<d { spread[k] = max(spread[k], abs(Double(e[i * d + k]) - mean[k])) }
        }
        return (0..<d).map { k in
            guard spread[k] > 0 else { return e[k] }
            let grid = Foundation.exp2(Foundation.floor(Foundation.log2(spread[k])))
            return Float((mean[k] / grid).rounded() * grid)
        }
    }

    /// The first row equal to each row (`==` on every value, so `-0` equals `0`), found by hashing.
    static func representatives(_ e: UnsafeBufferPointer<Float>, rows b: Int, dimension d: Int) -> [Int] {
        var representative = Array(0..<b)
        var byHash: [UInt64: [Int]] = [:]
        for i in 0..<b {
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for k in 0..<d {
                hash = (hash ^ UInt64((e[i * d + k] + 0).bitPattern)) &* 0x0000_0100_0000_01B3
            }
            if let match = byHash[hash]?.first(where: { j in (0..<d).allSatisfy { e[j * d + $0] == e[i * d + $0] } }) {
                representative[i] = match
            } else {
                byHash[hash, default: []].append(i)
            }
        }
        return representative
    }

    /// The loss and the count from the per-anchor loss sums and counts (summed in anchor order),
    /// and the factor `1/N` of `K` (0 when `N = 0`).
    func finish(anchorLosses: [Double], anchorCounts: [Int]) -> (loss: Float, count: Int, kScale: Float) {
        let count = anchorCounts.reduce(0, +)
        guard count > 0 else { return (0, 0, 0) }
        let sum = anchorLosses.reduce(0, +)
        return (Float(sum / Double(count)), count, Float(1 / Double(count)))
    }
}

/// What a backend returns for a mined triplet loss (the gradient is written into the caller's buffer).
struct TripletMiningResult: Sendable, Equatable {
    var loss: Float
    var tripletCount: Int
}
