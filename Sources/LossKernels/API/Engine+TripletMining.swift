/// Triplet loss with in-batch mining (docs/OPERATIONS.md, "Mined triplet loss"):
/// one call gives the loss, ∂L/∂embeddings and the number of mined triplets or anchors.
extension Engine {
    /// The loss and gradient of a mined triplet loss.
    public struct MinedTripletOutput: Sendable, Equatable {
        /// The mean loss `L` (see `TripletMining`); 0 when nothing was mined.
        public var loss: Float
        /// ∂L/∂embeddings, `B×D`: `∂L/∂e_i = Σ_j (∂L/∂D_ij + ∂L/∂D_ji)·(e_i − e_j)/D_ij`, the term
        /// taken as 0 where `D_ij = 0`; all zero when nothing was mined.
        public var gradEmbeddings: Matrix   // B×D
        /// batchAll: triplets with positive loss; batchHard: anchors that have a positive and a negative.
        public var tripletCount: Int
        /// The backend that computed it.
        public var backend: Backend
    }

    /// Triplet loss with in-batch mining over `embeddings` (B×D) and `labels` (B), Euclidean distance, `margin` (default 1).
    ///
    /// With `D_ij = ‖e_i − e_j‖₂` (from `G = E·Eᵀ`: `D_ij = sqrt(max(‖e_i‖² + ‖e_j‖² − 2G_ij, 0))`,
    /// `D_ii = 0`) and valid triplets `(a, p, n)`: `a ≠ p`, `labels[p] = labels[a]`,
    /// `labels[n] ≠ labels[a]`:
    /// - `.batchAll`: `L = (1/N)·Σ max(D_ap − D_an + margin, 0)` over the `N` valid triplets whose
    ///   value is positive; `tripletCount = N`.
    /// - `.batchHard`: per anchor with a positive and a negative, the farthest positive and the
    ///   nearest negative (ties: lowest index), `loss_a = max(D_ap − D_an + margin, 0)`;
    ///   `L = (1/M)·Σ_a loss_a` over those `M` anchors; `tripletCount = M`.
    ///
    /// `L = 0` with a zero gradient when `N` (or `M`) is 0, e.g. a batch of one class. Results do
    /// not depend on the thread count.
    ///
    /// - Parameters:
    ///   - embeddings: `E`, `B×D`, finite.
    ///   - labels: `B` labels, each `>= 0` (any number of classes).
    ///   - mining: `.batchAll` or `.batchHard`.
    ///   - margin: finite (default 1).
    /// - Throws: `.shapeMismatch` when `B = 0`, `D = 0` or `labels.count ≠ B`; `.invalidValue` for a
    ///   negative label or a non-finite embedding value (its flat index); `.invalidOption` for a
    ///   non-finite margin.
    public func minedTripletLoss(embeddings: Matrix, labels: [Int], mining: TripletMining, margin: Float = 1) throws -> MinedTripletOutput {
        let gradient = OutputArray(count: embeddings.count)
        let outcome = try withHostBuffers([embeddings.values], [gradient]) { e, g in
            try run(
                TripletMiningOperation(
                    embeddings: e[0], rows: embeddings.rows, dimension: embeddings.columns, labels: labels, mining: mining,
                    margin: margin, gradient: g[0]))
        }
        return MinedTripletOutput(
            loss: outcome.result.loss, gradEmbeddings: gradient.matrix(rows: embeddings.rows, columns: embeddings.columns),
            tripletCount: outcome.result.tripletCount, backend: outcome.backend)
    }
}
